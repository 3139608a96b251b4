"""The dashboard, drill-down, exports, monthly report and ``survey-bot report`` over HTTP/CLI."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot import db
from bot.cli import main
from bot.clock import FrozenClock
from bot.config import Settings
from tests.staff_helpers import make_staff, sign_in
from tests.test_tallies import NOW, seed


def cells(html: str, dept: str, question: str = "overall") -> dict[str, str]:
    m = re.search(rf'<tr data-department="{dept}" data-question="{question}"[^>]*>(.*?)</tr>',
                  html, re.S)
    assert m, f"no row for {dept}/{question}"
    out = dict(re.findall(r'<td class="(n|d\d)">(?:<a [^>]*>)?(\d+)', m.group(1)))
    mean = re.search(r'<td class="mean">([^<]*)', m.group(1))
    out["mean"] = mean.group(1).strip() if mean else ""
    return out


async def manager_client(settings: Settings, client_factory: Any, role: str = "manager",
                         depts: list[str] | None = None) -> Any:
    clock = FrozenClock(NOW)
    client = await client_factory(settings, clock)
    ids = await seed()
    await make_staff("boss", role, depts or [])
    await sign_in(client, "boss")
    client.ids = ids
    return client


async def test_dashboard_tallies_charts_and_operations(settings: Settings,
                                                       client_factory: Any) -> None:
    client = await manager_client(settings, client_factory)
    html = await (await client.get("/tallies")).text()
    assert cells(html, "口腔科") == {"n": "6", "d1": "0", "d2": "1", "d3": "1", "d4": "1",
                                    "d5": "3", "mean": "4.00"}
    assert cells(html, "骨科")["mean"] == "—"  # three answers: hidden
    assert "[2.67–5.00]" in html  # the mean's 95 % interval
    assert html.count("<svg") == 2 and "满意度趋势" in html
    assert 'data-kind="question"' in html  # open escalations by kind
    assert re.search(r'data-group="口腔科".*?data-reason="opted_out"', html, re.S)
    english = await (await client.get("/tallies?lang=en&by=clinician&period=month")).text()
    assert "Satisfaction trend" in english and 'data-department="李医生"' in english
    bad = await client.get("/tallies?period=fortnight")
    assert bad.status == 400 and "period must be one of" in await bad.text()


async def test_drill_down_shows_masked_answers_only_for_large_groups(
        settings: Settings, client_factory: Any) -> None:
    client = await manager_client(settings, client_factory)
    html = await (await client.get("/tallies")).text()
    link = re.search(r'<tr data-department="口腔科" data-question="overall".*?href="([^"]+)"',
                     html, re.S)
    assert link
    page = await (await client.get(link.group(1).replace("&amp;", "&"))).text()
    scores = re.findall(r'<td class="score">(\d)</td>', page)
    assert scores == ["2", "3", "4", "5", "5", "5"]
    assert "王医生态度不好" in page
    assert "张三" not in page and "1380000" not in page  # never who answered
    ortho = client.ids["ortho"]
    small = await (await client.get(f"/tallies/answers?by=department&key={ortho}&q=overall"))\
        .text()
    assert 'id="too-few"' in small and "<td class=\"score\">" not in small


async def test_head_sees_own_department_only(settings: Settings, client_factory: Any) -> None:
    client = await manager_client(settings, client_factory, role="head", depts=["ortho"])
    html = await (await client.get("/tallies")).text()
    assert 'data-department="骨科"' in html and 'data-department="口腔科"' not in html
    dental = client.ids["dental"]
    page = await (await client.get(f"/tallies/answers?by=department&key={dental}&q=overall"))\
        .text()
    assert 'id="too-few"' in page  # another department's answers stay out of reach
    rep = await (await client.get("/reports/monthly.json?period=2026-10")).json()
    assert [d["department"] for d in rep["departments"]] == ["骨科"]


async def test_agent_may_not_open_the_dashboard(settings: Settings, client_factory: Any) -> None:
    clock = FrozenClock(NOW)
    client = await client_factory(settings, clock)
    await make_staff("agent1", "agent", ["dental"])
    await sign_in(client, "agent1")
    assert (await client.get("/tallies")).status == 403


async def test_exports_csv_and_xlsx(settings: Settings, client_factory: Any) -> None:
    client = await manager_client(settings, client_factory)
    r = await client.get("/tallies/export.csv?by=department&period=month")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    text = (await r.read()).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("dimension,group,period,question,answers,1,2,3,4,5,mean")
    assert "department,口腔科,2026-10,overall,4,0,0,1,1,2,—,—,—,—,—,—,—" in lines
    r = await client.get("/tallies/export.xlsx")
    wb = load_workbook(io.BytesIO(await r.read()))
    rows = list(wb.active.iter_rows(values_only=True))
    dental = next(x for x in rows if x[1] == "口腔科" and x[3] == "overall")
    assert dental[4] == 6 and dental[10] == 4.0
    r = await client.get("/tallies/records.csv?from=2026-11-01&to=2026-11-30")
    recs = (await r.read()).decode("utf-8-sig").splitlines()
    assert recs[0] == "id,day,department,clinician,treatment_type,channel,survey,question," \
                      "score,text,hash"
    assert len(recs) == 1 + 3  # two scores and one comment in November
    assert all("张三" not in line for line in recs)
    wb = load_workbook(io.BytesIO(await (await client.get("/tallies/records.xlsx")).read()))
    assert wb.active.max_row == 1 + len(await _answers())


async def _answers() -> list[Any]:
    from models import Answer

    return await Answer.all()


async def test_monthly_report_page_xlsx_and_json(settings: Settings,
                                                 client_factory: Any) -> None:
    client = await manager_client(settings, client_factory)
    page = await (await client.get("/reports/monthly?period=2026-10")).text()
    assert "回访与满意度月报" in page and 'data-department="口腔科"' in page
    rep = await (await client.get("/reports/monthly.json?period=2026-10")).json()
    dental = next(d for d in rep["departments"] if d["department"] == "口腔科")
    assert dental["answers"] == 4 and dental["distribution"] == [0, 0, 1, 1, 2]
    assert dental["lost"] == {"opted_out": 1, "refused": 1}
    assert dental["praise"] == {"李医生": 1}
    assert rep["total"]["answers"] == 7
    wb = load_workbook(io.BytesIO(await (await client.get(
        "/reports/monthly.xlsx?period=2026-10")).read()))
    assert wb.sheetnames == ["科室 Departments", "医生 Clinicians", "说明 Notes"]
    ws = wb["科室 Departments"]
    assert [r[0] for r in ws.iter_rows(min_row=4, values_only=True)] == ["口腔科", "骨科", "全院"]
    bad = await client.get("/reports/monthly?period=October")
    assert bad.status == 400 and "2026-10" in await bad.text()


async def _seed_db(url: str) -> None:
    await db.init_db(url)
    try:
        await seed()
    finally:
        await db.close_db()


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_cli_report(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    capsysbinary: pytest.CaptureFixture[bytes], fmt: str) -> None:
    asyncio.run(_seed_db(db_url))
    monkeypatch.setenv("SURVEYBOT_DATABASE__URL", db_url)
    out = tmp_path / f"r.{fmt}"
    assert main(["report", "--period", "2026-10", "--format", fmt, "--output", str(out)]) == 0
    data = out.read_bytes()
    if fmt == "json":
        rep = json.loads(data)
        assert {d["department"]: d["answers"] for d in rep["departments"]} == {"口腔科": 4,
                                                                              "骨科": 3}
    elif fmt == "csv":
        text = data.decode("utf-8-sig")
        assert text.splitlines()[1].startswith("口腔科,4,—")
    else:
        wb = load_workbook(io.BytesIO(data))
        assert wb["科室 Departments"]["A4"].value == "口腔科"
    assert main(["report", "--period", "2026-13"]) == 2
    assert "cannot read period" in capsysbinary.readouterr().err.decode()
