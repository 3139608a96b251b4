"""Driving the closed loop from outside: visits through the import API, the person through
the simulator (or the H5 page), staff through their pages."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

from bot.clock import FrozenClock
from bot.keys import RUNTIME
from models import CheckIn, Contact, Escalation, Message, SurveyLink
from tests.conftest import eventually
from tests.staff_helpers import csrf_of, sign_in

_nonce = itertools.count(1)


def visit(external_id: str, name: str, phone: str, department: str = "dental",
          department_name: str = "口腔科", **more: str) -> dict[str, str]:
    """One visit row for POST /api/episodes (Monday 2026-11-16 09:30: due Tuesday 10:00)."""
    return {"external_id": external_id, "person_name": name, "contact_phone": phone,
            "occurred_at": "2026-11-16 09:30", "department": department,
            "department_name": department_name, **more}


async def import_visits(client: Any, *visits: dict[str, str]) -> None:
    """Send visits the way a hospital system does."""
    r = await client.post("/api/episodes", json={"source": "his", "episodes": list(visits)},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()


async def checkins_sent(clock: FrozenClock, n: int) -> None:
    """Move to Tuesday 10:00 and wait until ``n`` first check-ins went out."""
    clock.advance(timedelta(days=1, hours=1))

    async def sent() -> bool:
        return await Message.filter(direction="out", dedupe_key__startswith="checkin:",
                                    status="delivered").count() >= n
    await eventually(sent)


async def contact_id(phone: str) -> int:
    """The contact behind a phone number."""
    return (await Contact.get(phone=phone)).id


async def say(client: Any, cid: int, text: str) -> int:
    """The person types a reply in the simulator; returns the stored message's id."""
    r = await client.post(f"/simulator/contacts/{cid}/send",
                          data={"text": text, "nonce": f"n{next(_nonce)}"},
                          headers={"Accept": "application/json"})
    assert r.status == 200, await r.text()
    return int((await r.json())["message_id"])


async def processed(message_id: int) -> Message:
    """Wait until the dispatcher has handled an inbound message."""
    async def done() -> Message | None:
        m = await Message.get(id=message_id)
        return m if m.status == "processed" else None
    return await eventually(done)


async def to_person(cid: int) -> list[Message]:
    """Everything that went (or is going) out to this person, oldest first."""
    return await Message.filter(contact_id=cid, direction="out").exclude(
        status="failed").order_by("id")


async def settle(client: Any) -> None:
    """Let the outbox send what is queued (nothing stays queued)."""
    rt = client.server.app[RUNTIME]
    rt.outbox_waker.wake()

    async def idle() -> bool:
        return not await Message.filter(direction="out", status="queued").exists()
    await eventually(idle)


async def escalation_of(cid: int) -> Escalation:
    """The person's escalation, once it exists."""
    return await eventually(lambda: Escalation.filter(conversation__contact_id=cid).first())


async def as_staff(client: Any, username: str) -> str:
    """Sign in as someone else (a fresh browser: no cookies); returns a CSRF token."""
    client.session.cookie_jar.clear()
    return await sign_in(client, username)


async def act(client: Any, esc_id: int, action: str, csrf: str, **form: str) -> Any:
    """A staff action on an escalation page (claim, reply, resolve, note, ...)."""
    r = await client.post(f"/staff/escalations/{esc_id}/{action}", data={"csrf": csrf, **form})
    return r


async def page_csrf(client: Any, path: str) -> str:
    """The CSRF token of a staff page."""
    return csrf_of(await (await client.get(path)).text())


async def h5_link(name: str) -> str:
    """The H5 survey page of the person's check-in."""
    link = await SurveyLink.get(checkin__episode__person__name=name)
    return f"/s/{link.token}"


def rows(html: str) -> list[str]:
    """The escalation ids of a queue page, in order."""
    return re.findall(r'data-escalation="(\d+)"', html)


async def planned(offset_prefix: str) -> list[CheckIn]:
    """Check-ins whose offset starts so (recovery 'rec:', follow-up 'later:')."""
    return await CheckIn.filter(offset__startswith=offset_prefix).order_by("id")
