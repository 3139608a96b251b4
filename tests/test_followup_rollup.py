"""The follow-up page reads rollups that nothing can make stale (SQLite and PostgreSQL).

bot.analytics.followup_rollup keeps the follow-up counts per local day, week and month; the
database's triggers mark the episodes whose check-ins, episode row or contact changed, and
each read folds them first. Here the product runs the way it does in a hospital, driven from
outside through random sequences of changes — visits and re-imports (new clinician,
treatment, department or time; cancellations) over the import API, the planner and outbox
sending, people answering, scoring low, complaining and opting out in the simulator, staff
claiming and resolving over HTTP, a direct bulk SQL update or delete (check-ins lost for a
reason, contacts unreachable, episodes moved) — and after each read of the page's JSON export
every row equals counting the rows one by one (tests/test_followup_counts.reference).
A property test checks that a read's cut of its range into days, whole weeks and whole months
reads every day of the range exactly once.
"""

from __future__ import annotations

import html
import random
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tortoise import connections

from bot import dispatcher, outbox, planner
from bot.analytics import followup_rollup, operations
from bot.analytics.tallies import Scope
from bot.clock import FrozenClock
from bot.config import TalliesConfig
from bot.keys import RUNTIME
from bot.runtime import Runtime
from models import CheckIn, Escalation
from tests.conftest import make_settings
from tests.loop_helpers import act, as_staff, import_visits, page_csrf
from tests.staff_helpers import make_staff
from tests.test_cli import cli
from tests.test_followup_counts import NOW, figures, reference, rows, seed

TZ = ZoneInfo("Asia/Shanghai")
DEPTS = [("dental", "口腔科"), ("ortho", "骨科"), ("peds", "儿科")]
REPLIES = ["5", "4", "2 护士态度不好", "1 排队太久，我要投诉", "TD", "好的", "3"]
BULK = [
    # a reason written by another system (not one the product knows): its own row
    "UPDATE checkin SET lost_reason = 'moved_away' WHERE status = 'expired' AND id % 2 = 0",
    "UPDATE checkin SET status = 'expired', lost_reason = 'refused' "
    "WHERE status = 'opened' AND id % 3 = 0",
    "UPDATE contact SET unreachable = '{\"sms\": \"invalid\"}' WHERE id % 2 = 1",
    "UPDATE contact SET stopped_reason = 'deceased' WHERE id % 4 = 0",
    "UPDATE episode SET treatment_type = '复查', clinician_name = '赵医生' WHERE id % 3 = 1",
    "UPDATE episode SET occurred_at = occurred_at WHERE id % 2 = 0",  # no change: no mark
    "DELETE FROM checkin WHERE status = 'planned' AND id % 5 = 0",
]


def _visit(n: int, rnd: random.Random, when: datetime) -> dict[str, str]:
    dept, name = rnd.choice(DEPTS)
    local = when.astimezone(TZ)
    return {"external_id": f"V{n}", "person_name": f"病人{n}",
            "contact_phone": f"1390000{rnd.randrange(40):04d}",
            "occurred_at": local.strftime("%Y-%m-%d %H:%M"), "department": dept,
            "department_name": name, "clinician": rnd.choice(["李医生", "王医生", ""]),
            "clinician_id": rnd.choice(["", "D1", "D2"]),
            "treatment_type": rnd.choice(["拔牙", "补牙", ""])}


async def _drain(rt: Runtime) -> None:
    while (await planner.open_due(rt)) + (await dispatcher.process_pending(rt)) + (
            await outbox.send_due(rt)):
        pass


async def _bulk(sql: str) -> None:
    await connections.get("default").execute_query(sql)


def _from_export(data: dict[str, Any]) -> dict[Any, Any]:
    out = {}
    for r in data["rows"]:
        f = {"sent": r["sent"], "answered": r["answered"],
             "on_time": r["on_time"]["num"] or 0, "eligible": r["eligible"],
             "covered": r["covered"], "lost": r["lost"]}
        if any(f.values()):
            out[(r["key_id"], r["period"])] = f
    return out


def _key(by: str, g: Any) -> str:
    if by == "clinician":
        return f"{g[0]}|{g[1]}"
    return "" if g is None else str(g)


async def _dirty() -> int:
    conn: Any = connections.get("default")
    _, r = await conn.execute_query("SELECT COUNT(*) FROM followup_dirty")
    return int(r[0][0])


@pytest.mark.parametrize("seed_value", [1, 2, 3])
async def test_random_changes_through_the_product_never_leave_the_page_stale(
        db_url: str, clock: FrozenClock, client_factory: Any, seed_value: int) -> None:
    rnd = random.Random(seed_value)
    settings = make_settings(db_url, tallies={"page_rows": 10})
    client = await client_factory(settings, clock, run_loops=False)
    rt: Runtime = client.server.app[RUNTIME]
    await make_staff("boss", "manager", name="院长")
    n_visits = 0
    reads = 0
    marked = 0
    for _step in range(40):
        action = rnd.choice(["import", "import", "time", "reply", "reply", "staff", "bulk",
                             "read", "read"])
        if action == "import":
            batch = []
            for _ in range(rnd.randint(1, 4)):
                if n_visits and rnd.random() < 0.3:  # a correction of an earlier visit
                    v = _visit(rnd.randrange(n_visits), rnd, clock.now() - timedelta(
                        hours=rnd.randrange(72)))
                    if rnd.random() < 0.3:
                        v["status"] = "cancelled"
                else:
                    v = _visit(n_visits, rnd, clock.now() - timedelta(hours=rnd.randrange(48)))
                    n_visits += 1
                batch.append(v)
            await import_visits(client, *batch)
        elif action == "time":
            clock.advance(timedelta(hours=rnd.choice([1, 5, 13, 26, 50])))
            await _drain(rt)
        elif action == "reply":
            opened = await CheckIn.filter(status="opened").values_list("contact_id", flat=True)
            if opened:
                cid = rnd.choice(sorted(set(opened)))
                r = await client.post(f"/simulator/contacts/{cid}/send",
                                      data={"text": rnd.choice(REPLIES),
                                            "nonce": f"n{seed_value}-{_step}"},
                                      headers={"Accept": "application/json"})
                assert r.status == 200, await r.text()
                await _drain(rt)
        elif action == "staff":
            esc = await Escalation.filter(status__in=["open", "claimed"]).first()
            if esc is not None:
                await as_staff(client, "boss")  # (the clock may have outrun the session)
                csrf = await page_csrf(client, f"/staff/escalations/{esc.id}")
                if esc.status == "open":
                    r = await act(client, esc.id, "claim", csrf)
                    assert r.status == 200, await r.text()
                r = await act(client, esc.id, "resolve", csrf, outcome="已沟通解决",
                              note="已电话沟通")
                assert r.status == 200, await r.text()
                assert (await Escalation.get(id=esc.id)).status == "resolved"
        elif action == "bulk":
            await _bulk(rnd.choice(BULK))
        else:
            marked += await _dirty()
            by = rnd.choice(["department", "clinician", "treatment", "channel"])
            period = rnd.choice(["day", "week", "month", "quarter", "all"])
            first = date(2026, 11, rnd.choice([1, 10, 16, 17]))
            last = first + timedelta(days=rnd.choice([0, 3, 20, 60]))
            await as_staff(client, "boss")
            r = await client.get(f"/tallies/followup.json?by={by}&period={period}"
                                 f"&from={first}&to={last}")
            assert r.status == 200, await r.text()
            export = await r.json()
            got = _from_export(export)
            want = reference(await rows(), TZ, by, period, Scope(start=first, end=last))
            want = {(_key(by, g), per): v for (g, per), v in want.items() if any(v.values())}
            assert got == want, (by, period, first, last)
            assert await _dirty() == 0  # the read folded every change
            # the page, cut by the database: page after page, the export's rows in order
            # (escalation-only groups included), and the total it states
            await _bulk(rnd.choice(BULK))  # (a change the page must fold before it cuts)
            want_rows = [(row["key"], row["period"], row["eligible"], row["sent"],
                          sum(row["escalations"].values()))
                         for row in (await (await client.get(
                             f"/tallies/followup.json?by={by}&period={period}"
                             f"&from={first}&to={last}")).json())["rows"]]
            shown = await _pages(client, f"by={by}&period={period}&from={first}&to={last}")
            assert shown == want_rows, (by, period)
            reads += 1
    assert reads >= 5 and n_visits >= 10 and marked > 0
    # and what the folds kept equals counting everything afresh
    await followup_rollup.fold(TZ)
    kept = await _rollups()
    await followup_rollup.rebuild(TZ)
    assert await _rollups() == kept


_ROW = re.compile(r'<tr data-group="([^"]*)" data-period="([^"]*)">.*?'
                  r'<td class="due">(\d+)</td>.*?<td class="sent">(\d+)</td>.*?'
                  r'<td class="esc">(.*?)</td>', re.S)
_SHOWN = re.compile(r'<p class="note" id="paging">[^<]*?(\d+)\D+(\d+)\D+(\d+)')


async def _pages(client: Any, qs: str) -> list[tuple[str, str, int, int, int]]:
    """Every row the HTML page shows, page after page (group, period, due, sent,
    escalations), checking each page's "rows a-b of n"."""
    out: list[tuple[str, str, int, int, int]] = []
    total = None
    page = 1
    while True:
        r = await client.get(f"/tallies/followup?{qs}&page={page}")
        assert r.status == 200, await r.text()
        body = await r.text()
        rows = [(html.unescape(g), p, int(d), int(n),
                 sum(int(x) for x in re.findall(r"</?span[^>]*>[^<]*?(\d+)</span>", e)))
                for g, p, d, n, e in _ROW.findall(body)]
        if not rows:
            assert 'class="empty"' in body and total in (None, len(out))
            return out
        m = _SHOWN.search(body)
        assert m is not None
        a, b, n = (int(x) for x in m.groups())
        assert (a, b) == (len(out) + 1, len(out) + len(rows)) and total in (None, n)
        total = n
        out.extend(rows)
        if 'id="next-page"' not in body:
            assert len(out) == total
            return out
        page += 1


async def _rollups() -> dict[str, list[tuple[Any, ...]]]:
    conn: Any = connections.get("default")
    out = {}
    for table in followup_rollup.GRAINS:
        _, r = await conn.execute_query(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5")
        out[table] = [tuple(x) for x in r]
    return out



def _covered(segs: list[tuple[str, date | None, date | None]], lo: date, hi: date) -> list[date]:
    """Every day the segments read, within [lo, hi] for unbounded ends, in order."""
    days: list[date] = []
    for unit, first, last in segs:
        d = first or lo
        end = last or hi
        while d <= end:
            if unit == "day":
                days.append(d)
                d += timedelta(days=1)
            elif unit == "week":
                assert d.weekday() == 0  # whole weeks, from their Monday
                days.extend(d + timedelta(days=i) for i in range(7))
                d += timedelta(days=7)
            else:
                assert d.day == 1  # whole months, from their first day
                nxt = (d + timedelta(days=32)).replace(day=1)
                days.extend(d + timedelta(days=i) for i in range((nxt - d).days))
                d = nxt
    return days


@given(start=st.one_of(st.none(), st.dates(date(2025, 1, 1), date(2027, 12, 31))),
       length=st.integers(0, 500), open_end=st.booleans(),
       period=st.sampled_from(["day", "week", "month", "quarter", "all"]))
def test_segments_read_every_day_of_the_range_once(start: date | None, length: int,
                                                    open_end: bool, period: str) -> None:
    end = None if open_end else (start or date(2026, 6, 1)) + timedelta(days=length)
    segs = followup_rollup.segments(period, start, end)
    # unbounded ends read whatever the rollups hold: compare within 2024..2029
    lo, hi = start or date(2024, 1, 1), end or date(2029, 12, 31)
    days = [d for d in _covered(segs, date(2024, 1, 1), hi)
            if (start is not None or d >= lo) and (end is not None or d <= hi)]
    want = [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]
    assert days == want
    if period == "day":
        assert [u for u, _, _ in segs] == ["day"]


async def test_rebuild_tallies_recounts_the_follow_up_rollups_in_the_configured_zone(
        orm: None, db_url: str, tmp_path: Any) -> None:
    """A restore that brought back check-ins but not the rollups (and a zone the migration
    did not count in): `survey-bot rebuild-tallies` recounts them in the configured zone."""
    await seed(random.Random(5))
    zone = ZoneInfo("America/New_York")
    data = await rows()
    conn: Any = connections.get("default")
    for table in followup_rollup.GRAINS:
        await conn.execute_query(f"DELETE FROM {table}")
    config = tmp_path / "ny.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n[org]\ntimezone = "{zone.key}"\n')
    out = cli("rebuild-tallies", config=config)
    assert out.returncode == 0, out.stderr
    assert "followup_clinician_day:" in out.stdout and "(America/New_York)" in out.stdout
    # the stamp now says New York: a read in that zone folds nothing and counts right
    assert await followup_rollup.fold(zone) == 0
    for by in ("department", "clinician", "channel"):
        got = figures(await operations.operations(
            TalliesConfig(min_answers=1), zone, NOW, by=by, period="month", scope=Scope()))
        assert got == {k: v for k, v in reference(data, zone, by, "month", Scope()).items()
                       if any(v.values())}


@pytest.mark.parametrize(("by", "period"), [("clinician", "week"), ("department", "day"),
                                            ("treatment", "month"), ("channel", "week"),
                                            ("clinician", "all")])
async def test_the_page_shows_the_exports_rows_page_after_page(
        db_url: str, clock: FrozenClock, client_factory: Any, by: str, period: str) -> None:
    """The database orders, cuts and counts the page's rows: walking every page shows every
    row of the export, in its order (label, period; two clinicians of one name by
    department), with the same figures, and states the same total."""
    settings = make_settings(db_url, tallies={"page_rows": 10})
    client = await client_factory(settings, clock, run_loops=False)
    await seed(random.Random(3))
    await make_staff("boss", "manager", name="院长")
    await as_staff(client, "boss")
    qs = f"by={by}&period={period}&from=2026-09-01&to=2027-05-31"
    r = await client.get(f"/tallies/followup.json?{qs}")
    assert r.status == 200
    want = [(row["key"], row["period"], row["eligible"], row["sent"],
             sum(row["escalations"].values())) for row in (await r.json())["rows"]]
    assert len(want) > 10  # several pages
    assert await _pages(client, qs) == want
    # past the last page: no rows, the same total
    r = await client.get(f"/tallies/followup?{qs}&page=99")
    assert r.status == 200 and 'class="empty"' in await r.text()
