"""The manager pages in Debian's headless Chromium: tallies, drill-down, the monthly report
(screenshots for docs/screenshots/)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from bot.clock import FrozenClock
from tests.browser import screenshot_path
from tests.report_data import NOW, START, report_settings, seed_through_the_product
from tests.staff_helpers import make_staff, sign_in_page

OCT = "from=2026-10-01&to=2026-10-31"


async def test_manager_reads_tallies_and_report_in_a_browser(db_url: str, client_factory: Any,
                                                             browser: Browser) -> None:
    clock = FrozenClock(START)
    client = await client_factory(report_settings(db_url), clock)
    await seed_through_the_product(client, clock)
    clock.set(NOW)
    await make_staff("boss", "manager")
    base = str(client.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in_page(page, base, "boss")

    await page.goto(base + f"tallies?by=clinician&period=all&{OCT}")
    row = page.locator('tr[data-department="张伟"][data-parent="内科"]')
    await expect(row.locator("td.n")).to_have_text("6")
    await expect(row.locator("td.mean")).to_contain_text("4.33")
    small = page.locator('tr[data-department="张伟"][data-parent="眼科"]')
    await expect(small.locator("td.n")).to_have_text("2")
    await expect(small.locator("td.mean")).to_have_text("—")
    await expect(small.locator("td.d5")).to_have_text("—")
    await expect(page.locator("#compare svg")).to_be_visible()
    await page.screenshot(path=screenshot_path("dashboard"), full_page=True)

    await page.click('tr[data-department="王芳"] td.n a')
    await expect(page.locator("tr.answer td.score")).to_have_count(6)
    await page.screenshot(path=screenshot_path("dashboard-drill-down"), full_page=True)

    await page.goto(base + "reports/monthly?period=2026-10&lang=zh")
    r = page.locator('table.sat tr[data-department="内科"][data-question="overall"]')
    await expect(r.locator("td.n")).to_have_text("15")
    await expect(r.locator("td.s100")).to_have_text("84.0")
    await expect(page.locator("ol.ranking li").first).to_contain_text("内科")
    await expect(page.locator("#complaints")).to_be_visible()
    await page.emulate_media(media="print")
    await expect(page.locator("header")).to_be_hidden()
    await page.screenshot(path=screenshot_path("monthly-report"), full_page=True)
