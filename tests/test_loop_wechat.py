"""Invariant (c) on WeChat, through the signed webhook and the fake WeChat API: while staff hold
the conversation the bot sends nothing, neither customer-service messages nor passive replies
(text, a photo, a menu click); everything is stored for the assignee, who hears of it."""

from __future__ import annotations

from typing import Any

from bot.clock import FrozenClock
from models import Escalation, Message, Notification
from tests.conftest import eventually
from tests.fake_wechat import FakeWechat, event_xml, message_xml
from tests.loop_helpers import act, as_staff
from tests.test_wechat_flows import OPENID, _ids, _in_survey, fake, say, start, text

__all__ = ["fake"]  # the fixture, shared with the WeChat flow tests


async def test_no_passive_reply_and_no_message_while_staff_hold_the_conversation(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, menu_staff_key="联系客服")
    from tests.staff_helpers import make_staff

    await make_staff("li", depts=["ortho"])
    contact = await _in_survey(client, clock, fake)
    assert await text(client, clock, "2 护士态度不好") == ""
    esc = await eventually(lambda: Escalation.filter(status="open").first())
    await eventually(lambda: _custom_count(fake, 3))  # apology and thanks went out
    csrf = await as_staff(client, "li")
    await act(client, esc.id, "claim", csrf)
    sent = len(fake.sent_to(OPENID, "custom"))

    now = int(clock.now().timestamp())
    replies = [
        await text(client, clock, "还在渗血，我现在该怎么办？"),
        await say(client, clock, message_xml(OPENID, "image", now, PicUrl="http://x/p.jpg",
                                             MediaId="m1", MsgId=next(_ids))),
        await say(client, clock, event_xml(OPENID, "CLICK", now + 1, key="联系客服")),
    ]
    assert replies == ["", "", ""]  # "success": no passive reply
    await eventually(lambda: Message.filter(contact_id=contact.id, direction="in",
                                            body="还在渗血，我现在该怎么办？",
                                            status="processed").exists())
    assert len(fake.sent_to(OPENID, "custom")) == sent
    assert not await Message.filter(contact_id=contact.id, direction="out",
                                    status="queued").exists()
    stored = {m.body for m in await Message.filter(contact_id=contact.id, direction="in",
                                                   conversation_id=esc.conversation_id)}
    assert {"还在渗血，我现在该怎么办？", "[图片]"} <= stored
    events = [n.event for n in await Notification.filter(
        channel="app", escalation_id=esc.id, staff__username="li").order_by("id")]
    # the red flag told li; the photo and the click made one unread "the person wrote" (the
    # webhook handles a photo itself, the text goes through the dispatcher: either may be first)
    assert sorted(events) == ["opened", "replied", "updated"]
    assert "red_flag" in (await Escalation.get(id=esc.id)).kinds


async def _custom_count(fake: FakeWechat, n: int) -> bool:
    return len(fake.sent_to(OPENID, "custom")) >= n
