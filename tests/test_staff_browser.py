"""The staff workspace in real headless Chromium: sign in, a claim race between two browsers,
reply, reveal, resolve, and the queue updating itself. Screenshots feed the README."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import Browser, Page, expect

from bot.clock import FrozenClock
from bot.config import Settings
from bot.keys import RUNTIME
from models import AuditEvent, Conversation, Escalation, Message
from tests.browser import screenshot_path
from tests.conftest import eventually
from tests.staff_helpers import conversation, escalate, make_staff, sign_in_page

PHONE = {"width": 390, "height": 844}


async def _signed_in(browser: Browser, base: str, username: str) -> Page:
    ctx = await browser.new_context(viewport=PHONE, locale="zh-CN")
    page = await ctx.new_page()
    await sign_in_page(page, base, username)
    return page


async def test_sign_in_claim_race_reply_reveal_resolve(
        settings: Settings, clock: FrozenClock, client_factory: Any, browser: Browser) -> None:
    client = await client_factory(settings, clock)
    rt = client.server.app[RUNTIME]
    base = str(client.make_url("/"))
    await make_staff("li", depts=["dental"], name="李护士")
    await make_staff("wang", depts=["dental"], name="王医生")
    conv = await conversation(rt, name="张三", phone="13812345678")
    esc = await escalate(rt, conv, "complaint", "high", "complaint words in the reply")
    await escalate(rt, await conversation(rt, name="李四"), "red_flag", "urgent", "symptom")

    # Sign in (the login page, then the queue, on a phone-sized screen).
    login_ctx = await browser.new_context(viewport=PHONE)
    login = await login_ctx.new_page()
    await login.goto(base + "staff/queue")
    await expect(login).to_have_url(f"{base}staff/login?next=/staff/queue")
    await login.fill("input[name=username]", "li")
    await login.fill("input[name=password]", "wrong-password")
    await login.click("#login button[type=submit]")
    await expect(login.locator(".error")).to_contain_text("用户名或密码不正确")
    await login.screenshot(path=screenshot_path("staff-login"), full_page=True)
    await login_ctx.close()

    a = await _signed_in(browser, base, "li")
    b = await _signed_in(browser, base, "wang")
    rows = a.locator("tr[data-escalation]")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("临床警示")  # urgent first
    await expect(a.locator(f"tr[data-escalation='{esc.id}']")).to_contain_text("张*")
    await a.screenshot(path=screenshot_path("staff-queue"), full_page=True)

    # The claim race: both press "认领" at the same moment; one wins, the other is told who.
    for p in (a, b):
        await p.goto(f"{base}staff/escalations/{esc.id}")
    await asyncio.gather(a.click("#claim"), b.click("#claim"))
    await asyncio.gather(a.wait_for_load_state(), b.wait_for_load_state())
    fresh = await Escalation.get(id=esc.id).prefetch_related("assignee")
    assert fresh.status == "claimed"
    winner, loser = (a, b) if fresh.assignee.username == "li" else (b, a)
    await expect(winner.locator("#notice")).to_contain_text("已认领")
    await expect(loser.locator("#error")).to_contain_text(
        f"已被他人认领： {fresh.assignee.display_name}")
    await loser.screenshot(path=screenshot_path("staff-claim-race"), full_page=True)
    assert (await Conversation.get(id=conv.id)).status == "staff"  # the bot is silent now

    # Reply with a canned text, through the person's own channel.
    await winner.select_option("#canned", index=1)
    await winner.click("#send-reply")
    await expect(winner.locator("#notice")).to_contain_text("回复已进入发送队列")
    await expect(winner.locator(".msg.sender-staff")).to_contain_text(
        fresh.assignee.display_name)
    await eventually(lambda: Message.filter(sender="staff", status="delivered").exists())

    # Reveal the name and phone: deliberate, with a reason, audited.
    await expect(winner.locator("#contact")).to_contain_text("138****5678")
    await winner.click("#reveal summary")
    await winner.fill("#reveal input[name=why]", "需要电话回访")
    await winner.click("#reveal-button")
    await expect(winner.locator("#contact .revealed")).to_contain_text("张三 13812345678")
    await winner.screenshot(path=screenshot_path("staff-takeover"), full_page=True)
    ev = await AuditEvent.get(kind="contact_revealed")
    assert ev.actor == fresh.assignee.username and ev.data["why"] == "需要电话回访"

    # Resolve: an outcome, a note, and the bot resumes the unfinished survey.
    await winner.goto(f"{base}staff/escalations/{esc.id}")
    await winner.select_option("#resolve-form select[name=outcome]", "已沟通解决")
    await winner.fill("#resolve-form textarea[name=note]", "电话沟通，患者接受道歉")
    await winner.check("#resolve-form input[value=resume]")
    await winner.click("#resolve")
    await winner.wait_for_url("**/staff/queue?view=mine")
    done = await Escalation.get(id=esc.id)
    assert done.status == "resolved" and done.outcome == "已沟通解决"
    assert (await Conversation.get(id=conv.id)).status == "open"

    # The queue refreshes itself: a new escalation appears without a reload.
    await loser.goto(base + "staff/queue")
    await expect(loser.locator("tr[data-escalation]")).to_have_count(1)
    await escalate(rt, await conversation(rt, name="王五"), "question", "normal", "question")
    await expect(loser.locator("tr[data-escalation]")).to_have_count(2, timeout=10_000)

    en = await _signed_in(browser, base, "li")
    await en.goto(base + "staff/queue?lang=en&view=all")
    await expect(en.locator("h1")).to_have_text("Escalation queue")
