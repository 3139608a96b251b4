"""The demo as a newcomer uses it: answer as a patient in a real browser."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.async_api import Browser, expect

from bot.clock import FrozenClock
from bot.config import Settings
from models import CheckIn, Message
from tests.browser import screenshot_path
from tests.conftest import eventually
from tests.staff_helpers import make_staff, sign_in_page

VISIT = {
    "external_id": "B-1", "person_name": "张三", "contact_phone": "13812345678",
    "occurred_at": "2026-11-16 09:30", "department": "dental", "department_name": "口腔科",
}


async def test_patient_answers_in_the_browser(settings: Settings, clock: FrozenClock,
                                              client_factory: Any, browser: Browser) -> None:
    client = await client_factory(settings, clock)
    await client.post("/api/episodes", json={"episodes": [VISIT]},
                      headers={"Authorization": "Bearer test-key"})
    clock.advance(timedelta(days=1, hours=1))
    await eventually(lambda: Message.filter(direction="out", status="delivered").exists())
    contact_id = (await CheckIn.get()).contact_id
    base = str(client.make_url("/"))

    page = await browser.new_page(viewport={"width": 390, "height": 800})
    await page.goto(base + "simulator")
    await page.click("text=张三")
    await expect(page.locator(".msg.out").first).to_contain_text("总体满意")
    await page.fill("input[name=text]", "2 护士态度不好")
    await page.click("button[type=submit]")
    # The bot's answers arrive without a reload (long polling).
    await expect(page.locator(".msg.out")).to_have_count(3, timeout=10_000)
    await expect(page.locator(".msg.in")).to_have_text(["患者2 护士态度不好"])
    await expect(page.locator(".msg.out").nth(2)).to_contain_text("感谢您的反馈")
    await page.screenshot(path=screenshot_path("simulator-chat"), full_page=True)

    await make_staff("agent", depts=["dental"])
    await sign_in_page(page, base, "agent")
    await expect(page.locator("tr[data-escalation]")).to_have_count(1)
    await expect(page.locator("tr[data-escalation]")).to_contain_text("张*")
    await make_staff("boss", "manager")  # the tallies are for managers and heads
    manager = await (await browser.new_context()).new_page()
    await sign_in_page(manager, base, "boss")
    await manager.goto(base + "tallies?period=all")
    row = manager.locator('tr[data-dimension=department][data-question=overall]').first
    await expect(row.locator("td.n")).to_have_text("1")  # counted; one answer shows no figures
    await expect(row.locator("td.d2")).to_have_text("—")
    assert contact_id


async def test_simulator_works_without_javascript(settings: Settings, clock: FrozenClock,
                                                  client_factory: Any, browser: Browser) -> None:
    client = await client_factory(settings, clock)
    await client.post("/api/episodes", json={"episodes": [VISIT]},
                      headers={"Authorization": "Bearer test-key"})
    clock.advance(timedelta(days=1, hours=1))
    await eventually(lambda: Message.filter(direction="out", status="delivered").exists())
    ctx = await browser.new_context(java_script_enabled=False)
    page = await ctx.new_page()
    await page.goto(str(client.make_url("/simulator")))
    await page.click("text=张三")
    await page.fill("input[name=text]", "5")
    await page.click("button[type=submit]")
    await expect(page.locator(".msg.in")).to_contain_text(["5"])
    await eventually(lambda: Message.filter(direction="out", status="delivered").count())
    await ctx.close()
