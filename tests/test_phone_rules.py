"""The phone follow-up's rules, table-driven and property-based: receipts as Aliyun pushes
them (and what is refused), keys as answers, call hours, and who is called when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.clock import FrozenClock
from bot.config import ConfigError, settings_from_dict
from bot.phone import keypad, reach
from bot.phone.receipts import final_status, parse_receipt
from bot.runtime import Runtime
from models import CallStatus
from surveys import engine
from surveys.definition import default_surveys
from surveys.window import SendWindow
from tests.conftest import SHANGHAI

SURVEYS = default_surveys()
TEXTS = settings_from_dict({}).texts.model_dump()
CTX = engine.Context(values={"org_name": "示例医院", "department": "口腔科", "subject": "您",
                             "contact_name": "王奶奶"})
HINT = "请按1到5键评分"

# --- receipts ------------------------------------------------------------------------------

REPORT = {"call_id": "100001^100002", "out_id": "42", "status_code": "200000",
          "duration": "21", "dtmf": "4", "end_time": "2026-11-16 14:02:00",
          "caller": "057188880000", "callee": "13900001111", "toll_type": "LOCAL",
          "hangup_direction": "用户", "smart_status_code": "ANSWERED"}
CALL_REPORT = {"call_id": "100001^100002", "out_id": "42", "status_code": "300000",
               "dtmf": "4", "status_time": "2026-11-16 14:01:30"}


def test_a_voice_report_is_the_calls_record() -> None:
    r = parse_receipt(REPORT)
    assert (r.final, r.out_id, r.dtmf, r.duration, r.status_code) == (True, "42", "4", 21,
                                                                       "200000")
    assert r.at == datetime(2026, 11, 16, 14, 2, tzinfo=SHANGHAI)
    c = parse_receipt(CALL_REPORT)
    assert (c.final, c.dtmf, c.duration) == (False, "4", None)
    # numbers where Aliyun's examples send numbers
    assert parse_receipt({**REPORT, "duration": 21, "out_id": 42}).out_id == "42"


@pytest.mark.parametrize(("change", "why"), [
    ({"out_id": None, "call_id": None}, "'out_id' or 'call_id' is required"),
    ({"status_code": "２０００００"}, "digits 0-9"),  # full-width digits are not ASCII
    ({"status_code": "200000; drop"}, "digits 0-9"),
    ({"dtmf": "4a"}, "keys 0-9"),
    ({"duration": "1.5"}, "whole seconds"),
    ({"duration": "²"}, "whole seconds"),
    ({"smart_status_code": "answered"}, "capital letters"),
    ({"call_id": "x" * 129}, "longer than 128"),
    ({"out_id": "4\x002"}, "control characters"),
    ({"status_code": True}, "must be text"),
    ({"dtmf": ["4"]}, "must be text"),
    ({"status_code": None, "dtmf": None}, "'status_code' or 'dtmf' is required"),
])
def test_bad_receipts_are_refused_with_the_reason(change: dict[str, Any], why: str) -> None:
    item = {k: v for k, v in {**REPORT, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=why):
        parse_receipt(item)


def test_a_receipt_must_be_an_object() -> None:
    for item in ([REPORT], "x", 3, None):
        with pytest.raises(ValueError, match="JSON object"):
            parse_receipt(item)


@given(st.dictionaries(st.sampled_from(sorted({*REPORT, *CALL_REPORT, "extra"})),
                       st.one_of(st.text(max_size=40), st.integers(), st.booleans(),
                                 st.none(), st.lists(st.integers(), max_size=2))))
@settings(max_examples=300, deadline=None)
def test_any_pushed_item_is_read_or_refused_never_an_error(item: dict[str, Any]) -> None:
    try:
        r = parse_receipt(item)
    except ValueError:
        return
    assert r.out_id or r.call_id
    assert r.dtmf == "" or set(r.dtmf) <= set("0123456789*#")


@pytest.mark.parametrize(("code", "smart", "dtmf", "status"), [
    ("200000", None, "4", CallStatus.ANSWERED),
    ("200000", None, "", CallStatus.ANSWERED),  # listened, pressed nothing
    ("200008", None, "", CallStatus.ANSWERED),  # key timeout
    ("200003", None, "", CallStatus.NO_ANSWER),
    ("200002", None, "", CallStatus.BUSY),
    ("200005", None, "", CallStatus.REJECTED),
    ("200010", None, "", CallStatus.POWERED_OFF),
    ("200011", None, "", CallStatus.SUSPENDED),
    ("200004", None, "", CallStatus.INVALID_NUMBER),
    ("200007", None, "", CallStatus.UNREACHABLE),
    ("200119", None, "", CallStatus.LIMITED),
    ("999999", None, "", CallStatus.FAILED),
    ("200005", "POWERED_OFF", "", CallStatus.POWERED_OFF),  # the smart code is finer
    ("200000", "INVALID_NUMBER", "", CallStatus.INVALID_NUMBER),
    ("200003", None, "9", CallStatus.ANSWERED),  # a key means someone answered
])
def test_what_became_of_a_call(code: str, smart: str | None, dtmf: str,
                               status: CallStatus) -> None:
    item = {**REPORT, "status_code": code, "dtmf": dtmf}
    item.pop("smart_status_code")
    if smart:
        item["smart_status_code"] = smart
    assert final_status(parse_receipt(item)) == status


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtmf", "key"), [
    ("4", "4"), ("40", "4"), ("*4", "4"), ("#9", "9"), ("0", "0"), ("", None), ("6", None),
    ("78", None), ("*#", None), ("86", None),
])
def test_the_first_key_of_the_survey(dtmf: str, key: str | None) -> None:
    assert keypad.first_key(dtmf) == key


def asking(survey: str, index: int = 0, **answers: Any) -> dict[str, Any]:
    return {"survey": survey, "index": index, "answers": answers, "failed": 0,
            "confirm": None, "status": engine.ASKING}


def press(survey: str, state: dict[str, Any], key: str, question: str = "overall",
          max_questions: int = 1) -> keypad.KeyStep:
    return keypad.step(SURVEYS[survey], TEXTS, CTX, state, keypad.KeyAnswer(key, question, 7),
                       max_questions=max_questions, hint=HINT)


def names(step: keypad.KeyStep) -> list[str]:
    return [e.name for e in step.step.events]


def test_a_score_key_records_and_completes_the_voice_survey() -> None:
    s = press("general", asking("general"), "4")
    assert [e for e in s.step.events if isinstance(e, engine.AnswerRecorded)] == [
        engine.AnswerRecorded("overall", 4, "[按键 4]")]
    assert (s.step.state["status"], s.step.outbound, s.ask) == (engine.DONE, (), None)


def test_a_low_score_escalates_and_skips_the_written_follow_up() -> None:
    s = press("general", asking("general"), "2")
    assert names(s) == ["answer_recorded", "escalation_raised", "survey_completed"]
    assert s.step.state["status"] == engine.DONE and "improve" not in s.step.state["answers"]


def test_the_written_questions_before_a_score_are_skipped() -> None:
    # The dental survey asks how the person feels first (free text): the call asks the score.
    assert keypad.voice_question(SURVEYS["dental"], asking("dental")).id == "overall"
    s = press("dental", asking("dental"), "5")
    assert s.step.state["answers"] == {"overall": 5}


def test_further_score_questions_are_further_calls_up_to_max_questions() -> None:
    s = press("hospital", asking("hospital"), "5", max_questions=2)
    assert s.ask == "doctor" and s.step.state["status"] == engine.ASKING
    assert s.step.outbound[0].endswith(HINT) and "主管医生" in s.step.outbound[0]
    again = press("hospital", s.step.state, "4", question="doctor", max_questions=2)
    assert again.ask is None and again.step.state["status"] == engine.DONE
    assert again.step.state["answers"] == {"overall": 5, "doctor": 4}


def test_zero_asks_for_a_person_and_nine_stops() -> None:
    zero = press("general", asking("general"), "0")
    assert zero.step.events == (engine.EscalationRaised(keypad.CALLBACK, "high",
                                                        keypad.CALLBACK_REASON),)
    assert zero.step.state["status"] == engine.STAFF and zero.step.outbound == ()
    nine = press("general", asking("general"), "9")
    assert names(nine) == ["opted_out"]
    assert nine.step.state["status"] == engine.STOPPED
    assert nine.step.outbound == (TEXTS["opt_out_confirmed"],)  # the one confirmation
    # pressed again: nothing more
    assert press("general", nine.step.state, "9").step.outbound == ()


@pytest.mark.parametrize("state", [
    asking("general", overall=3),  # answered meanwhile (by SMS, say)
    {**asking("general"), "status": engine.DONE},
    {**asking("general"), "status": engine.STOPPED},
])
def test_a_late_key_is_kept_and_records_nothing(state: dict[str, Any]) -> None:
    s = press("general", state, "5")
    assert names(s) == ["late_reply"] and s.step.outbound == ()


@given(st.sampled_from(sorted(keypad.KEYS)), st.sampled_from(sorted(SURVEYS)),
       st.integers(min_value=0, max_value=8))
def test_any_key_in_any_state_gives_a_step(key: str, survey: str, index: int) -> None:
    state = asking(survey, min(index, len(SURVEYS[survey].questions) - 1))
    s = press(survey, state, key)
    assert s.step.state["status"] in (engine.ASKING, engine.DONE, engine.STAFF,
                                      engine.STOPPED)
    if key in keypad.ANSWER_KEYS:
        assert all(e.name in ("answer_recorded", "escalation_raised", "survey_completed",
                              "late_reply") for e in s.step.events)


def test_a_stored_key_is_read_back() -> None:
    a = keypad.KeyAnswer("4", "overall", 12)
    assert keypad.key_of("voice", a.raw()) == a
    assert keypad.key_of("sms", a.raw()) is None  # a text is never a key
    for raw in (None, "", "[]", '{"key": "7", "question": "q", "call": 1}',
                '{"key": "4", "question": "q", "call": "1"}', "not json"):
        assert keypad.key_of("voice", raw) is None


# --- call hours ----------------------------------------------------------------------------

HOURS = [(time(9), time(12)), (time(14), time(20))]
WINDOW = SendWindow(no_send_weekdays=frozenset({7}), spread_minutes=0)


def _at(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("at", "expected"), [
    (_at(16, 8), _at(16, 9)),
    (_at(16, 10, 15), _at(16, 10, 15)),
    (_at(16, 12), _at(16, 14)),
    (_at(16, 20), _at(17, 9)),
    (_at(21, 21), _at(23, 9)),  # Sunday is blocked
])
def test_next_call_time(at: datetime, expected: datetime) -> None:
    assert reach.next_call_time(at, SHANGHAI, HOURS, WINDOW) == expected


QUIET = SendWindow(quiet_start=time(22), quiet_end=time(7))


def _some_time_allowed(hours: list[tuple[time, time]]) -> bool:
    return any(not QUIET.is_quiet(time(h, m)) and a <= time(h, m) < b
               for a, b in hours for h in range(24) for m in (0, 30))


@given(st.datetimes(min_value=datetime(2026, 1, 1),  # noqa: DTZ001 (hypothesis: naive bounds)
                    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
                    timezones=st.just(SHANGHAI)),
       st.lists(st.tuples(st.integers(0, 23), st.integers(1, 6)), min_size=1, max_size=3),
       st.sets(st.integers(1, 7), max_size=5))
@settings(max_examples=300, deadline=None)
def test_calls_only_ever_go_inside_the_hours(at: datetime, spans: list[tuple[int, int]],
                                             blocked: set[int]) -> None:
    hours = sorted({(time(h), time(h + n) if h + n < 24 else time(23, 59)) for h, n in spans})
    assume(_some_time_allowed(hours))  # (settings refuse hours that are all quiet: below)
    window = SendWindow(quiet_start=QUIET.quiet_start, quiet_end=QUIET.quiet_end,
                        no_send_weekdays=frozenset(blocked))
    got = reach.next_call_time(at, SHANGHAI, hours, window)
    local = got.astimezone(SHANGHAI)
    assert got >= at
    assert local.isoweekday() not in blocked
    assert any(a <= local.time() < b for a, b in hours)
    assert not window.is_quiet(local.time())
    assert reach.next_call_time(got, SHANGHAI, hours, window) == got  # stable once allowed


def test_call_hours_that_are_all_quiet_stop_start_up() -> None:
    with pytest.raises(ConfigError, match="quiet hours"):
        settings_from_dict({"voice": {"call_hours": ["22:30-23:30"]}})
    with pytest.raises(ConfigError, match=r"send_window\.departments\.peds"):
        settings_from_dict({"voice": {"call_hours": ["19:00-20:00"]}, "send_window": {
            "departments": {"peds": {"quiet_start": "18:00", "quiet_end": "08:00"}}}})
    settings_from_dict({"voice": {"call_hours": ["22:30-23:30"]},
                        "send_window": {"enabled": False}})  # a drill: any time


# --- who is called when --------------------------------------------------------------------


@dataclass
class Fake:
    name: str
    mobiles_only: bool = False

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        if self.name == "wechat":
            return openid is not None
        return phone is not None and (not self.mobiles_only or phone.startswith("1"))

    async def send(self, msg: Any) -> Any:  # never called here
        raise NotImplementedError


@dataclass
class Who:
    phone: str | None = "13900001111"
    wechat_openid: str | None = None
    preferred_channel: str | None = None
    unreachable: dict[str, str] | None = None


def rt_with(order: list[str], age: int = 0, calls: bool = True) -> Runtime:
    s = settings_from_dict({"channels": {"order": order}, "reach": {"voice_first_age": age},
                            "calls": {"enabled": calls}})
    return Runtime(settings=s, clock=FrozenClock(datetime(2026, 11, 16, tzinfo=SHANGHAI)),
                   channels={"sms": Fake("sms", True), "wechat": Fake("wechat"),
                             "voice": Fake("voice")})  # type: ignore[dict-item]


TODAY = date(2026, 11, 16)
OLD = date(1938, 5, 1)


@pytest.mark.parametrize(("order", "age", "who", "birth", "expected"), [
    (["sms", "voice"], 0, Who(), None, ["text", "voice"]),        # after SMS went unanswered
    (["voice", "sms"], 0, Who(), None, ["voice", "text"]),        # voice first for everyone
    (["sms"], 0, Who(), None, ["text"]),                          # voice not in the order
    (["sms", "voice"], 75, Who(), OLD, ["voice", "text"]),        # the elderly first
    (["sms", "voice"], 75, Who(), date(1990, 1, 1), ["text", "voice"]),
    (["sms", "voice"], 0, Who(preferred_channel="phone"), None, ["voice"]),  # phone only
    (["sms"], 0, Who(preferred_channel="phone"), None, ["voice"]),  # even if not in order
    (["sms", "voice"], 0, Who(phone="057188881234"), None, ["voice"]),  # a landline
    (["wechat", "voice"], 0, Who(wechat_openid="o1"), None, ["text", "voice"]),
    (["sms", "voice"], 0, Who(unreachable={"voice": "invalid_number: 200004"}), None,
     ["text"]),
    (["sms", "voice"], 0, Who(phone=None), None, []),
])
def test_stages(order: list[str], age: int, who: Who, birth: date | None,
                expected: list[str]) -> None:
    assert reach.stages(rt_with(order, age), who, birth, TODAY) == expected


def test_after_every_stage_the_call_list_unless_the_number_is_wrong() -> None:
    rt = rt_with(["sms", "voice"])
    done = {"text": 3, "voice": 2}
    assert reach.next_route(rt, Who(), None, TODAY, {"text": 1, "voice": 0}) == reach.Route(
        "text", "sms")
    assert reach.next_route(rt, Who(), None, TODAY, {"text": 3, "voice": 1}) == reach.Route(
        "voice", "voice")
    assert reach.next_route(rt, Who(), None, TODAY, done) == reach.Route(
        "calls", reason="no_answer")
    wrong = Who(unreachable={"sms": "isv.MOBILE_NUMBER_ILLEGAL: no such number"})
    assert reach.next_route(rt, wrong, None, TODAY, done) == reach.Route(
        "lost", reason="unreachable")
    assert reach.next_route(rt_with(["sms", "voice"], calls=False), Who(), None, TODAY,
                            done) == reach.Route("lost", reason="no_answer")
    # phone only and no call possible by the bot: straight to staff
    assert reach.first_route(rt_with(["sms"]), Who(preferred_channel="phone"), None, TODAY,
                             can_call=False) == reach.Route("calls", reason="phone_only")


def test_a_phone_only_contact_is_never_written_to() -> None:
    rt = rt_with(["sms", "wechat"])
    who = Who(preferred_channel="phone", wechat_openid="o1")
    assert reach.text_channel(rt, who) is None
    assert not reach.text_allowed(who, "sms")
    assert reach.text_channel(rt, Who()) == "sms"


def test_age_from_the_birth_date() -> None:
    assert reach.age(date(1938, 11, 17), TODAY) == 87
    assert reach.age(date(1938, 11, 16), TODAY) == 88
    assert reach.age(None, TODAY) is None
