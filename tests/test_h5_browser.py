"""The H5 survey page in real headless Chromium at 360 px, with and without JavaScript."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.async_api import Browser, expect

from bot.clock import FrozenClock
from bot.config import Settings
from models import Answer, Escalation, SurveyLink
from tests.browser import screenshot_path
from tests.conftest import eventually

VISIT = {
    "external_id": "H5-B-1", "person_name": "张三", "contact_phone": "13812345678",
    "occurred_at": "2026-11-16 09:30", "department": "dental", "department_name": "口腔科",
}


async def _link(settings: Settings, clock: FrozenClock, client_factory: Any) -> str:
    client = await client_factory(settings, clock)
    await client.post("/api/episodes", json={"episodes": [VISIT]},
                      headers={"Authorization": "Bearer test-key"})
    clock.advance(timedelta(days=1, hours=1))
    link = await eventually(lambda: SurveyLink.first())
    return str(client.make_url(f"/s/{link.token}"))


async def test_tap_a_score_at_360px(settings: Settings, clock: FrozenClock,
                                    client_factory: Any, browser: Browser) -> None:
    url = await _link(settings, clock, client_factory)
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    await page.goto(url)
    await expect(page.locator("legend").first).to_contain_text("总体满意")
    # Fits the phone: nothing wider than the viewport, tap targets at least 44 px high.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    box = await page.locator(".scale span").first.bounding_box()
    assert box is not None and box["height"] >= 44
    await page.click(".scale label:has-text('4')")
    await page.fill("textarea[name=comment]", "医生讲解很清楚")
    await page.screenshot(path=screenshot_path("h5-survey-360"), full_page=True)
    await page.click("button[type=submit]")
    await expect(page.locator("[data-role=said]")).to_contain_text("感谢您的反馈")
    await page.screenshot(path=screenshot_path("h5-thanks-360"), full_page=True)
    answer = await Answer.get(question_id="overall")
    assert answer.score == 4 and answer.channel == "h5"
    await page.goto(url)
    await expect(page.locator("[data-role=note]")).to_contain_text("已经完成")


async def test_red_flag_without_javascript(settings: Settings, clock: FrozenClock,
                                           client_factory: Any, browser: Browser) -> None:
    url = await _link(settings, clock, client_factory)
    ctx = await browser.new_context(java_script_enabled=False,
                                    viewport={"width": 360, "height": 740})
    page = await ctx.new_page()
    await page.goto(url)
    await page.click(".scale label:has-text('3')")
    await page.fill("textarea[name=comment]", "拔牙后一直出血")
    await page.click("button[type=submit]")
    await expect(page.locator("[data-role=said]")).to_contain_text("情况紧急请立即拨打120")
    await page.screenshot(path=screenshot_path("h5-red-flag-360"), full_page=True)
    esc = await Escalation.get()
    assert esc.kind == "red_flag" and esc.priority == "urgent"
    await ctx.close()
