"""The H5 survey page at /s/{token}: tap 1-5, an optional comment, no JavaScript needed.

It feeds the same engine as chat replies. Each answer is stored as an inbound message on the
"h5" channel (provider id = token + question, so a re-submitted form changes nothing), pinned
to the link's conversation, and processed at once by ``dispatcher.process_contact_now`` under
the same per-contact lock and transaction as the background dispatcher. Records, escalations
and tallies are therefore the ones a chat reply makes, and the page shows the bot's answer
(thanks, or the "what to do now" advice after a red flag) in its response.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aiohttp import web

from bot import dispatcher
from bot.keys import RUNTIME
from bot.planner import engine_context
from bot.runtime import Runtime
from handlers.render import render
from handlers.validate import read_form, text_problem
from models import CheckIn, Conversation, ConversationStatus, Message, SurveyLink
from surveys import engine
from surveys.definition import QuestionDef, SurveyDef

MAX_COMMENT = 500
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass
class _Page:
    rt: Runtime
    link: SurveyLink
    checkin: CheckIn
    conv: Conversation
    survey: SurveyDef
    ctx: engine.Context


def _notice(request: web.Request, text_key: str, status: int = 200,
            texts: list[str] | None = None) -> web.Response:
    rt = request.app[RUNTIME]
    h5 = rt.settings.h5
    note = getattr(h5, text_key).format_map({"org_phone": rt.settings.org.phone,
                                              "org_name": rt.settings.org.name})
    resp = render(request, "h5_message.html", title=rt.settings.org.name, note=note,
                  texts=texts or [])
    resp.set_status(status)
    return resp


async def _open(request: web.Request) -> _Page | web.Response:
    """The link's page state, or a polite page saying why it cannot be used."""
    rt = request.app[RUNTIME]
    token = request.match_info["token"]
    # Tokens are URL-safe base64 (bot.links): anything else names no link.
    link = await SurveyLink.get_or_none(token=token) if _TOKEN.fullmatch(token) else None
    if link is None:
        return _notice(request, "not_found", 404)
    if link.used_at is not None:
        return _notice(request, "used")
    if link.expires_at <= rt.now():
        return _notice(request, "expired", 410)
    checkin = await CheckIn.get(id=link.checkin_id)
    conv = await Conversation.filter(checkin_id=checkin.id).order_by("-id").first()
    if (conv is None or conv.status != ConversationStatus.OPEN
            or conv.state.get("status") != engine.ASKING):
        return _notice(request, "closed")
    survey = rt.settings.surveys[conv.state.get("survey") or checkin.survey_id]
    ctx, _ = await engine_context(rt, checkin)
    return _Page(rt, link, checkin, conv, survey, ctx)


def _remaining(page: _Page) -> list[QuestionDef]:
    """Questions still to answer: from the current one on, those asked unconditionally."""
    idx = int(page.conv.state.get("index", 0))
    answered = page.conv.state.get("answers", {})
    return [q for i, q in enumerate(page.survey.questions)
            if i == idx or (i > idx and not q.ask_if and q.id not in answered)]


def _form(request: web.Request, page: _Page, *, values: dict[str, str] | None = None,
          error: str = "", said: list[str] | None = None, status: int = 200) -> web.Response:
    h5 = page.rt.settings.h5
    questions = [{
        "id": q.id, "kind": q.kind, "text": engine.render(q.text, page.ctx),
        "labels": {k: q.labels.get(k, "") for k in range(1, 6)},
    } for q in _remaining(page)]
    resp = render(
        request, "h5_survey.html", title=page.survey.title, h5=h5, error=error,
        intro=engine.render(page.survey.intro, page.ctx), questions=questions,
        values=values or {}, said=said or [], org_name=page.rt.settings.org.name,
        max_comment=MAX_COMMENT,
    )
    resp.set_status(status)
    return resp


async def show(request: web.Request) -> web.Response:
    """The survey form, or a polite note for a used, expired or unknown link."""
    page = await _open(request)
    if isinstance(page, web.Response):
        return page
    return _form(request, page)


async def _said(message_ids: list[int], drop_last_of: set[int]) -> list[str]:
    """The bot's answers to these inbound messages, in order (question prompts that were
    answered in the same submission left out)."""
    texts: list[str] = []
    for mid in message_ids:
        rows = await Message.filter(dedupe_key__startswith=f"reply:{mid}:").order_by("id")
        bodies = [r.body for r in rows]
        if mid in drop_last_of and bodies:
            bodies = bodies[:-1]
        texts.extend(bodies)
    return texts


async def submit(request: web.Request) -> web.Response:
    """Store each answer, run the engine on it now, show what the bot says back."""
    token = request.match_info["token"]
    page = await _open(request)
    if isinstance(page, web.Response):
        return page
    form = await read_form(request)
    h5 = page.rt.settings.h5
    # Only the fields this page knows are read, each bounded: the comment and the questions.
    wanted = {"comment", *(f"q_{q.id}" for q in page.survey.questions)}
    values = {k: v.strip() for k, v in form.items() if k in wanted}
    for v in values.values():
        problem = text_problem(v, max_len=MAX_COMMENT)
        if problem:
            shown_values = {k: v for k, v in values.items() if not text_problem(
                v, max_len=MAX_COMMENT)}
            return _form(request, page, values=shown_values, status=422,
                         error=h5.comment_too_long if problem.startswith("longer")
                         else h5.invalid_text)
    comment = values.get("comment", "")
    shown = _remaining(page)
    if any(q.kind == "score" and values.get(f"q_{q.id}") not in {"1", "2", "3", "4", "5"}
           for q in shown):
        return _form(request, page, values=values, error=page.rt.settings.h5.choose_all,
                     status=400)

    rt, contact_id = page.rt, page.conv.contact_id
    sent: list[int] = []
    answered: list[int] = []
    # The comment box belongs to the last score on the form: stored with that answer (its
    # text, and the engine's comment or follow-up answer), as "4 李医生很耐心" would be in chat.
    scored = [q.id for q in shown if q.kind == "score"]
    with_comment = scored[-1] if scored else None
    for _ in range(len(page.survey.questions) + 1):
        conv = await Conversation.get(id=page.conv.id)
        if conv.status != ConversationStatus.OPEN or conv.state.get("status") != engine.ASKING:
            break
        q = page.survey.questions[int(conv.state.get("index", 0))]
        raw = None
        if q.kind == "score":
            answer = values.get(f"q_{q.id}", "")
            if answer and comment and q.id == with_comment:
                raw = json.dumps({"score": int(answer), "comment": comment},
                                 ensure_ascii=False)
                answer = f"{answer} {comment}".strip()
                comment = ""
        else:
            answer = values.get(f"q_{q.id}", "") or comment
            if answer == comment:
                comment = ""  # the comment answers the question the bot asks after a low score
        if not answer:
            break  # a question the form did not show: the page asks it next
        received = await dispatcher.receive(
            rt, channel="h5", contact_id=contact_id, text=answer,
            provider_id=f"{token}:{q.id}", conversation_id=conv.id, raw=raw)
        await dispatcher.process_contact_now(rt, contact_id)
        sent.append(received.message_id)
        answered.append(received.message_id)
        if received.duplicate:
            break  # this form was submitted before: show what it got then
    conv = await Conversation.get(id=page.conv.id)
    asking = conv.status == ConversationStatus.OPEN and conv.state.get("status") == engine.ASKING
    if comment and not asking:
        # Said after the last question: stored with the conversation, escalated if it needs
        # a person (red flag, complaint, question), exactly like a late chat reply.
        received = await dispatcher.receive(
            rt, channel="h5", contact_id=contact_id, text=comment,
            provider_id=f"{token}:comment", conversation_id=conv.id)
        await dispatcher.process_contact_now(rt, contact_id)
        sent.append(received.message_id)
    said = await _said(sent, set(answered[:-1]))
    if asking:
        # A question the form did not show (asked after an answer): the page asks it now.
        page.conv = conv
        return _form(request, page, values={"comment": comment} if comment else {})
    await SurveyLink.filter(id=page.link.id, used_at__isnull=True).update(used_at=rt.now())
    return _done(request, rt, said)


def _done(request: web.Request, rt: Runtime, said: list[str]) -> web.Response:
    return render(request, "h5_message.html", title=rt.settings.org.name, note="",
                  texts=said)


def setup(app: web.Application) -> None:
    """Register the survey page routes."""
    app.router.add_get("/s/{token}", show)
    app.router.add_post("/s/{token}", submit)

