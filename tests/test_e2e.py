"""The whole path over HTTP: import a visit → check-in due → sent through the simulator →
the patient answers "2 护士态度不好" → answer stored, escalation opened, tally page shows it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot import ledger
from bot.clock import FrozenClock
from bot.config import Settings
from models import Answer, CheckIn, Escalation, Message
from surveys import native
from tests.conftest import eventually
from tests.staff_helpers import make_staff, sign_in

VISIT = {
    "external_id": "MZ-20261116-0001", "person_name": "张三", "contact_phone": "13812345678",
    "occurred_at": "2026-11-16 09:30", "department": "dental", "department_name": "口腔科",
    "clinician": "李医生",
}


async def tally_row(client: Any) -> dict[str, str]:
    html = await (await client.get("/tallies?period=all")).text()
    m = re.search(r'<tr data-department="口腔科"[^>]*data-question="overall"[^>]*>(.*?)</tr>',
                  html, re.S)
    if not m:
        return {}
    cells = re.findall(r'<td class="(n|d\d)">(\d+|—)</td>', m.group(1))
    return dict(cells)


async def test_visit_to_record_escalation_and_tally(settings: Settings, clock: FrozenClock,
                                                    client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["parser"] == ("compiled" if native.compiled() else "source")
    await make_staff("head", "head", depts=["dental"])  # staff pages need a signed-in member
    await sign_in(client, "head")

    # 1. A hospital system sends a visit.
    r = await client.post("/api/episodes", json={"source": "his", "episodes": [VISIT]},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()
    assert (await r.json())["created"] == 1
    checkin = await CheckIn.get()
    assert checkin.status == "planned"
    assert await tally_row(client) == {}

    # 2. Nothing goes out before it is due; the next day at 10:00 it does.
    contact_id = checkin.contact_id
    page = await (await client.get(f"/simulator/contacts/{contact_id}")).text()
    assert "总体满意" not in page
    clock.advance(timedelta(days=1, hours=1))  # Tue 10:00 Shanghai
    msg = await eventually(lambda: Message.filter(direction="out", status="delivered").first())
    assert msg.body.startswith("张三您好，这里是示例医院口腔科。")
    page = await (await client.get(f"/simulator/contacts/{contact_id}")).text()
    assert "请问您对这次就诊总体满意吗" in page

    # 3. The patient answers in the simulator (a plain form post, as without JavaScript).
    form = re.search(r'name="nonce" value="([0-9a-f]+)"', page)
    assert form
    r = await client.post(f"/simulator/contacts/{contact_id}/send",
                          data={"text": "2 护士态度不好", "nonce": form.group(1)},
                          allow_redirects=False)
    assert r.status == 303

    # 4. The record is stored, hash-chained.
    answer = await eventually(lambda: Answer.filter(question_id="overall").first())
    assert answer.score == 2 and answer.channel == "simulator"
    comment = await Answer.get(question_id="improve")
    assert comment.text == "护士态度不好"
    assert (await ledger.verify(Answer)).ok

    # 5. An escalation waits in the staff queue, masked.
    esc = await Escalation.get()
    assert esc.kind == "complaint" and set(esc.kinds) == {"complaint", "low_score"}
    await sign_in(client, "head")  # the next day: yesterday's 12-hour session has ended
    queue = await (await client.get("/staff/queue")).text()
    assert "张*" in queue and "138****5678" in queue
    assert "张三" not in queue and "13812345678" not in queue
    assert "投诉" in queue and "低分" in queue
    english = await (await client.get("/staff/queue?lang=en")).text()
    assert "Complaint" in english

    # 6. The patient hears back: apology, then thanks (the reason was already given).
    async def replies() -> list[str]:
        rows = await Message.filter(direction="out", status="delivered").order_by("id")
        return [m.body for m in rows] if len(rows) >= 3 else []

    bodies = await eventually(replies)
    assert "非常抱歉" in bodies[1] and "感谢您的反馈" in bodies[2]
    live = await (await client.get(
        f"/simulator/api/contacts/{contact_id}/messages?after=0")).json()
    assert [m["direction"] for m in live["messages"]] == ["out", "in", "out", "out"]

    # 7. The tally counts it; one answer shows no distribution (it would be the person's).
    assert await tally_row(client) == {"n": "1", "d1": "—", "d2": "—", "d3": "—", "d4": "—",
                                       "d5": "—"}
    followup = await (await client.get("/tallies/followup")).text()
    assert 'data-kind="complaint"' in followup


async def test_resubmitted_form_is_not_a_second_reply(settings: Settings, clock: FrozenClock,
                                                      client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await client.post("/api/episodes", json={"episodes": [VISIT]},
                      headers={"Authorization": "Bearer test-key"})
    clock.advance(timedelta(days=1, hours=1))
    checkin = await CheckIn.get()
    await eventually(lambda: Message.filter(direction="out", status="delivered").exists())
    for _ in range(3):  # a double click, a browser retry
        await client.post(f"/simulator/contacts/{checkin.contact_id}/send",
                          data={"text": "5", "nonce": "abc123"}, allow_redirects=False)
    await eventually(lambda: Answer.exists())
    assert await Message.filter(direction="in").count() == 1
    assert await Answer.filter(question_id="overall").count() == 1


async def test_api_refuses_bad_input_clearly(settings: Settings, clock: FrozenClock,
                                             client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    r = await client.post("/api/episodes", json={"episodes": [VISIT]})
    assert r.status == 401 and "Bearer" in await r.text()
    auth = {"Authorization": "Bearer test-key"}
    r = await client.post("/api/episodes", data=b"{not json", headers=auth)
    assert r.status == 400 and "not JSON" in await r.text()
    r = await client.post("/api/episodes", json={"episode": []}, headers=auth)
    assert r.status == 400 and "episodes" in (await r.json())["error"]
    bad = {**VISIT, "external_id": "X2", "contact_phone": "12"}
    r = await client.post("/api/episodes", json={"episodes": [VISIT, bad, "oops"]},
                          headers=auth)
    body = await r.json()
    assert r.status == 207
    assert body["created"] == 1
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, "contact_phone"), (3, "")]


async def test_words_after_the_last_question_are_a_comment_with_themes_and_praise(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    """A person who answered writes once more: praise and a complaint about the wait. Managers
    see it among the comment themes and the praise; a bare "好的" is not a comment."""
    client = await client_factory(settings, clock)
    await make_staff("head", "head", depts=["dental"])
    await client.post("/api/episodes", json={"episodes": [VISIT]},
                      headers={"Authorization": "Bearer test-key"})
    clock.advance(timedelta(days=1, hours=1))
    checkin = await CheckIn.get()
    await eventually(lambda: Message.filter(direction="out", status="delivered").exists())

    async def say(text: str, nonce: str) -> None:
        r = await client.post(f"/simulator/contacts/{checkin.contact_id}/send",
                              data={"text": text, "nonce": nonce}, allow_redirects=False)
        assert r.status == 303

    await say("5", "n1")
    await eventually(lambda: CheckIn.filter(id=checkin.id, status="answered").exists())
    await say("好的", "n2")
    await say("谢谢李医生，很耐心，就是排队等了太久", "n3")
    comment = await eventually(lambda: Answer.filter(question_id="comment").first())
    assert comment.text == "谢谢李医生，很耐心，就是排队等了太久" and comment.score is None
    assert await Answer.filter(question_id="comment").count() == 1  # not "好的"
    assert await Answer.filter(question_id="overall").count() == 1  # the score stays one
    assert (await ledger.verify(Answer)).ok

    await sign_in(client, "head")
    html = await (await client.get("/tallies?period=all")).text()
    themes = html.split('id="themes"', 1)[1]
    assert 'data-theme="waiting"' in themes
    assert 'data-staff="李医生"' in themes


async def test_a_parent_whose_name_the_visit_lacks_is_greeted_plainly(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    """A hospital export with the child and 关系 = 母亲 but no parent's name: the message is to
    the mother about the child, never "小明您好" to the child."""
    client = await client_factory(settings, clock)
    child = {**VISIT, "external_id": "MZ-K1", "person_name": "王小明",
             "contact_phone": "13800005555", "relation": "母亲"}
    r = await client.post("/api/episodes", json={"episodes": [child]},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()
    clock.advance(timedelta(days=1, hours=1))
    msg = await eventually(lambda: Message.filter(direction="out", status="delivered").first())
    assert msg.body.startswith("您好，这里是示例医院口腔科"), msg.body
    assert "想了解王小明的情况" in msg.body
    assert "王小明您好" not in msg.body
