"""A process told to stop (SIGTERM, a deploy) finishes what its loops started: a send that
is with the provider when the stop comes is recorded as sent, and nothing is left leased.

Driven from outside: the real app over HTTP, the Aliyun SMS fake answering slowly, and the
app shut down the way its runner does while the send is in flight.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot import db
from bot.clock import FrozenClock
from models import Message
from tests.conftest import eventually, make_settings
from tests.fake_aliyun import FakeAliyunSms, sent_message_ids, sms_section

VISIT = {
    "external_id": "MZ-STOP-1", "person_name": "张三", "contact_phone": "13812345678",
    "occurred_at": "2026-11-16 09:30", "department": "dental", "department_name": "口腔科",
}


async def test_a_send_in_flight_at_the_stop_is_finished_and_recorded(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    # The provider answers in 1.5 s, within the send's timeout: a stop that cut the send off
    # would leave it unsure (sent, or not?) for the next process to settle.
    fake = await FakeAliyunSms(latency=1.5).start()
    try:
        settings = make_settings(db_url, sms=sms_section(fake, timeout_seconds=5.0),
                                 channels={"order": ["sms"]})
        client = await client_factory(settings, clock)
        r = await client.post("/api/episodes", json={"source": "his", "episodes": [VISIT]},
                              headers={"Authorization": "Bearer test-key"})
        assert r.status == 200, await r.text()
        clock.advance(timedelta(days=1, hours=1))  # the check-in is due
        await eventually(lambda: _in_flight(fake))
        await client.close()  # the app's shutdown: its loops are told to stop now

        assert len(fake.sent) == 1
        await db.init_db(db_url)  # the app closed its database; read what it left
        try:
            msg = await Message.get(direction="out", kind="checkin")
            assert msg.status == "sent" and msg.provider_msg_id
            assert msg.unsure_since is None and msg.lease_owner is None
            assert await sent_message_ids(fake.sent) == [msg.id]
        finally:
            await db.close_db()
    finally:
        await fake.close()


async def _in_flight(fake: FakeAliyunSms) -> bool:
    await asyncio.sleep(0)
    return fake.in_flight > 0
