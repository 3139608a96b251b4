"""The inbox in real headless Chromium: what the person writes during a takeover appears at
once on the assignee's open conversation page (server-sent events) and marks the queue row
unread; urgent escalations raise a banner, a sound and a browser notification on any page
until claimed; the keys; the queue on a phone. Its screenshots (tests/artifacts/inbox-*.png)
are the ones README's staff workspace shows, copied to docs/screenshots/."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, Page, expect

from bot.clock import FrozenClock
from bot.config import Settings
from models import Escalation
from tests.browser import screenshot_path
from tests.loop_helpers import (
    checkins_sent,
    contact_id,
    escalation_of,
    import_visits,
    processed,
    say,
    settle,
    visit,
)
from tests.staff_helpers import make_staff, sign_in_page

UNREAD = re.compile(r"(^|\s)unread(\s|$)")
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
# Records the browser notifications the page raises, and lets the real API show them.
SPY_NOTIFICATIONS = """
window.__notes = [];
if (window.Notification) {
  window.Notification = new Proxy(window.Notification, {
    construct(target, args) {
      window.__notes.push(args[0] + " " + ((args[1] || {}).body || ""));
      return new target(...args);
    },
  });
}
"""


async def _page(browser: Browser, base: str, username: str, viewport: dict[str, int],
                **ctx: Any) -> Page:
    context = await browser.new_context(viewport=viewport, locale="zh-CN", **ctx)
    page = await context.new_page()
    await sign_in_page(page, base, username)
    return page


async def test_a_takeover_streams_the_persons_words_and_marks_the_queue_unread(
        settings: Settings, clock: FrozenClock, client_factory: Any, browser: Browser) -> None:
    client = await client_factory(settings, clock)
    base = str(client.make_url("/"))
    await make_staff("li", depts=["dental", "ortho"], name="李护士")
    await import_visits(client, visit("D-1", "张伟", "13800001111", clinician="李医生"),
                        visit("D-2", "王芳", "13800002222", treatment_type="拔牙"),
                        visit("O-1", "刘洋", "13800003333", "ortho", "骨科"))
    await checkins_sent(clock, 3)
    zhang, wang, liu = [await contact_id(p) for p in ("13800001111", "13800002222",
                                                      "13800003333")]
    await processed(await say(client, zhang, "2 护士态度不好，等了一个多小时"))
    await processed(await say(client, liu, "复诊要预约吗？"))
    await settle(client)
    complaint = await escalation_of(zhang)

    desk = await _page(browser, base, "li", DESKTOP)
    queue = desk
    await expect(queue.locator("tr[data-escalation]")).to_have_count(2)
    await expect(queue.locator("body")).to_have_attribute("data-live", "events")
    # A red flag arrives while the queue is open: it appears, first, without a reload.
    await processed(await say(client, wang, "拔牙后一直出血，止不住"))
    await expect(queue.locator("tr[data-escalation]")).to_have_count(3, timeout=10_000)
    await expect(queue.locator("tr[data-escalation]").first).to_contain_text("临床警示")
    await expect(queue.locator("#alert-banner")).to_be_visible()

    # j/k move, Enter opens; c claims.
    await queue.keyboard.press("j")
    await queue.keyboard.press("j")
    await expect(queue.locator("tr.selected")).to_have_attribute(
        "data-escalation", str(complaint.id))
    await queue.keyboard.press("Enter")
    await queue.wait_for_url(f"**/staff/escalations/{complaint.id}")
    conv = queue
    await conv.keyboard.press("c")
    await expect(conv.locator("#notice")).to_contain_text("已认领")
    await expect(conv.locator("#visit")).to_contain_text("李医生")

    # A second tab: the "Mine" queue.
    mine = await conv.context.new_page()
    await mine.goto(base + "staff/queue?view=mine")
    row = mine.locator(f"tr[data-escalation='{complaint.id}']")
    await expect(row).not_to_have_class(UNREAD)

    # The person writes: it appears on the open page at once, masked; the row turns unread.
    mid = await say(client, zhang, "我是张伟，现在还是很生气，你们打算怎么处理？")
    message = conv.locator(f"#chat [data-message='{mid}']")
    await expect(message).to_contain_text("现在还是很生气", timeout=10_000)
    await expect(message).to_contain_text("我是张*")
    await expect(conv.locator("#new-messages")).to_be_visible()
    await expect(row).to_have_class(UNREAD, timeout=10_000)
    await expect(row).to_contain_text("患者已回复")
    await expect(mine.locator("[data-view=mine] .unread-count")).to_have_text("1")
    assert "张伟" not in await conv.content() and "张伟" not in await mine.content()
    await conv.screenshot(path=screenshot_path("inbox-conversation"), full_page=True)
    await mine.screenshot(path=screenshot_path("inbox-desktop"), full_page=True)

    # Ctrl+Enter sends the reply; touching the page marked the message read.
    await conv.fill("#reply-form textarea", "非常抱歉，我是李护士，马上为您处理。")
    await conv.locator("#reply-form textarea").press("Control+Enter")
    await expect(conv.locator("#notice")).to_contain_text("回复已进入发送队列")
    await expect(row).not_to_have_class(UNREAD, timeout=10_000)
    await conv.keyboard.press("r")
    assert await conv.evaluate("document.activeElement.name") == "outcome"

    # The queue on a phone: rows are cards, every cell as wide as the screen allows.
    phone = await _page(browser, base, "li", PHONE)
    await phone.goto(base + "staff/queue?view=all")
    await expect(phone.locator("tr[data-escalation]")).to_have_count(3)
    width = await phone.locator("tr[data-escalation] td.c-last").first.evaluate(
        "e => e.getBoundingClientRect().width")
    assert width > 300, width  # no squeezed, one-character columns
    await phone.screenshot(path=screenshot_path("inbox-phone"), full_page=True)


async def test_an_urgent_escalation_alerts_on_any_page_until_claimed(
        settings: Settings, clock: FrozenClock, client_factory: Any, browser: Browser) -> None:
    client = await client_factory(settings, clock)
    base = str(client.make_url("/"))
    await make_staff("boss", "manager", name="院长")
    await make_staff("li", depts=["dental"])
    await import_visits(client, visit("E-1", "王五", "13900000005", "ent", "耳鼻喉科"))
    await checkins_sent(clock, 1)

    # The manager reads the tallies, browser notifications allowed.
    page = await _page(browser, base, "boss", DESKTOP, permissions=["notifications"])
    await page.add_init_script(SPY_NOTIFICATIONS)
    await page.goto(base + "tallies")
    banner = page.locator("#alert-banner")
    await expect(banner).to_be_hidden()
    # A red flag in a department nobody works: it reaches the manager's open page.
    await processed(await say(client, await contact_id("13900000005"), "耳朵一直流脓，烧到39度"))
    esc = await Escalation.get()
    await expect(banner).to_be_visible(timeout=10_000)
    await expect(banner.locator(f"[data-alert='{esc.id}']")).to_contain_text("临床警示")
    await expect(banner).to_have_attribute("data-beeps", "1")  # the sound played
    notes = await page.evaluate("window.__notes")
    assert len(notes) == 1 and f"#{esc.id}" in notes[0] and "耳鼻喉科" in notes[0]
    await page.screenshot(path=screenshot_path("inbox-alert"))

    # On every page, until someone claims it; without permission, the page offers to ask.
    other = await _page(browser, base, "boss", PHONE)
    await other.goto(base + "staff/notifications")
    await expect(other.locator("#alert-banner")).to_be_visible()
    await expect(other.locator("#alert-enable")).to_be_visible()
    await other.goto(f"{base}staff/escalations/{esc.id}")
    await other.click("#claim")
    await expect(other.locator("#alert-banner")).to_be_hidden()
    await expect(banner).to_be_hidden(timeout=10_000)  # the tallies page heard it too
    assert len(await page.evaluate("window.__notes")) == 1  # one notification per event
