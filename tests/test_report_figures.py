"""Every published figure of a fixed data set against values computed by hand, the same in
page, CSV, XLSX, JSON and the report; and no hidden figure can be worked out from anything
shown or exported (tests/report_data.py describes the data: two departments, 张伟 in both,
李娜 with min_answers − 1 answers).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from fractions import Fraction
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.clock import FrozenClock
from models import Answer
from tests.report_data import NOW, PLAN, RECOVERY, START, report_settings, seed_through_the_product
from tests.staff_helpers import make_staff, sign_in

OCT = "from=2026-10-01&to=2026-10-31"

# hand-computed (tests/report_data.py's table): n, 1–5 counts, mean, 95 % t interval,
# score100 (mean × 20), top box and Wilson interval, top-two box and Wilson interval
IM = (15, [0, 1, 2, 5, 7], 4.2, 3.68, 4.72, 84.0, 0.467, 0.248, 0.699, 0.8, 0.548, 0.93)
EYE = (13, [0, 1, 2, 4, 6], 4.15, 3.56, 4.75, 83.1, 0.462, 0.232, 0.709, 0.769, 0.497, 0.918)
ORG = (28, [0, 2, 4, 9, 13], 4.18, 3.81, 4.54, 83.6)
ZW_IM = (6, [0, 0, 1, 2, 3], 4.33, 3.48, 5.0, 86.7, 0.5, 0.188, 0.812, 0.833, 0.436, 0.97)
WF = (6, [0, 1, 0, 2, 3], 4.17, 2.94, 5.0, 83.3, 0.5, 0.188, 0.812, 0.833, 0.436, 0.97)
IM_OUT = (8, [0, 1, 0, 3, 4], 4.25, 3.38, 5.0, 85.0)
IM_IN = (7, [0, 0, 2, 2, 3], 4.14, 3.31, 4.97, 82.9)
REC_ORG = (6, [0, 1, 0, 2, 3], 4.17, 2.94, 5.0, 83.3)
KEYS = ["answers", "distribution", "mean", "mean_lo", "mean_hi", "score100", "top_box",
        "top_box_lo", "top_box_hi", "top_two_box", "top_two_lo", "top_two_hi"]


def check(fig: dict[str, Any], expected: tuple[Any, ...]) -> None:
    for k, v in zip(KEYS, expected, strict=False):
        assert fig[k] == (pytest.approx(v, abs=1e-9) if isinstance(v, float) else v), k
    assert fig["hidden"] is False


def hidden(fig: dict[str, Any], n: int, reason: str) -> None:
    assert fig["answers"] == n and fig["hidden"] is True and fig["reason"] == reason
    assert all(fig[k] is None for k in KEYS[1:]), fig


@pytest.fixture
async def client(db_url: str, client_factory: Any) -> Any:
    clock = FrozenClock(START)
    c = await client_factory(report_settings(db_url), clock)
    await seed_through_the_product(c, clock)
    clock.set(NOW) if hasattr(clock, "set") else clock.advance(NOW - clock.now())
    await make_staff("boss", "manager")
    await sign_in(c, "boss")
    return c


async def get_json(client: Any, url: str) -> Any:
    r = await client.get(url)
    assert r.status == 200, await r.text()
    return json.loads(await r.read())


async def test_every_figure_of_the_report_by_hand(client: Any) -> None:
    rep = await get_json(client, "/reports/monthly.json?period=2026-10")
    sat = {(r["department"], r["question"]): r for r in rep["satisfaction"]}
    check(sat[("内科", "overall")], IM)
    check(sat[("眼科", "overall")], EYE)
    check(sat[("全院", "overall")], ORG)
    assert sat[("内科", "overall")]["title"] == "总体满意度"
    assert "recovery" not in {q for _, q in sat}  # recovery satisfaction is not a question
    # clinicians within their department: 张伟 is two people's worth of rows
    cl = {(r["department"], r["clinician"]): r for r in rep["clinicians"]}
    check(cl[("内科", "张伟")], ZW_IM)
    assert cl[("内科", "张伟")]["id"] == "id:D001"
    hidden(cl[("眼科", "张伟")], 2, "small")
    hidden(cl[("内科", "李娜")], 4, "small")  # min_answers − 1
    hidden(cl[("内科", "赵强")], 5, "complement")  # else 内科 − 张伟 = 李娜
    check(cl[("眼科", "王芳")], WF)
    hidden(cl[("眼科", "孙丽")], 5, "complement")
    # 门诊 / 住院
    kinds = {(r["department"], r["kind"]): r for r in rep["outpatient_inpatient"]}
    check(kinds[("内科", "outpatient")], IM_OUT)
    check(kinds[("内科", "inpatient")], IM_IN)
    # ranking by the 100-point score of overall satisfaction
    assert [(r["rank"], r["department"], r["score100"]) for r in rep["ranking"]] == [
        (1, "内科", 84.0), (2, "眼科", 83.1)]
    # follow-up: every visit reached on the day after
    fu = {r["department"]: r for r in rep["followup"]}
    assert (fu["内科"]["due"], fu["内科"]["followed_up"]) == (15, 15)
    assert (fu["全院"]["due"], fu["全院"]["followed_up"], fu["全院"]["lost_total"]) == (28, 28, 0)
    assert fu["全院"]["follow_up_rate"]["value"] == 1.0
    by_channel = {r["channel"]: r for r in rep["followup_by_channel"]}
    assert by_channel["simulator"]["due"] == 28  # per channel, whichever channels exist
    # complaints: 内科's four answered within the hour and closed the next day; 眼科's one
    # answered after 30 hours and still open; recovery satisfaction 3 + 3 answers
    comp = {r["department"]: r for r in rep["complaints"]}
    im, eye, org = comp["内科"], comp["眼科"], comp["全院"]
    assert (im["received"], im["responded_in_time"], im["closed_in_time"], im["open"]) == (
        4, 4, 4, 0)
    assert im["outcomes"] == {"已沟通解决": 4}
    assert (eye["received"], eye["responded_in_time"], eye["response_due"], eye["open"]) == (
        1, 0, 1, 1)
    assert (org["received"], org["response_rate"], org["closure_rate"]) == (5, 0.8, 0.8)
    hidden(im["recovery"], len(RECOVERY["im"]), "small")
    hidden(eye["recovery"], len(RECOVERY["eye"]), "small")
    check(org["recovery"], REC_ORG)
    # praise by staff member, themes with masked examples
    assert {(p["department"], p["staff"]): p["comments"] for p in rep["themes"]["praise"]} == {
        ("内科", "张伟"): 1, ("眼科", "王芳"): 1}
    th = {t["id"]: t for t in rep["themes"]["themes"]}
    assert {k: t["comments"] for k, t in th.items()} == {
        "attitude": 3, "waiting": 2, "food": 1, "fees": 1, "communication": 1}
    assert th["attitude"]["by_department"] == {"内科": 2, "眼科": 1}
    assert any("张*" in ex for ex in th["attitude"]["examples"])  # a name masked
    # the chain head at the end of the period
    last = await Answer.all().order_by("-id").first()
    assert last is not None and rep["chain_head"] == last.hash


def _csv_blocks(text: str) -> dict[str, list[list[str]]]:
    blocks: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))):
        if row and row[0].startswith("【"):
            current = blocks.setdefault(row[0].strip("【】"), [])
        elif row:
            current.append(row)
    return blocks


async def test_the_same_figures_in_page_csv_xlsx_json_and_report(client: Any) -> None:
    rep = await get_json(client, "/reports/monthly.json?period=2026-10")
    sat = {r["department"]: r for r in rep["satisfaction"]}
    for by in ("department", "clinician"):
        js = await get_json(client, f"/tallies/export.json?by={by}&period=month&{OCT}")
        rows = {(r["department"], r["key"], r["period"]): r for r in js["rows"]}
        if by == "department":
            for dept in ("内科", "眼科"):
                page_fig = rows[("", dept, "2026-10")]
                for k in KEYS:
                    assert page_fig[k] == sat[dept][k], (dept, k)
            assert rows[("", "全部", "2026-10")]["mean"] == sat["全院"]["mean"]
        else:
            cl = {(r["department"], r["clinician"]): r for r in rep["clinicians"]}
            for (dept, who), r in cl.items():
                for k in KEYS:
                    assert rows[(dept, who, "2026-10")][k] == r[k], (dept, who, k)
        text = (await (await client.get(
            f"/tallies/export.csv?by={by}&period=month&{OCT}")).read()).decode("utf-8-sig")
        table = list(csv.DictReader(io.StringIO(text)))
        xlsx = load_workbook(io.BytesIO(await (await client.get(
            f"/tallies/export.xlsx?by={by}&period=month&{OCT}")).read()))
        sheet = list(xlsx.active.iter_rows(values_only=True))
        head = list(sheet[0])
        assert len(table) == len(js["rows"]) == len(sheet) - 1
        for r, x, j in zip(table, sheet[1:], js["rows"], strict=True):
            xr = dict(zip(head, x, strict=True))
            for k in ("mean", "mean_lo", "score100", "top_box_lo", "top_two_hi"):
                want = "—" if j[k] is None else j[k]
                assert xr[k] == want and r[k] == str(want), (k, r, xr, j)
        page = await (await client.get(f"/tallies?by={by}&period=month&{OCT}")).text()
        for j in js["rows"]:
            if j["mean"] is not None:
                assert f"{j['mean']:.2f}" in page
    html = await (await client.get("/reports/monthly?period=2026-10")).text()
    m = re.search(r'<tr data-department="内科" data-question="overall"[^>]*>(.*?)</tr>', html,
                  re.S)
    assert m and "4.20" in m.group(1) and "84.0" in m.group(1) and "[3.68–4.72]" in m.group(1)
    xlsx = load_workbook(io.BytesIO(await (await client.get(
        "/reports/monthly.xlsx?period=2026-10")).read()))
    assert xlsx.sheetnames == [
        "概要 Summary", "满意度 Satisfaction", "门诊住院 Outpatient-Inpatient", "排名 Ranking",
        "医生 Clinicians", "随访 Follow-up", "投诉 Complaints", "表扬 Praise", "意见主题 Themes",
        "说明 Notes"]
    ws = xlsx["满意度 Satisfaction"]
    rows = list(ws.iter_rows(values_only=True))
    im = next(r for r in rows if r[0] == "内科")
    assert im[3:6] == (15, 4.2, 3.68)
    blocks = _csv_blocks((await (await client.get(
        "/reports/monthly.csv?period=2026-10")).read()).decode("utf-8"))
    assert len(blocks) == len(xlsx.sheetnames)
    im_csv = next(r for r in blocks["满意度 Satisfaction"] if r[0] == "内科")
    assert im_csv[3:6] == ["15", "4.2", "3.68"]


# ---------------------------------------------------------------------------------------------
# derivation: try to work out every hidden figure from everything published

ATOMS: list[tuple[str, str, str, str]] = sorted({
    (d, who, {"visit": "outpatient", "discharge": "inpatient"}[kind], "overall")
    for _c, d, who, _cid, kind, _s, _x in PLAN} | {
    (d, "", "", "recovery") for d in ("内科", "眼科")})
SCORES = range(1, 6)


def atoms_of(kind: str, dept: str, key: str, question: str) -> frozenset[int]:
    """The atoms (department, clinician, visit kind, question) a published figure covers."""
    out = set()
    for i, (d, who, k, q) in enumerate(ATOMS):
        if q != question:
            continue
        if dept not in ("", "全院", "全部") and d != dept:
            continue
        if kind == "clinician" and who != key:
            continue
        if kind == "kind" and k != key:
            continue
        out.add(i)
    return frozenset(out)


class Published:
    """Linear facts about the counts x[atom, score]: rows of a matrix, reduced as they come."""

    def __init__(self) -> None:
        self.basis: dict[tuple[int, int], dict[tuple[int, int], Fraction]] = {}
        self.hidden: list[tuple[str, frozenset[int]]] = []
        self.shown: list[tuple[frozenset[int], list[int]]] = []

    def _reduce(self, row: dict[tuple[int, int], Fraction]) -> dict[tuple[int, int], Fraction]:
        row = {k: v for k, v in row.items() if v}
        changed = True
        while changed:
            changed = False
            for piv, b in self.basis.items():
                c = row.get(piv)
                if c:
                    for k, v in b.items():
                        row[k] = row.get(k, Fraction(0)) - c * v
                    row = {k: v for k, v in row.items() if v}
                    changed = True
        return row

    def add(self, row: dict[tuple[int, int], Fraction]) -> None:
        row = self._reduce(row)
        if not row:
            return
        piv = min(row)
        c = row[piv]
        row = {k: v / c for k, v in row.items()}
        for other in self.basis.values():  # keep the basis reduced
            oc = other.get(piv)
            if oc:
                for k, v in row.items():
                    other[k] = other.get(k, Fraction(0)) - oc * v
                for k in [k for k, v in other.items() if not v]:
                    del other[k]
        self.basis[piv] = row

    def derivable(self, row: dict[tuple[int, int], Fraction]) -> bool:
        return not self._reduce(row)

    def figure(self, label: str, atoms: frozenset[int], fig: dict[str, Any]) -> None:
        if not atoms:
            return
        if fig["hidden"]:
            self.hidden.append((label, atoms))
            self.add({(a, s): Fraction(1) for a in atoms for s in SCORES})  # its n
            return
        dist = fig["distribution"]
        self.shown.append((atoms, dist))
        for s in SCORES:
            self.add({(a, s): Fraction(1) for a in atoms})


async def gather(client: Any) -> Published:
    pub = Published()
    for by, period in itertools.product(
            ("department", "clinician", "channel", "treatment", "question"),
            ("all", "month", "day", "quarter")):
        js = await get_json(client, f"/tallies/export.json?by={by}&period={period}&{OCT}")
        for r in js["rows"]:
            kind = "clinician" if r["dimension"] == "clinician" else "dept"
            dept = r["department"] if kind == "clinician" else (
                r["key"] if r["dimension"] == "department" else "")
            pub.figure(f"{by}/{period}/{r['key']}/{r['period']}",
                       atoms_of(kind, dept, r["key"], r["question"]), r)
        # the records behind the figures: only shown groups, as many as they count
        text = (await (await client.get(
            f"/tallies/records.csv?by={by}&period={period}&{OCT}")).read()).decode("utf-8-sig")
        recs = list(csv.DictReader(io.StringIO(text)))
        shown = {(r["department"] if r["dimension"] == "clinician" else (
            r["key"] if r["dimension"] == "department" else ""), r["key"], r["period"]):
            r["answers"] for r in js["rows"] if not r["hidden"] and r["key"] != "全部"}
        per_cell: dict[tuple[str, str, str], int] = {}
        for rec in recs:
            k = (rec["department"], rec["group"], rec["period"])
            per_cell[k] = per_cell.get(k, 0) + 1
        assert all(per_cell[k] == shown[k] for k in per_cell), (by, period)
    for period in ("2026-10", "2026-Q4"):
        rep = await get_json(client, f"/reports/monthly.json?period={period}")
        for r in rep["satisfaction"]:
            pub.figure(f"report/{r['department']}", atoms_of(
                "dept", r["department"], "", r["question"]), r)
        for r in rep["outpatient_inpatient"]:
            pub.figure(f"report/{r['department']}/{r['kind']}", atoms_of(
                "kind", r["department"], r["kind"], r["question"]), r)
        for r in rep["clinicians"]:
            pub.figure(f"report/{r['department']}/{r['clinician']}", atoms_of(
                "clinician", r["department"], r["clinician"], r["question"]), r)
        for r in rep["complaints"]:
            if r["recovery"] is not None:
                pub.figure(f"report/{r['department']}/recovery", atoms_of(
                    "dept", r["department"], "", "recovery"), r["recovery"])
    return pub


async def test_no_hidden_figure_can_be_derived(client: Any) -> None:
    pub = await gather(client)
    labels = {label for label, _ in pub.hidden}
    assert {"report/眼科/张伟", "report/内科/李娜", "report/内科/赵强"} <= labels
    for label, atoms in pub.hidden:
        # any one score's count, the mean (sum of scores, n being shown) or the spread
        for s in SCORES:
            assert not pub.derivable({(a, s): Fraction(1) for a in atoms}), (label, s)
        assert not pub.derivable({(a, s): Fraction(s) for a in atoms for s in SCORES}), label
        assert not pub.derivable({(a, s): Fraction(s * s) for a in atoms for s in SCORES}), label
    # subtraction leaves only unions that say nothing about one member: for every shown
    # figure and the shown figures inside it, what is left is either nothing or a union of
    # at least two hidden figures with two different scores among them
    for big, dist in pub.shown:
        inside = [(a, d) for a, d in pub.shown if a < big]
        rest = set(big)
        left = list(dist)
        for a, d in sorted(inside, key=lambda ad: -len(ad[0])):
            if a <= rest:
                rest -= a
                left = [x - y for x, y in zip(left, d, strict=True)]
        if rest:
            members = [lab for lab, h in pub.hidden if h <= rest]
            assert sum(1 for x in left if x) >= 2, (sorted(rest), left, members)


async def test_a_hidden_group_has_no_drill_down_and_no_records(client: Any) -> None:
    js = await get_json(client, f"/tallies/export.json?by=clinician&period=all&{OCT}")
    li = next(r for r in js["rows"] if r["key"] == "李娜")
    assert li["hidden"] and li["answers"] == 4
    page = await (await client.get(f"/tallies?by=clinician&period=all&{OCT}")).text()
    row = re.search(r'<tr data-department="李娜".*?</tr>', page, re.S)
    assert row and "href" not in row.group(0) and row.group(0).count("—") >= 5
    recs = (await (await client.get(
        f"/tallies/records.csv?by=clinician&period=all&{OCT}")).read()).decode("utf-8-sig")
    assert "李娜" not in recs and "张伟" in recs
