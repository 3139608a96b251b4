"""The dashboard, drill-down, follow-up page, report delivery and ``survey-bot report``."""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.analytics import delivery
from bot.analytics.tallies import Tally
from bot.cli import main
from bot.clock import FrozenClock
from bot.config import Settings
from bot.keys import RUNTIME
from bot.runtime import Runtime
from handlers.dashboard import _figure_cells
from handlers.render import _env
from tests.fake_wecom import FakeWecom
from tests.report_data import NOW, SH, START, report_settings, seed_through_the_product
from tests.staff_helpers import make_staff, sign_in

OCT = "from=2026-10-01&to=2026-10-31"


async def seeded(db_url: str, client_factory: Any, role: str = "manager",
                 depts: list[str] | None = None, **extra: Any) -> Any:
    clock = FrozenClock(START)
    client = await client_factory(report_settings(db_url, **extra), clock)
    await seed_through_the_product(client, clock)
    clock.set(NOW)
    await make_staff("boss", role, depts or [])
    await sign_in(client, "boss")
    client.clock = clock
    return client


async def test_dashboard_charts_pages_and_english(db_url: str, client_factory: Any) -> None:
    client = await seeded(db_url, client_factory)
    html = await (await client.get(f"/tallies?{OCT}")).text()
    assert html.count("<svg") == 2 and "满意度趋势" in html and "总体满意度" in html
    assert 'data-theme="attitude"' in html and 'data-staff="张伟"' in html
    assert "百分制得分 = 平均分 × 20" in html
    en = await (await client.get(f"/tallies?lang=en&by=clinician&{OCT}")).text()
    assert "Satisfaction trend" in en and "100-point score = mean × 20" in en
    # a clinician is shown within their department
    assert re.search(r'data-department="张伟" data-parent="内科"', en)
    assert re.search(r'data-department="张伟" data-parent="眼科"', en)
    assert (await client.get("/tallies?period=fortnight")).status == 400
    assert (await client.get("/tallies?by=clinician&key=x")).status == 200
    # rows are paginated; the exports hold them all
    fu = await (await client.get(f"/tallies/followup?lang=zh&{OCT}")).text()
    assert "随访率 = 已随访 ÷ 应随访" in fu and "消息应答率" in fu


async def test_drill_down_for_shown_groups_only(db_url: str, client_factory: Any) -> None:
    client = await seeded(db_url, client_factory)
    html = await (await client.get(f"/tallies?by=clinician&period=all&{OCT}")).text()
    link = re.search(r'data-department="王芳".*?href="([^"]+)"', html, re.S)
    assert link
    page = await (await client.get(link.group(1).replace("&amp;", "&"))).text()
    assert re.findall(r'<td class="score">(\d)</td>', page) == ["2", "4", "4", "5", "5", "5"]
    assert "排队太久，态度冷漠" in page and not re.search(r"患者\d\d", page)
    assert "很满意" in page and "13900000022" not in page  # the comment, its writer masked
    recs = (await (await client.get(
        f"/tallies/records.csv?by=clinician&period=all&{OCT}")).read()).decode("utf-8-sig")
    assert "很满意" in recs and not re.search(r"患者\d\d|1390000\d{4}", recs)
    small = await (await client.get(
        f"/tallies/answers?by=clinician&period=all&key=2|name:张伟&q=overall&{OCT}")).text()
    assert 'id="too-few"' in small
    bad = await client.get(f"/tallies/answers?by=clinician&key=oops&q=overall&{OCT}")
    assert bad.status == 400


async def test_head_sees_own_department_only(db_url: str, client_factory: Any) -> None:
    client = await seeded(db_url, client_factory, role="head", depts=["eye"])
    html = await (await client.get(f"/tallies?period=all&{OCT}")).text()
    assert 'data-department="眼科"' in html and 'data-department="内科"' not in html
    rep = await (await client.get("/reports/monthly.json?period=2026-10")).json()
    assert {r["department"] for r in rep["satisfaction"]} == {"眼科", "全院"}


async def test_agent_may_not_open_the_dashboard(settings: Settings, client_factory: Any) -> None:
    client = await client_factory(settings, FrozenClock(NOW))
    await make_staff("agent1", "agent", ["dental"])
    await sign_in(client, "agent1")
    assert (await client.get("/tallies")).status == 403
    assert (await client.get("/reports/monthly")).status == 403


async def test_report_goes_to_the_managers_robot_once(db_url: str,
                                                      client_factory: Any) -> None:
    fake = FakeWecom(keys={"managers"})
    base = await fake.start()
    try:
        client = await seeded(db_url, client_factory,
                              reports={"robot_key": "managers", "schedule": ["monthly"]},
                              wecom={"base_url": base})
        rt: Runtime = client.app[RUNTIME]
        clock = client.clock
        clock.set(datetime(2026, 11, 1, 8, 0, tzinfo=SH))
        assert await delivery.deliver_due(rt) == 0  # before 09:00 on the 1st
        clock.set(datetime(2026, 11, 1, 9, 5, tzinfo=SH))

        async def sent() -> bool:
            return len(fake.received) >= 1

        # the worker's loop delivers it (or this call, whichever comes first): once
        await delivery.deliver_due(rt)
        await asyncio.sleep(0.3)
        assert await delivery.deliver_due(rt) == 0
        # September's went out while the seeding clock stood in October (a worker catches
        # up); October's on November 1st after 09:00; each once
        texts = [m["markdown"]["content"] for m in fake.received]
        octo = [t for t in texts if "2026-10**" in t]
        assert len(octo) == 1 and len(texts) == len(set(texts))
        text = octo[0]
        assert "/reports/monthly?period=2026-10" in text and "83.6 分（28 份回答）" in text
        for name in ("张伟", "李娜", "王芳", "赵强", "孙丽", "患者"):
            assert name not in text  # no person's name
    finally:
        await fake.close()


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
async def test_cli_report(db_url: str, client_factory: Any, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    client = await seeded(db_url, client_factory)
    await client.close()  # the command opens the database on its own
    monkeypatch.setenv("SURVEYBOT_DATABASE__URL", db_url)
    out = tmp_path / f"r.{fmt}"
    code = await asyncio.to_thread(main, ["report", "--period", "2026-10", "--format", fmt,
                                          "--output", str(out)])
    assert code == 0
    data = out.read_bytes()
    if fmt == "json":
        rep = json.loads(data)
        assert {r["department"]: r["answers"] for r in rep["satisfaction"]} == {
            "内科": 15, "眼科": 13, "全院": 28}
    elif fmt == "csv":
        assert "【满意度 Satisfaction】" in data.decode("utf-8-sig")
    else:
        wb = load_workbook(io.BytesIO(data))
        assert "随访 Follow-up" in wb.sheetnames
    bad = await asyncio.to_thread(main, ["report", "--period", "2026-13"])
    assert bad == 2


async def test_table_is_paged_and_the_export_holds_every_row(db_url: str,
                                                            client_factory: Any) -> None:
    """A page sends at most ``page_rows`` rows and says so, linking the export; walking the
    pages gives the export's rows, in its order, each once."""
    client = await seeded(db_url, client_factory, tallies={"page_rows": 10})
    qs = f"by=clinician&period=day&{OCT}"
    export = json.loads(await (await client.get(f"/tallies/export.json?{qs}")).text())["rows"]
    assert len(export) > 10  # two pages at least
    row = re.compile(r'<tr data-department="([^"]*)" data-parent="([^"]*)" '
                     r'data-dimension="([^"]*)" data-question="([^"]*)" data-period="([^"]*)"'
                     r'.*?<td class="n">(?:<a [^>]*>)?(\d+)<', re.S)
    seen: list[tuple[str, ...]] = []
    url: str | None = f"/tallies?lang=en&{qs}"
    pages = 0
    while url:
        html = await (await client.get(url)).text()
        pages += 1
        rows = row.findall(html)
        assert 0 < len(rows) <= 10
        a, b = len(seen) + 1, len(seen) + len(rows)
        assert f"Rows {a}–{b} of {len(export)}; the exports hold every row." in html
        link = re.search(r'<a href="(/tallies/export\.csv\?[^"]+)" id="all-rows">', html)
        assert link, "a capped page links the export of every row"
        csv_text = await (await client.get(link.group(1).replace("&amp;", "&"))).text()
        assert len(csv_text.strip().splitlines()) > len(export)  # a header and every row
        seen += rows
        nxt = re.search(r'<a href="([^"]+)" id="next-page">', html)
        url = nxt.group(1).replace("&amp;", "&") + "&lang=en" if nxt else None
    assert pages == -(-len(export) // 10)
    assert seen == [(r["key"], r["department"] if r["dimension"] == "clinician" else "",
                     r["dimension"], r["question"], r["period"], str(r["answers"]))
                    for r in export]


# The table's figure cells as the shared macros write them (the report pages still use them).
_MACRO_CELLS = _env.from_string(
    '{% import "_tally_macros.html" as m %}{{ m.dist(r) }}\n'
    '    <td class="mean">{{ m.mean(r) }}</td>\n    <td class="s100">{{ m.s100(r) }}</td>\n'
    '    <td class="top1">{{ m.rate(r.top_box_rate) }}</td>\n'
    '    <td class="top2">{{ m.rate(r.top_two_rate) }}</td>')


@given(st.lists(st.integers(0, 60), min_size=5, max_size=5), st.integers(1, 12),
       st.sampled_from([None, True, False]), st.sampled_from(["", "small", "complement"]),
       st.sampled_from(["times20", "linear"]))
def test_table_cells_are_the_macros_cells(counts: list[int], min_answers: int,
                                          hidden: bool | None, reason: str,
                                          scale: str) -> None:
    """The /tallies table writes its figure cells in Python, once per row; they are the
    shared macros' cells character for character, shown, hidden and hidden with a star."""
    t = Tally("department", "内科", "overall", "2026-10", min_answers=min_answers,
              hidden=hidden, reason=reason, scale=scale,
              distribution={s: n for s, n in enumerate(counts, start=1)})
    assert str(_figure_cells(t)) == _MACRO_CELLS.render(r=t)
