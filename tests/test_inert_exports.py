"""No export can run a formula: a patient's comment (the H5 form) and a clinician's name (the
import) that look like formulas come out as text, in every CSV and XLSX, over HTTP.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.analytics.exports import FORMULA_START, Sheet, csv_text, inert, xlsx_bytes
from bot.clock import FrozenClock
from models import SurveyLink
from tests.conftest import eventually
from tests.report_data import START, report_settings
from tests.staff_helpers import make_staff, sign_in

FORMULA = '=HYPERLINK("http://x","点我")'
NAMES = [FORMULA, "＝1+1", "+cmd", "-2+3", "@SUM(A1)"]
OCT = "from=2026-10-01&to=2026-10-31"


def is_live(v: Any) -> bool:
    return isinstance(v, str) and v.startswith(FORMULA_START)


def assert_inert_xlsx(data: bytes, must_contain: str) -> None:
    wb = load_workbook(io.BytesIO(data))
    seen = False
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                assert not is_live(c.value), (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str) and must_contain in c.value:
                    assert c.data_type == "s" and c.value.startswith("'")
                    seen = True
    assert seen, f"{must_contain!r} is not in the workbook"


def assert_inert_csv(text: str, must_contain: str) -> None:
    seen = False
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))):
        for v in row:
            assert not is_live(v), v
            if must_contain in v:
                assert v.startswith("'")
                seen = True
    assert seen, f"{must_contain!r} is not in the CSV"


async def test_formula_text_is_inert_in_every_export(db_url: str, client_factory: Any) -> None:
    clock = FrozenClock(START)
    client = await client_factory(report_settings(db_url), clock)
    visits = [{"external_id": f"F{i}", "person_name": f"患者{i}",
               "contact_phone": f"1370000000{i}", "occurred_at": "2026-10-05 09:30",
               "department": "im", "department_name": "内科", "clinician": NAMES[i]}
              for i in range(5)]
    r = await client.post("/api/episodes", json={"episodes": visits},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()
    clock.advance(timedelta(days=1, hours=1))

    async def links() -> bool:
        return await SurveyLink.all().count() >= 5

    await eventually(links, timeout=30)
    for i in range(5):
        link = await SurveyLink.get(checkin__episode__external_id=f"F{i}")
        comment = FORMULA + "排队太久" if i == 0 else "＋很好"
        r = await client.post(f"/s/{link.token}", data={"q_overall": str(5 - i % 2),
                                                        "q_comment": comment})
        assert r.status == 200
    await make_staff("boss", "manager")
    await sign_in(client, "boss")

    async def get(url: str) -> bytes:
        resp = await client.get(url)
        assert resp.status == 200, await resp.text()
        return await resp.read()

    assert_inert_csv((await get(f"/tallies/records.csv?period=all&{OCT}")).decode("utf-8"),
                     FORMULA)
    assert_inert_xlsx(await get(f"/tallies/records.xlsx?period=all&{OCT}"), FORMULA)
    assert_inert_xlsx(await get(f"/tallies/export.xlsx?by=clinician&period=all&{OCT}"),
                      "HYPERLINK")
    assert_inert_csv((await get(f"/tallies/export.csv?by=clinician&period=all&{OCT}")).decode(
        "utf-8"), "HYPERLINK")
    report = await get("/reports/monthly.xlsx?period=2026-10")
    assert_inert_xlsx(report, "HYPERLINK")
    assert_inert_csv((await get("/reports/monthly.csv?period=2026-10")).decode("utf-8"),
                     "HYPERLINK")
    # JSON keeps the text as it was written
    js = (await get("/reports/monthly.json?period=2026-10")).decode()
    assert "HYPERLINK" in js


@given(st.text(max_size=30))
def test_inert_never_starts_a_formula(text: str) -> None:
    out = inert(text)
    assert not out.startswith(FORMULA_START)
    assert out.endswith(text) and len(out) - len(text) in (0, 1)


@pytest.mark.parametrize("value", [*NAMES, "\t=1", "\r=1", "－1", "＠a"])
def test_writers_share_the_rule(value: str) -> None:
    sheet = Sheet("t", ["h"], [[value], [3], [-2.5], [None]])
    rows = list(csv.reader(io.StringIO(csv_text([sheet]).lstrip("\ufeff"), newline="")))
    # (the csv reader hands a quoted carriage return back as a newline)
    assert rows[1][0] in ("'" + value, "'" + value.replace("\r", "\n"))
    assert rows[2] == ["3"] and rows[3] == ["-2.5"]
    assert rows[4] == ["—"]
    ws = load_workbook(io.BytesIO(xlsx_bytes([sheet]))).active
    assert ws["A2"].value in ("'" + value, "'" + value.replace("\r", "\n"))
    assert ws["A2"].data_type == "s"
    assert ws["A3"].value == 3 and ws["A4"].value == -2.5  # numbers stay numbers
