"""The phone follow-up end to end, a member of staff in real headless Chromium.

An 88-year-old marked phone only is called twice by the keypad survey (the fake Aliyun Voice
Service pushes "no answer", then "rejected"); the check-in lands on the dental department's
call list; an agent claims it (the number shows, with a tel: link), completes the survey on the
phone in the form the H5 page uses, and the answer appears in the tallies under channel
``phone``. Its screenshots (tests/artifacts/call-*.png) are the ones README shows, copied to
docs/screenshots/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from bot.clock import FrozenClock
from models import Answer, CallTask, CheckIn
from tests.browser import screenshot_path
from tests.conftest import eventually
from tests.fake_aliyun_vms import APPROVED, SHOW_NUMBER, FakeAliyunVms
from tests.phone_helpers import at, calls_placed, elder, phone_settings, push, start
from tests.staff_helpers import make_staff, sign_in_page

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
async def vms(clock: FrozenClock) -> AsyncIterator[FakeAliyunVms]:
    f = await FakeAliyunVms(show_numbers={SHOW_NUMBER}, tts_codes=APPROVED, clock=clock).start()
    yield f
    await f.close()


async def test_unanswered_calls_reach_the_call_list_and_staff_complete_it_in_the_browser(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, client_factory: Any,
        browser: Browser) -> None:
    client = await start(client_factory, phone_settings(db_url, vms), clock,
                         elder("B-1", "13900001234", clinician="李医生", treatment_type="补牙"),
                         {**elder("B-2", "13900004321"), "person_name": "赵爷爷",
                          "department": "ortho", "department_name": "骨科"})
    await make_staff("li", depts=["dental"], name="李护士")
    await make_staff("boss", role="manager", name="院办")
    # Two keypad survey calls, neither answered: no answer, then rejected.
    clock.set(at(16, 14, 1))
    await calls_placed(client, vms, 2)
    other = next(c for c in vms.ivr_calls() if c.phone == "13900004321")
    mine = next(c for c in vms.ivr_calls() if c.phone == "13900001234")
    await push(client, [vms.voice_report(mine, "200003", smart="NO_ANSWER"),
                        vms.voice_report(other, "200000", dtmf="5", duration=12)])
    clock.set(at(16, 16, 5))
    await calls_placed(client, vms, 3)
    second = vms.ivr_calls()[-1]
    assert second.phone == "13900001234"
    await push(client, [vms.voice_report(second, "200005", smart="CALL_REJECTED")])
    task = await eventually(lambda: CallTask.first())

    base = str(client.make_url("/"))
    context = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = await context.new_page()
    await sign_in_page(page, base, "li")
    await page.click("#nav-calls")
    row = page.locator(f'tr[data-task="{task.id}"]')
    await expect(row).to_contain_text("王**")
    await expect(row).to_contain_text("语音电话 ×2")
    await expect(row).to_contain_text("现在可拨打")
    await expect(page.locator("tr[data-task]")).to_have_count(1)  # not another department's
    await expect(page.locator("body")).not_to_contain_text("13900001234")
    await page.screenshot(path=screenshot_path("call-list"), full_page=True)

    await row.locator("a").click()
    await page.click("#claim")
    await expect(page.locator("#notice")).to_be_visible()
    await expect(page.locator("#dial")).to_have_attribute("href", "tel:13900001234")
    await expect(page.locator("#contact")).to_contain_text("王奶奶")
    # Connected: the person answers on the phone; the caller taps what they said.
    await page.check('input[name="outcome"][value="completed"]')
    await page.fill("#q_recovery", "不怎么疼了，也没有出血")
    await page.locator('label:has(input[name="q_overall"][value="4"])').click()
    await page.fill("#note", "本人接听，恢复良好")
    await page.screenshot(path=screenshot_path("call-task"), full_page=True)
    await page.click("#record")
    await expect(page.locator("#notice")).to_contain_text("通话结果已保存")
    await expect(page.locator("#staff-calls")).to_contain_text("接通 · 完成回访")

    got = await Answer.filter(question_id="overall").order_by("id")
    assert [(a.score, a.channel) for a in got] == [(5, "voice"), (4, "phone")]
    told = await Answer.get(question_id="recovery")
    assert (told.text, told.channel) == ("不怎么疼了，也没有出血", "phone")
    assert (await CheckIn.get(episode__external_id="B-1")).status == "answered"
    assert (await CallTask.get(id=task.id)).status == "done"

    # The manager's tallies by channel count it under 人工电话 (phone).
    boss = await (await browser.new_context(viewport=DESKTOP, locale="zh-CN")).new_page()
    await sign_in_page(boss, base, "boss")
    await boss.goto(base + "tallies?by=channel&period=all")
    phone_row = boss.locator('tr[data-department="phone"][data-question="overall"]')
    await expect(phone_row).to_have_count(1)
    await expect(phone_row).to_contain_text("1")
    await boss.goto(base + "staff/calls/coverage?from=2026-11-16&to=2026-11-16")
    total = boss.locator('#coverage tr[data-channel="phone"][data-department="total"]')
    await expect(total).to_contain_text("100.0%")
    await boss.screenshot(path=screenshot_path("call-coverage"), full_page=True)
