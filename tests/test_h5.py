"""The H5 survey page over HTTP (plain form posts, as without JavaScript): it feeds the same
engine as chat, so answers, escalations and tallies are the same; used, expired and unknown
links say so politely."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.clock import FrozenClock
from bot.config import Settings
from models import Answer, Escalation, Message, SurveyLink
from tests.conftest import eventually

VISITS = [
    {"external_id": f"MZ-H5-{i}", "person_name": name, "contact_phone": phone,
     "occurred_at": "2026-11-16 09:30", "department": "dental", "department_name": "口腔科"}
    for i, (name, phone) in enumerate([("李四", "13900000001"), ("王五", "13900000002")])
]


async def opened(settings: Settings, clock: FrozenClock, client_factory: Any) -> Any:
    client = await client_factory(settings, clock)
    r = await client.post("/api/episodes", json={"source": "his", "episodes": VISITS},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()
    clock.advance(timedelta(days=1, hours=1))
    await eventually(lambda: _links(2))
    return client


async def _links(n: int) -> bool:
    return await SurveyLink.all().count() >= n


async def link_of(name: str) -> str:
    link = await SurveyLink.get(checkin__episode__person__name=name)
    return f"/s/{link.token}"


async def test_answer_on_the_page_is_recorded_like_chat(settings: Settings, clock: FrozenClock,
                                                        client_factory: Any) -> None:
    client = await opened(settings, clock, client_factory)
    url = await link_of("李四")
    page = await (await client.get(url)).text()
    assert 'name="q_overall"' in page and "总体满意" in page and "<script" not in page
    r = await client.post(url, data={"q_overall": "5", "comment": ""})
    assert r.status == 200
    assert "感谢您的反馈" in await r.text()
    answer = await Answer.get(question_id="overall")
    assert answer.score == 5 and answer.channel == "h5"
    assert await Escalation.all().count() == 0
    # The conversation keeps its channel: later messages still reach the person.
    inbound = await Message.get(direction="in", channel="h5")
    conv = await inbound.conversation
    assert conv is not None and conv.channel == "simulator"
    again = await client.get(url)
    assert "已经完成" in await again.text()
    r = await client.post(url, data={"q_overall": "1"})
    assert "已经完成" in await r.text()
    assert await Answer.all().count() == 1


async def test_low_score_comment_answers_the_follow_up(settings: Settings, clock: FrozenClock,
                                                       client_factory: Any) -> None:
    client = await opened(settings, clock, client_factory)
    r = await client.post(await link_of("王五"), data={"q_overall": "2",
                                                      "comment": "护士态度不好"})
    assert r.status == 200
    assert (await Answer.get(question_id="overall")).score == 2
    assert (await Answer.get(question_id="improve")).text == "护士态度不好"
    esc = await Escalation.get()
    assert "low_score" in esc.kinds and "complaint" in esc.kinds


async def test_red_flag_comment_shows_what_to_do_now(settings: Settings, clock: FrozenClock,
                                                     client_factory: Any) -> None:
    client = await opened(settings, clock, client_factory)
    r = await client.post(await link_of("李四"), data={"q_overall": "4",
                                                      "comment": "拔牙后一直出血"})
    html = await r.text()
    # nobody works 口腔科 here: the advice says truthfully that the hospital's managers heard
    advice = settings.texts.red_flag_advice.format(org_name=settings.org.name,
                                                   org_phone=settings.org.phone,
                                                   told=settings.texts.told_hospital)
    assert advice in html
    esc = await Escalation.get()
    assert esc.kind == "red_flag" and esc.priority == "urgent"
    assert (await Answer.get(question_id="overall")).score == 4


async def test_missing_score_keeps_the_comment(settings: Settings, clock: FrozenClock,
                                               client_factory: Any) -> None:
    client = await opened(settings, clock, client_factory)
    url = await link_of("李四")
    r = await client.post(url, data={"comment": "医生很耐心"})
    assert r.status == 400
    html = await r.text()
    assert settings.h5.choose_all in html and "医生很耐心" in html
    assert await Answer.all().count() == 0
    r = await client.post(url, data={"q_overall": "9"})
    assert r.status == 400


async def test_expired_and_unknown_links(settings: Settings, clock: FrozenClock,
                                         client_factory: Any) -> None:
    client = await opened(settings, clock, client_factory)
    url = await link_of("李四")
    r = await client.get("/s/doesNotExist0000")
    assert r.status == 404 and "没有找到这个链接" in await r.text()
    link = await SurveyLink.get(checkin__episode__person__name="李四")
    clock.advance(link.expires_at - clock.now() + timedelta(minutes=1))
    r = await client.get(url)
    assert r.status == 410 and "已过期" in await r.text()
    r = await client.post(url, data={"q_overall": "5"})
    assert r.status == 410 and await Answer.all().count() == 0


async def test_answered_by_chat_closes_the_page(settings: Settings, clock: FrozenClock,
                                                client_factory: Any) -> None:
    client = await opened(settings, clock, client_factory)
    link = await SurveyLink.get(checkin__episode__person__name="李四")
    contact_id = (await link.checkin).contact_id
    page = await (await client.get(f"/simulator/contacts/{contact_id}")).text()
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', page)
    assert nonce
    await client.post(f"/simulator/contacts/{contact_id}/send",
                      data={"text": "5", "nonce": nonce.group(1)}, allow_redirects=False)
    await eventually(lambda: Answer.exists(question_id="overall"))
    r = await client.get(f"/s/{link.token}")
    assert "回访已经结束" in await r.text()
