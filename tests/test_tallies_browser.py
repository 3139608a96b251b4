"""The manager dashboard in Debian's headless Chromium: table, charts, drill-down, report."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from bot.clock import FrozenClock
from bot.config import Settings
from tests.browser import screenshot_path
from tests.staff_helpers import make_staff, sign_in_page
from tests.test_tallies import NOW, seed


async def test_manager_reads_the_dashboard_in_a_browser(settings: Settings, client_factory: Any,
                                                        browser: Browser) -> None:
    client = await client_factory(settings, FrozenClock(NOW))
    await seed()
    await make_staff("boss", "manager")
    base = str(client.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in_page(page, base, "boss")

    await page.goto(base + "tallies")
    row = page.locator('tr[data-department="口腔科"][data-question="overall"]')
    await expect(row.locator("td.n")).to_have_text("6")
    await expect(row.locator("td.d5")).to_have_text("3")
    await expect(row.locator("td.mean")).to_contain_text("4.00")
    await expect(page.locator('tr[data-department="骨科"][data-question="overall"] td.mean'))\
        .to_have_text("—")
    # both charts render as inline SVG; months under five answers leave no point
    await expect(page.locator("#trend svg .legend").first).to_have_text("口腔科")
    await expect(page.locator("#trend svg circle")).to_have_count(0)
    await expect(page.locator('#compare svg rect[data-label="口腔科"]')).to_be_visible()
    await expect(page.locator("#compare svg .hidden-value")).to_contain_text("—")
    await page.goto(base + "tallies?by=channel")  # wechat: five answers in October
    await expect(page.locator("#trend svg circle")).to_have_count(1)
    await page.screenshot(path=screenshot_path("dashboard"), full_page=True)
    await page.goto(base + "tallies")

    # filters: by month, in English
    await page.select_option("select[name=period]", "month")
    await page.click("#filters button[type=submit]")
    await expect(page.locator('tr[data-department="口腔科"][data-period="2026-11"] td.n'))\
        .to_have_text("2")
    await page.goto(base + "tallies?lang=en")
    await expect(page.locator("h2").first).to_have_text("Follow-up operations")

    # drill-down from the number to the answers behind it, without who gave them
    await page.click('tr[data-department="口腔科"][data-question="overall"] td.n a')
    await expect(page.locator("tr.answer td.score")).to_have_text(["2", "3", "4", "5", "5", "5"])
    await expect(page.locator("main")).not_to_contain_text("张三")
    await page.screenshot(path=screenshot_path("dashboard-drill-down"), full_page=True)

    # the printable monthly report
    await page.goto(base + "reports/monthly?period=2026-10&lang=zh")
    await expect(page.locator('tr[data-department="口腔科"] td.n')).to_have_text("4")
    await expect(page.locator("tr.total td").first).to_have_text("全院")
    await page.emulate_media(media="print")
    await expect(page.locator("header")).to_be_hidden()
    await page.screenshot(path=screenshot_path("monthly-report"), full_page=True)
