"""/metrics over HTTP: Prometheus text that parses, and figures that follow what happened.

A visit is imported over the API, its check-in goes out through the simulator, the person
answers with a complaint: each step shows in the counters and in the gauges read from the
database, and only bounded labels appear (never a name, a phone or an id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import planner
from bot.clock import FrozenClock
from bot.config import ConfigError, settings_from_dict
from bot.keys import RUNTIME
from bot.observability import metrics as vocab
from bot.observability.metrics import Metrics, bounded
from models import CheckIn, Contact, Escalation
from tests.conftest import eventually, make_settings
from tests.fake_aliyun import FakeAliyunSms, sms_section

VISIT = {
    "external_id": "MZ-METRICS-1", "person_name": "欧阳娜娜", "contact_phone": "13912345678",
    "occurred_at": "2026-11-16 09:30", "department": "dental", "department_name": "口腔科",
}
API = {"Authorization": "Bearer test-key"}
VOCABULARY = (vocab.CHANNELS | vocab.IN_KINDS | vocab.OUT_KINDS | vocab.FAIL_REASONS
              | vocab.LOST_REASONS | vocab.ATTEMPTS | {vocab.OTHER, *vocab.ESCALATION_KINDS,
                                                       *vocab.ESCALATION_STATUSES,
                                                       *vocab.SLA_STATES})


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape by (name, labels); the parser rejects malformed text."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; an absent series reads 0 (a counter before its first event)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: Any, **headers: str) -> Samples:
    r = await client.get("/metrics", headers=headers)
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"].startswith("text/plain")
    return parse(await r.text())


async def import_visit(client: Any, visit: dict[str, str] = VISIT) -> None:
    r = await client.post("/api/episodes", json={"source": "his", "episodes": [visit]},
                          headers=API)
    assert r.status == 200, await r.text()


async def test_a_sent_checkin_a_reply_and_an_escalation_show_in_metrics(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(make_settings(db_url), clock)
    before = await scrape(client)
    assert value(before, "surveybot_messages_sent_total", channel="simulator",
                 kind="checkin") == 0
    assert value(before, "surveybot_database_up") == 1
    [info] = [dict(labels) for name, labels in before if name == "surveybot_info"]
    assert info["role"] == "all" and info["parser"] in ("compiled", "source")

    await import_visit(client)
    m = await scrape(client)
    assert value(m, "surveybot_checkins_due") == 0  # due tomorrow at 10:00
    clock.advance(timedelta(days=1, hours=1))  # Tue 10:00 Shanghai: due

    async def sent() -> Samples | None:
        # A scrape is no snapshot: the gauges are read first, the counters after, and the
        # loops run meanwhile; the outbox row is written a moment after the provider accepts.
        # Wait for a scrape that saw it all settled.
        m = await scrape(client)
        # (every gauge asserted below is in the wait: each is read at its own moment, and
        # CI once scraped outbox_due before the send and outbox_queued after it)
        return m if value(m, "surveybot_messages_sent_total", channel="simulator",
                          kind="checkin") == 1 and value(
            m, "surveybot_outbox_queued", channel="simulator") == 0 and value(
            m, "surveybot_outbox_due", channel="simulator") == 0 and value(
            m, "surveybot_outbox_oldest_due_age_seconds", channel="simulator") == 0 and value(
            m, "surveybot_checkins_due") == 0 else None

    m = await eventually(sent)
    assert value(m, "surveybot_checkins_sent_total", channel="simulator", attempt="first") == 1
    assert value(m, "surveybot_checkins_due") == 0
    assert value(m, "surveybot_checkins_oldest_due_age_seconds") == 0
    assert value(m, "surveybot_outbox_queued", channel="simulator") == 0
    assert value(m, "surveybot_outbox_due", channel="simulator") == 0
    assert value(m, "surveybot_outbox_oldest_due_age_seconds", channel="simulator") == 0
    assert not any(v for (name, _), v in m.items() if name == "surveybot_messages_failed_total")

    contact = await Contact.get()
    r = await client.post(f"/simulator/contacts/{contact.id}/send",
                          data={"text": "2 护士态度不好", "nonce": "n1"},
                          headers={"Accept": "application/json"})
    assert r.status == 200, await r.text()

    async def escalated() -> Samples | None:
        m = await scrape(client)
        return m if value(m, "surveybot_escalations_open", kind="complaint", status="open",
                          sla="in_time") == 1 else None

    m = await eventually(escalated)
    assert value(m, "surveybot_messages_received_total", channel="simulator", kind="text") == 1
    assert value(m, "surveybot_parse_seconds_count") == 1
    assert value(m, "surveybot_escalations_raised_total", kind="complaint") == 1
    assert value(m, "surveybot_escalations_raised_total", kind="low_score") == 1
    await eventually(lambda: _at_least(client, "surveybot_messages_sent_total",
                                       channel="simulator", kind="reply"))
    # Nothing identifying: every label value comes from a fixed vocabulary.
    text = await (await client.get("/metrics")).text()
    for secret in ("欧阳", "13912345678", "MZ-METRICS-1"):
        assert secret not in text
    for (name, labels), _ in parse(text).items():
        if name.startswith("surveybot_") and name != "surveybot_info":
            assert {v for k, v in labels if k != "le"} <= VOCABULARY, (name, labels)

    # A complaint unanswered for 24 h breaches its deadline: the staff loop climbs the ladder
    # and the gauge moves to "breached".
    clock.advance(timedelta(hours=25))

    async def breached() -> Samples | None:
        m = await scrape(client)
        return m if value(m, "surveybot_escalations_open", kind="complaint", status="open",
                          sla="breached") == 1 else None

    m = await eventually(breached)
    assert value(m, "surveybot_escalations_open", kind="complaint", status="open",
                 sla="in_time") == 0
    assert (await Escalation.get()).sla_level == 1


async def _at_least(client: Any, name: str, **labels: str) -> bool:
    return value(await scrape(client), name, **labels) >= 1


async def test_queue_gauges_follow_the_database(db_url: str, clock: FrozenClock,
                                               client_factory: Any) -> None:
    # No background loops: the due check-in and its message wait where the gauges see them.
    client = await client_factory(make_settings(db_url), clock, run_loops=False)
    await import_visit(client)
    clock.advance(timedelta(days=1, hours=1, minutes=30))  # Tue 10:30, due since 10:00
    assert (await CheckIn.get()).send_at == clock.now() - timedelta(minutes=30)
    m = await scrape(client)
    assert value(m, "surveybot_checkins_due") == 1
    assert value(m, "surveybot_checkins_oldest_due_age_seconds") == 30 * 60

    assert await planner.open_due(client.app[RUNTIME]) == 1  # the message is queued, unsent
    m = await scrape(client)
    assert value(m, "surveybot_checkins_due") == 0
    assert value(m, "surveybot_outbox_queued", channel="simulator") == 1
    assert value(m, "surveybot_outbox_due", channel="simulator") == 1
    assert value(m, "surveybot_outbox_oldest_due_age_seconds", channel="simulator") == 0
    clock.advance(timedelta(seconds=90))
    m = await scrape(client)
    assert value(m, "surveybot_outbox_oldest_due_age_seconds", channel="simulator") == 90
    assert value(m, "surveybot_checkins_sent_total", channel="simulator", attempt="first") == 1


@pytest.fixture
async def fake() -> AsyncIterator[FakeAliyunSms]:
    f = await FakeAliyunSms().start()
    yield f
    await f.close()


async def test_failures_and_a_paused_channel_show(db_url: str, clock: FrozenClock,
                                                 client_factory: Any,
                                                 fake: FakeAliyunSms) -> None:
    settings = make_settings(db_url, sms=sms_section(fake),
                             channels={"order": ["sms", "simulator"]})
    client = await client_factory(settings, clock)
    m = await scrape(client)
    assert value(m, "surveybot_channel_paused", channel="sms") == 0
    fake.codes.extend(["ServiceUnavailable", "isv.AMOUNT_NOT_ENOUGH"])
    await import_visit(client)
    clock.advance(timedelta(days=1, hours=1))

    async def failed_once() -> Samples | None:
        m = await scrape(client)  # settled: counted, and the row written back (backing off)
        return m if value(m, "surveybot_messages_failed_total", channel="sms", kind="checkin",
                          reason="retrying") == 1 and value(
            m, "surveybot_outbox_due", channel="sms") == 0 else None

    m = await eventually(failed_once)
    assert value(m, "surveybot_outbox_queued", channel="sms") == 1
    clock.advance(timedelta(seconds=5))  # the retry: Aliyun says the balance ran out

    async def paused() -> Samples | None:
        m = await scrape(client)
        return m if value(m, "surveybot_channel_paused", channel="sms") == 1 else None

    m = await eventually(paused)
    # The message waits (a pause is no failure) and is still counted as waiting.
    assert value(m, "surveybot_outbox_queued", channel="sms") == 1
    assert value(m, "surveybot_messages_sent_total", channel="sms", kind="checkin") == 0
    assert value(m, "surveybot_messages_failed_total", channel="sms", kind="checkin",
                 reason="retrying") == 1
    assert value(m, "surveybot_checkins_sent_total", channel="sms", attempt="first") == 1
    assert value(m, "surveybot_channel_paused", channel="simulator") == 0


async def test_metrics_access_loopback_or_token(db_url: str, clock: FrozenClock,
                                                client_factory: Any) -> None:
    client = await client_factory(make_settings(db_url), clock)
    assert (await client.get("/metrics")).status == 200  # direct, from loopback
    # Relayed by a reverse proxy on this host: not direct, whatever the peer address.
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        r = await client.get("/metrics", headers={header: "203.0.113.9"})
        assert r.status == 403 and "[metrics] token" in await r.text()

    token = "t0ken-for-the-scraper-0123"
    client = await client_factory(make_settings(db_url, metrics={"token": token, "allow": []}),
                                  clock)
    r = await client.get("/metrics")
    assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    r = await client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0000000"})
    assert r.status == 401
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {token}",
                                              "X-Forwarded-For": "203.0.113.9"})
    assert r.status == 200
    parse(await r.text())
    # /healthz stays open to probes.
    assert (await client.get("/healthz", headers={"X-Forwarded-For": "1.2.3.4"})).status == 200


@pytest.mark.parametrize(("section", "words"), [
    ({"token": "short"}, ["metrics.token", "at least 16"]),
    ({"allow": ["10.0.0.0/8", "the office"]}, ["metrics.allow", "'the office'"]),
    ({"tokn": "x"}, ["unknown key 'metrics.tokn'", "token, allow"]),
])
def test_metrics_settings_are_checked(section: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ConfigError) as e:
        settings_from_dict({"metrics": section})
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize(("allowed", "given", "label"), [
    (["sms", "wechat"], "sms", "sms"),
    (["sms", "wechat"], "13912345678", "other"),
    (["checkin"], "欧阳娜娜", "other"),
    (["no_answer"], None, "other"),
])
def test_label_values_are_bounded(allowed: list[str], given: Any, label: str) -> None:
    assert bounded(given, allowed) == label


def test_unknown_values_never_become_series() -> None:
    m = Metrics(["simulator"])
    m.sent("13912345678", "欧阳娜娜")
    m.checkin_lost("something new")
    m.escalation_raised("made-up")
    from prometheus_client import generate_latest

    text = generate_latest(m.registry).decode()
    assert "13912345678" not in text and "欧阳" not in text and "made-up" not in text
    samples = parse(text)
    assert value(samples, "surveybot_messages_sent_total", channel="other", kind="other") == 1
    assert value(samples, "surveybot_checkins_lost_total", reason="other") == 1
    assert value(samples, "surveybot_escalations_raised_total", kind="other") == 1


def test_every_escalation_kind_has_its_own_label() -> None:
    """A kind missing from the list would be counted as "other" (disputes once were)."""
    from typing import get_args

    from bot.observability import metrics as vocab_
    from surveys import engine

    assert set(get_args(engine.Kind)) <= set(vocab_.ESCALATION_KINDS)
