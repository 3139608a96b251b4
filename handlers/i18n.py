"""Staff and manager UI wording: Chinese first, English available (?lang=en)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

MESSAGES: dict[str, dict[str, str]] = {
    "app_name": {"zh": "回访机器人", "en": "Follow-up bot"},
    "simulator": {"zh": "患者手机模拟器", "en": "Patient phone simulator"},
    "staff_queue": {"zh": "待处理队列", "en": "Escalation queue"},
    "tallies": {"zh": "满意度统计", "en": "Satisfaction tallies"},
    "pick_contact": {"zh": "选择一位联系人，以其身份回复",
                     "en": "Pick a contact and reply as them"},
    "no_contacts": {"zh": "还没有联系人。导入就诊记录后会出现在这里。",
                    "en": "No contacts yet. Import visits and they appear here."},
    "send": {"zh": "发送", "en": "Send"},
    "type_reply": {"zh": "输入回复，例如 5 或 2 护士态度不好",
                   "en": "Type a reply, e.g. 5 or 2 护士态度不好"},
    "bot": {"zh": "机器人", "en": "Bot"},
    "staff": {"zh": "工作人员", "en": "Staff"},
    "person": {"zh": "患者", "en": "Patient"},
    "wechat": {"zh": "微信事件", "en": "WeChat event"},
    "ch.simulator": {"zh": "模拟器", "en": "simulator"},
    "ch.wechat": {"zh": "微信", "en": "WeChat"},
    "ch.sms": {"zh": "短信", "en": "SMS"},
    "ch.h5": {"zh": "H5问卷页", "en": "H5 survey page"},
    "ch.voice": {"zh": "语音电话", "en": "voice call"},
    "ch.phone": {"zh": "人工电话", "en": "staff call"},
    "no_messages": {"zh": "还没有消息。回访到期后，机器人的消息会出现在这里。",
                    "en": "No messages yet. The bot's check-in appears here when it is due."},
    "kind": {"zh": "类型", "en": "Kind"},
    "priority": {"zh": "优先级", "en": "Priority"},
    "department": {"zh": "科室", "en": "Department"},
    "contact": {"zh": "联系人", "en": "Contact"},
    "phone": {"zh": "电话", "en": "Phone"},
    "reason": {"zh": "原因", "en": "Reason"},
    "opened_at": {"zh": "时间", "en": "Opened"},
    "status": {"zh": "状态", "en": "Status"},
    "history": {"zh": "对话记录", "en": "Conversation"},
    "queue_empty": {"zh": "队列为空。", "en": "The queue is empty."},
    "question": {"zh": "问题", "en": "Question"},
    "answers": {"zh": "回答数", "en": "Answers"},
    "mean": {"zh": "平均分", "en": "Mean"},
    "top_two": {"zh": "满意率(4-5分)", "en": "Top-two box (4–5)"},
    "too_few": {"zh": "少于5个回答时不显示平均分，以免以偏概全、暴露个人。",
                "en": "Means are hidden below 5 answers: too few to be fair, and they expose "
                      "individuals."},
    "no_answers": {"zh": "还没有评分。", "en": "No scores yet."},
    "open_escalations": {"zh": "待处理事项", "en": "Open escalations"},
    "kind.red_flag": {"zh": "临床警示", "en": "Red flag"},
    "kind.dispute": {"zh": "纠纷", "en": "Dispute"},
    "kind.complaint": {"zh": "投诉", "en": "Complaint"},
    "kind.low_score": {"zh": "低分", "en": "Low score"},
    "kind.question": {"zh": "咨询", "en": "Question"},
    "kind.deceased": {"zh": "患者去世", "en": "Deceased"},
    "kind.wrong_number": {"zh": "号码错误", "en": "Wrong number"},
    "kind.callback": {"zh": "回电请求", "en": "Call-back request"},
    "kind.other": {"zh": "其他", "en": "Other"},
    "priority.urgent": {"zh": "紧急", "en": "Urgent"},
    "priority.high": {"zh": "高", "en": "High"},
    "priority.normal": {"zh": "普通", "en": "Normal"},
    "status.open": {"zh": "待认领", "en": "Unassigned"},
    "status.claimed": {"zh": "处理中", "en": "Claimed"},
    "status.resolved": {"zh": "已解决", "en": "Resolved"},
    "language": {"zh": "English", "en": "中文"},
    "back": {"zh": "返回", "en": "Back"},
    "masked_note": {"zh": "姓名和电话已脱敏显示。", "en": "Names and phones are masked."},
}

LANGS = ("zh", "en")


def language(request: web.Request, default: str) -> str:
    """The page language: ?lang= wins, then the cookie, then the configured default."""
    lang = request.query.get("lang") or request.cookies.get("lang") or default
    return lang if lang in LANGS else default


def translator(lang: str):  # type: ignore[no-untyped-def]
    """A ``t(key)`` function for templates; unknown keys show as themselves."""

    def t(key: str) -> str:
        entry = MESSAGES.get(key)
        return entry.get(lang, entry["zh"]) if entry else key

    return t


def _merge_staff_messages() -> None:
    # The staff workspace keeps its wording in its own module to keep this one short.
    from handlers.calls_messages import CALLS_MESSAGES
    from handlers.staff_messages import STAFF_MESSAGES

    MESSAGES.update(STAFF_MESSAGES)
    MESSAGES.update(CALLS_MESSAGES)


_merge_staff_messages()


# Why the bot escalated, as the engine records it (English, stable) → what staff read.
REASONS: dict[str, dict[str, str]] = {
    "reported a worrying symptom": {"zh": "描述了令人担心的症状"},
    "reported the patient has died": {"zh": "告知患者已去世"},
    "says this is a wrong number": {"zh": "告知号码有误"},
    "complaint words in the reply": {"zh": "回复中有投诉内容"},
    "complaint after the survey ended": {"zh": "回访结束后提出投诉"},
    "question after the survey ended": {"zh": "回访结束后提出问题"},
    "asked a question during the survey": {"zh": "回访中提出问题"},
    "message outside a survey": {"zh": "回访之外发来的消息"},
    "pressed 0 in a follow-up call: wants a person to call back": {
        "zh": "回访电话中按0：希望工作人员回电"},
}


def question_titles(settings: Any) -> dict[str, str]:
    """Question id → what staff and managers read for it: score questions first (an
    escalation's reason names a scored question), then the rest; the first survey wins."""
    titles: dict[str, str] = {"comment": "补充意见"}
    questions = [q for survey in settings.surveys.values() for q in survey.questions]
    for q in sorted(questions, key=lambda q: q.kind != "score"):
        if q.id != "comment":
            titles.setdefault(q.id, q.label)
    return titles


def question_title(settings: Any, survey_id: str, question_id: str) -> str:
    """One answer's question as staff read it (its survey's title for it)."""
    survey = settings.surveys.get(survey_id)
    if survey is not None:
        for q in survey.questions:
            if q.id == question_id:
                return str(q.label)
    return question_titles(settings).get(question_id, question_id)


def reason_text(reason: str, lang: str, titles: dict[str, str] | None = None) -> str:
    """An escalation's reasons in the page language; "overall=2" reads "总体满意度 2分"."""
    titles = titles or {}
    parts = []
    for part in reason.split("; "):
        entry = REASONS.get(part)
        if entry is None and part.startswith("no usable answer after"):
            n = part.split("after ", 1)[1].split(" ", 1)[0]
            entry = {"zh": f"连续{n}次无法识别回复"}
        if entry is None and "=" in part:
            q, _, score = part.partition("=")
            title = titles.get(q, q)
            entry = {"zh": f"{title} {score}分", "en": f"{title}: {score}"}
        parts.append(entry.get(lang, part) if entry else part)
    return "；".join(parts) if lang == "zh" else "; ".join(parts)
