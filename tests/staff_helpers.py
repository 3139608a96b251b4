"""Helpers for the staff workspace tests: people, conversations, escalations, signed-in clients."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from bot import escalations
from bot import staff as svc
from bot.runtime import Runtime
from models import (
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    Department,
    Episode,
    Escalation,
    Person,
    Staff,
)

_n = itertools.count(1)
PASSWORD = "correct-horse-1"
DEPARTMENTS = {"dental": "口腔科", "ortho": "骨科"}


async def departments() -> dict[str, Department]:
    """The two test departments."""
    return {code: (await Department.get_or_create(code=code, defaults={"name": name}))[0]
            for code, name in DEPARTMENTS.items()}


async def make_staff(username: str, role: str = "agent", depts: list[str] | None = None,
                     name: str | None = None) -> Staff:
    """A staff member with the shared test password."""
    await departments()
    return await svc.create_staff(username=username, display_name=name or username, role=role,
                                  password=PASSWORD, departments=depts or [])


async def conversation(rt: Runtime, dept: str = "dental", *, name: str = "张三",
                       phone: str | None = None, channel: str = "simulator") -> Conversation:
    """A contact in the middle of the general survey (first question asked, unanswered)."""
    d = (await departments())[dept]
    n = next(_n)
    now = rt.now()
    person = await Person.create(name=name, external_id=f"p{n}")
    contact = await Contact.create(name=name, phone=phone or f"138000{n:05d}")
    ep = await Episode.create(external_id=f"e{n}", person=person, contact=contact, department=d,
                              occurred_at=now - timedelta(days=1))
    extra = {f: now for f in ("send_at", "window_end_at") if f in CheckIn._meta.fields_map}
    ci = await CheckIn.create(episode=ep, contact=contact, offset="1d", survey_id="general",
                              due_at=now, status=CheckinStatus.OPENED, opened_at=now,
                              expires_at=now + timedelta(days=3), **extra)
    return await Conversation.create(
        contact=contact, checkin=ci, channel=channel, last_activity_at=now,
        state={"survey": "general", "index": 0, "answers": {}, "failed": 0, "confirm": None,
               "status": "asking"},
    )


async def escalate(rt: Runtime, conv: Conversation, kind: str = "complaint",
                   priority: str = "high", reason: str = "complaint words") -> Escalation:
    """Raise an escalation on ``conv`` the way the dispatcher does."""
    ci = await CheckIn.get(id=conv.checkin_id)
    ep = await Episode.get(id=ci.episode_id)
    async with in_transaction() as conn:
        return await escalations.raise_for(conn, conversation=conv,
                                           department_id=ep.department_id, kind=kind,
                                           priority=priority, reason=reason, now=rt.now())


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no csrf field on the page"
    return m.group(1)


async def sign_in(client: Any, username: str, password: str = PASSWORD) -> str:
    """Sign a test client in; returns a CSRF token for its POSTs."""
    page = await (await client.get("/staff/login")).text()
    r = await client.post("/staff/login", data={"username": username, "password": password,
                                                "csrf": csrf_of(page), "next": "/staff/queue"})
    assert r.status == 200, await r.text()
    html = await r.text()
    return csrf_of(html)


async def sign_in_page(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    """Sign a browser page in through the form."""
    await page.goto(base + "staff/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login button[type=submit]")
    await page.wait_for_url("**/staff/queue**")
