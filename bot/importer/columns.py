"""The columns an import understands, the names files give them, and the values they hold.

A hospital export names its columns in Chinese (姓名, 电话, 科室, 就诊日期) and writes Chinese
values (门诊, 住院, 母亲). Headers and values are compared after NFKC (full-width letters,
digits and spaces become plain ones), case folding and dropping spaces, underscores, hyphens
and dots, so ``Person Name``, ``person_name`` and ``ＰＥＲＳＯＮ－ＮＡＭＥ`` are one header.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from models import EpisodeKind, EpisodeStatus, PersonKind, Relation


class ContactChannel(StrEnum):
    """How a contact prefers to be followed up (``Contact.preferred_channel``); ``phone``
    marks them phone only (bot.phone.reach)."""

    PHONE = "phone"
    VOICE = "voice"
    SMS = "sms"
    WECHAT = "wechat"

# column → (English description, Chinese name, other names files use for it). The Chinese
# name is also the column's name in Chinese messages.
COLUMN_TABLE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "external_id": (
        "required: the episode's id in your system (visit, admission or treatment number)",
        "就诊编号",
        ("就诊号", "门诊号", "住院号", "编号", "流水号", "就诊流水号", "挂号号", "挂号单号",
         "单号", "记录号", "登记号", "id", "visit_id", "visit_no", "episode_id",
         "record_id")),
    "person_name": (
        "required: patient or student name", "姓名",
        ("患者姓名", "病人姓名", "患者", "病人", "就诊人", "就诊人姓名", "学生姓名", "学生",
         "学员", "学员姓名", "name", "patient", "patient_name", "student", "student_name")),
    "contact_phone": (
        "required unless contact_openid: mobile number of whoever answers", "联系电话",
        ("电话", "手机", "手机号", "手机号码", "电话号码", "联系方式", "联系人电话",
         "联系人手机", "家长电话", "家长手机", "监护人电话", "phone", "mobile", "tel",
         "telephone", "cellphone", "mobile_phone", "phone_number")),
    "occurred_at": (
        "required: date or date and time, local (2026-11-03, 2026/11/3 9:05, 2026年11月3日)",
        "就诊日期",
        ("就诊时间", "出院日期", "出院时间", "治疗日期", "治疗时间", "手术日期", "门诊日期",
         "看诊日期", "开课日期", "开学日期", "日期", "时间", "date", "visit_date",
         "visit_time", "discharge_date", "treatment_date", "datetime")),
    "department": (
        "required: department code or name (created if new)", "科室",
        ("科室代码", "科室编码", "科别", "就诊科室", "出院科室", "部门", "部门代码",
         "dept", "department_code", "dept_code")),
    "department_name": (
        "optional: department display name (default: the code)", "科室名称",
        ("科室名", "部门名称", "dept_name")),
    "treatment_type": (
        "optional: e.g. 拔牙, 补牙, 出院; picks the schedule and survey", "治疗项目",
        ("项目", "治疗类型", "诊疗项目", "手术名称", "课程", "课程名称", "treatment",
         "procedure")),
    "kind": (
        "optional: visit | discharge | treatment | lesson_term (default visit)", "类型",
        ("就诊类型", "类别", "就诊类别", "回访类型", "type", "episode_kind", "visit_type")),
    "clinician": (
        "optional: doctor or teacher name", "医生",
        ("主治医生", "主治医师", "经治医生", "经治医师", "医师", "接诊医生", "就诊医生",
         "责任医生", "老师", "任课老师", "教师", "doctor", "physician", "teacher")),
    "clinician_id": (
        "optional: the clinician's id in your system (tells apart namesakes in a department)",
        "医生工号", ("医生编号", "医师工号", "工号", "医生id", "老师工号", "教师编号", "doctor_id",
                     "physician_id", "teacher_id", "clinician_code")),
    "person_external_id": (
        "optional: the person's id in your system (kept across their visits)", "病历号",
        ("病案号", "患者编号", "患者id", "患者号", "档案号", "学号", "学生编号",
         "patient_id", "mrn", "student_id", "person_id")),
    "person_kind": (
        "optional: patient | student (default patient)", "人员类型",
        ("人员类别", "对象类型", "person_type")),
    "birth_date": (
        "optional: date of birth", "出生日期",
        ("生日", "出生年月日", "birthday", "dob", "date_of_birth")),
    "contact_name": (
        "optional: who answers (default: person_name)", "联系人",
        ("联系人姓名", "家长", "家长姓名", "监护人", "监护人姓名", "contact",
         "contact_person")),
    "relation": (
        "optional: self | parent | guardian | spouse | child | other (default self)", "关系",
        ("与患者关系", "与患者的关系", "联系人关系", "与学生关系", "亲属关系", "relationship")),
    "contact_openid": (
        "optional: WeChat openid of whoever answers", "微信openid",
        ("openid", "wechat_openid")),
    "status": (
        "optional: active | cancelled (default active)", "状态",
        ("回访状态", "记录状态")),
    "preferred_channel": (
        "optional: how to follow up: phone (仅电话: calls only, never written to) | voice | "
        "sms | wechat", "回访方式",
        ("随访方式", "联系方式偏好", "首选渠道", "回访渠道", "channel", "reach")),
}

COLUMNS: dict[str, str] = {c: d for c, (d, _, _) in COLUMN_TABLE.items()}
LABELS_ZH: dict[str, str] = {c: zh for c, (_, zh, _) in COLUMN_TABLE.items()}
REQUIRED = ("external_id", "person_name", "occurred_at", "department")
DATE_COLUMNS = frozenset({"occurred_at", "birth_date"})

_SEPARATORS = re.compile(r"[\s_\-.·]+")
# "电话(必填)", "*姓名", "就诊日期（yyyy-mm-dd）": template decorations around a header.
_DECORATION = re.compile(r"^[*※]+|[*※]+$|\([^()]*\)$|\[[^\[\]]*\]$|【[^【】]*】$")


def key(text: str) -> str:
    """The comparison form of a header or a value (see the module docstring)."""
    t = unicodedata.normalize("NFKC", text).replace("\ufeff", "").replace("\u200b", "")
    return _SEPARATORS.sub("", t.casefold())


HEADER_ALIASES: dict[str, str] = {}
for _col, (_, _zh, _others) in COLUMN_TABLE.items():
    for _name in (_col, _zh, *_others):
        assert key(_name) not in HEADER_ALIASES, _name  # one header, one column
        HEADER_ALIASES[key(_name)] = _col


def canonical(header: str) -> str | None:
    """The column a header stands for, or None."""
    k = key(header)
    if k in HEADER_ALIASES:
        return HEADER_ALIASES[k]
    bare = key(_DECORATION.sub("", unicodedata.normalize("NFKC", header).strip()))
    return HEADER_ALIASES.get(bare) if bare else None


@dataclass(frozen=True, slots=True)
class KeyMap:
    """How the keys of a row (a file's header, a JSON object's keys) map to columns."""

    names: dict[str, str]             # column → the first key naming it, as written
    duplicates: dict[str, list[str]]  # column → every key naming it, when more than one
    unknown: list[str]                # keys that name no column


@lru_cache(maxsize=256)
def map_keys(keys: tuple[str, ...]) -> KeyMap:
    """Map a row's keys to columns once per distinct header."""
    seen: dict[str, list[str]] = {}
    unknown: list[str] = []
    for k in keys:
        if not k.strip():
            continue  # a column without a header: nothing to name it by
        col = canonical(k)
        if col is None:
            unknown.append(k.strip())
        else:
            seen.setdefault(col, []).append(k)
    return KeyMap({c: ks[0] for c, ks in seen.items()},
                  {c: ks for c, ks in seen.items() if len(ks) > 1}, unknown)


# Values of the choice columns: enum → {value: other ways files write it}.
VALUE_TABLE: dict[type, dict[str, tuple[str, ...]]] = {
    EpisodeKind: {
        "visit": ("门诊", "就诊", "门诊就诊", "复诊", "初诊", "急诊", "门急诊", "看诊",
                  "outpatient", "clinic"),
        "discharge": ("住院", "出院", "住院出院", "出院患者", "住院患者", "inpatient",
                      "discharged"),
        "treatment": ("治疗", "手术", "日间手术", "处置", "理疗", "procedure", "surgery"),
        "lesson_term": ("课程", "学期", "上课", "培训", "lesson", "term", "course"),
    },
    Relation: {
        "self": ("本人", "自己", "患者本人", "学生本人", "me"),
        "parent": ("母亲", "父亲", "妈妈", "爸爸", "母", "父", "父母", "家长", "mother",
                   "father", "mom", "mum", "dad"),
        "guardian": ("监护人", "爷爷", "奶奶", "外公", "外婆", "姥姥", "姥爷", "祖父", "祖母",
                     "外祖父", "外祖母", "grandparent", "grandmother", "grandfather"),
        "spouse": ("配偶", "丈夫", "妻子", "老公", "老婆", "爱人", "husband", "wife",
                   "partner"),
        "child": ("子女", "儿子", "女儿", "儿女", "son", "daughter"),
        "other": ("其他", "其它", "家属", "亲属", "亲戚", "朋友", "兄弟", "姐妹", "哥哥",
                  "姐姐", "弟弟", "妹妹", "孙子", "孙女", "护工", "relative", "friend"),
    },
    PersonKind: {
        "patient": ("患者", "病人", "病患", "就诊人"),
        "student": ("学生", "学员", "pupil"),
    },
    ContactChannel: {
        "phone": ("电话", "仅电话", "只打电话", "电话回访", "人工电话", "打电话", "tel",
                  "phone_only"),
        "voice": ("语音", "语音电话", "语音回访", "自动语音", "ivr"),
        "sms": ("短信", "短信回访", "text"),
        "wechat": ("微信", "微信回访", "公众号", "weixin"),
    },
    EpisodeStatus: {
        "active": ("正常", "有效", "在用", "启用", "待回访"),
        "cancelled": ("取消", "已取消", "作废", "已作废", "退号", "已退号", "撤销", "无效",
                      "canceled", "cancel"),
    },
}
VALUE_ALIASES: dict[type, dict[str, str]] = {}
for _enum, _values in VALUE_TABLE.items():
    assert set(_values) == {m.value for m in _enum}, _enum  # type: ignore[attr-defined]
    table = VALUE_ALIASES.setdefault(_enum, {})
    for _value, _names in _values.items():
        for _name in (_value, *_names):
            assert key(_name) not in table, _name
            table[key(_name)] = _value


def allowed_values(enum: type) -> str:
    """``visit (门诊, 就诊) | discharge (住院, 出院) | …`` for an error message."""
    sep = ", "
    out = []
    for value, names in VALUE_TABLE[enum].items():
        chinese = [n for n in names if not n.isascii()][:2]
        out.append(f"{value} ({sep.join(chinese)})" if chinese else value)
    return " | ".join(out)


def choice(value: str, enum: type) -> str | None:
    """The enum value a written value stands for (门诊 → visit), or None."""
    return VALUE_ALIASES[enum].get(key(value))


def examples(column: str) -> str:
    """A few names a file may give a column, for the missing-column message."""
    _, zh, others = COLUMN_TABLE[column]
    chinese = [n for n in others if not n.isascii()][:3]
    return "/".join([zh, *chinese, column])
