"""Prometheus metrics: event counters kept in the process, gauges read from the database.

Each :class:`~bot.runtime.Runtime` owns one :class:`Metrics` with its own registry (a test
process builds many runtimes; a server builds one). Events (messages received, sent and failed,
check-ins sent and lost, escalations raised, parse latency) are counted where they happen, by
the process they happen in: sum them over processes. The queue gauges (outbox depth and age,
check-ins due, escalations open, channel pauses) are read from the database when /metrics is
scraped, with a few indexed queries, so every process reports the same figures.

Label values are bounded by construction: channel, kind, reason, status and SLA state come
from fixed lists here (anything else is counted as ``other``), never a contact, a phone, a
name or a message id.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from tortoise.functions import Count, Min

if TYPE_CHECKING:
    from bot.channels.base import ChannelError
    from bot.runtime import Runtime
    from surveys.parser import Interpretation, ReplyParser

# The ``*_created`` series double every counter and nobody alerts on them.
disable_created_metrics()

OTHER = "other"
CHANNELS = frozenset({"simulator", "sms", "wechat", "h5"})
IN_KINDS = frozenset({"text", "other"})  # text: read by the survey; other: media, events
OUT_KINDS = frozenset({"checkin", "reply", "staff", "notice", "otp"})
# Why a send attempt failed: tried again later, or failed for good (the other five).
FAIL_REASONS = frozenset({"retrying", "gave_up", "rejected", "unreachable", "not_configured",
                          "withdrawn"})
LOST_REASONS = frozenset({"no_answer", "opted_out", "refused", "wrong_number", "deceased",
                          "unreachable", "fatigue"})
ESCALATION_KINDS = ("red_flag", "deceased", "complaint", "low_score", "question",
                    "wrong_number", "other")
ESCALATION_STATUSES = ("open", "claimed")
# Escalation.sla_level: 0 in time, 1 a deadline missed (head told), 2 missed by a second
# window (managers told).
SLA_STATES = ("in_time", "breached", "breached_twice")
ATTEMPTS = frozenset({"first", "reminder"})
PAGE_CHANNELS = frozenset({"h5"})
# A parse takes tens of microseconds; the long tail is what to watch.
PARSE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
                 0.5)


def bounded(value: object, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``other``: label sets stay small."""
    v = str(value)
    return v if v in allowed else OTHER


@functools.cache
def _version() -> str:
    try:
        return metadata.version("survey-bot")
    except metadata.PackageNotFoundError:
        return "unknown"


class _Snapshot(Collector):
    """Gauge families read from the database at the last scrape (see :meth:`Metrics.refresh`)."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        """The families of the last refresh."""
        return iter(list(self.families))

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: the families are known only after a refresh."""
        return iter(())


class Metrics:
    """The counters, histogram and database gauges of one runtime."""

    def __init__(self, channels: Iterable[str] = (), role: str = "all") -> None:
        self.channels = frozenset(channels)
        self._known_channels = CHANNELS | self.channels
        self.registry = r = CollectorRegistry()
        # The process's CPU, memory, open files, start time (Linux), Python and GC figures:
        # the library's collectors, one per process, read at each scrape.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(collector)
        Info("surveybot", "This process: version, role and reply parser build",
             registry=r).info({"version": _version(), "role": role,
                               "parser": _parser_build()})
        self._received = Counter(
            "surveybot_messages_received",
            "Inbound messages stored (duplicates not counted), by channel and kind: text is "
            "read by the survey, other is WeChat media and events for staff.",
            ("channel", "kind"), registry=r)
        self._sent = Counter(
            "surveybot_messages_sent", "Outbound messages the provider accepted.",
            ("channel", "kind"), registry=r)
        self._failed = Counter(
            "surveybot_messages_failed",
            "Outbound send attempts that failed. reason: retrying (tried again later), or "
            "failed for good: gave_up (attempts used up), rejected, unreachable, "
            "not_configured, withdrawn (the person opted out or was stopped meanwhile).",
            ("channel", "kind", "reason"), registry=r)
        self._checkins_sent = Counter(
            "surveybot_checkins_sent",
            "Check-ins whose message went to the outbox: first (the check-in opened) or "
            "reminder.", ("channel", "attempt"), registry=r)
        self._checkins_lost = Counter(
            "surveybot_checkins_lost", "Check-ins lost to follow-up, by reason.", ("reason",),
            registry=r)
        self._escalations = Counter(
            "surveybot_escalations_raised",
            "Escalations raised (opening one, or adding a kind to the conversation's open "
            "one), by kind.", ("kind",), registry=r)
        self._parse = Histogram(
            "surveybot_parse_seconds", "Time to parse one reply.", buckets=PARSE_BUCKETS,
            registry=r)
        self._snapshot = _Snapshot()
        r.register(self._snapshot)
        self._lock: asyncio.Lock | None = None
        # The common series read 0 before their first event, not "absent".
        for ch in sorted(self.channels):
            self._received.labels(ch, "text")
            if ch in PAGE_CHANNELS:
                continue  # answers shown on the page: no check-ins, no messages to count
            for kind in ("checkin", "reply"):
                self._sent.labels(ch, kind)
            for attempt in sorted(ATTEMPTS):
                self._checkins_sent.labels(ch, attempt)
        for kind in ESCALATION_KINDS:
            self._escalations.labels(kind)

    def _channel(self, name: object) -> str:
        return bounded(name, self._known_channels)

    # --- events ---------------------------------------------------------------------------

    def received(self, channel: str, kind: str = "text", n: int = 1) -> None:
        """``n`` inbound messages were stored."""
        if n:
            self._received.labels(self._channel(channel), bounded(kind, IN_KINDS)).inc(n)

    def received_many(self, channels: Iterable[str]) -> None:
        """Inbound text messages were stored, one per channel name given."""
        for ch in channels:
            self.received(ch)

    def sent(self, channel: str, kind: str) -> None:
        """The provider accepted one outbound message."""
        self._sent.labels(self._channel(channel), bounded(kind, OUT_KINDS)).inc()

    def failed(self, channel: str, kind: str, reason: str) -> None:
        """One send attempt failed (``reason`` from :data:`FAIL_REASONS`)."""
        self._failed.labels(self._channel(channel), bounded(kind, OUT_KINDS),
                            bounded(reason, FAIL_REASONS)).inc()

    def send_failed(self, channel: str, kind: str, error: ChannelError, *, final: bool) -> None:
        """A channel refused one attempt; ``final``: the message will not be tried again."""
        reason = ("retrying" if not final else "unreachable" if error.unreachable
                  else "rejected" if not error.retryable else "gave_up")
        self.failed(channel, kind, reason)

    def checkins_planned(self, opened: Iterable[tuple[Any, str]],
                         decisions: Mapping[str, Iterable[Any]]) -> None:
        """The planner's batch committed: check-ins opened on a channel, others skipped
        (``skip:<reason>`` decisions are lost to follow-up)."""
        for _, channel in opened:
            self.checkin_sent(channel, "first")
        for decision, ids in decisions.items():
            if decision.startswith("skip:"):
                self.checkin_lost(decision[5:], len(list(ids)))

    def checkin_sent(self, channel: str, attempt: str) -> None:
        """A check-in's first message or a reminder went to the outbox."""
        self._checkins_sent.labels(self._channel(channel), bounded(attempt, ATTEMPTS)).inc()

    def checkin_lost(self, reason: str | None, n: int = 1) -> None:
        """``n`` check-ins were lost to follow-up."""
        if n:
            self._checkins_lost.labels(bounded(reason, LOST_REASONS)).inc(n)

    def escalation_raised(self, kind: str) -> None:
        """An escalation of ``kind`` was opened or added to an open one."""
        self._escalations.labels(bounded(kind, ESCALATION_KINDS)).inc()

    def parse(self, parser: ReplyParser, text: str) -> Interpretation:
        """``parser.parse(text)``, timed."""
        start = time.perf_counter()
        try:
            return parser.parse(text)
        finally:
            self._parse.observe(time.perf_counter() - start)

    # --- scrape ---------------------------------------------------------------------------

    async def exposition(self, rt: Runtime, accept: str = "") -> tuple[bytes, str]:
        """The body and content type of a scrape: database gauges read now, then everything."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        encoder, content_type = choose_encoder(accept)
        async with self._lock:  # two scrapes at once must not mix their snapshots
            await self.refresh(rt)
            return encoder(self.registry), content_type

    async def refresh(self, rt: Runtime) -> None:
        """Read the queue gauges from the database (``surveybot_database_up`` 0 if it fails)."""
        up = GaugeMetricFamily("surveybot_database_up",
                               "1 if the database answered this scrape's queries.")
        try:
            families = await database_gauges(rt, self._channel)
        except Exception:
            up.add_metric([], 0)
            self._snapshot.families = [up]
            return
        up.add_metric([], 1)
        self._snapshot.families = [up, *families]


def _parser_build() -> str:
    from surveys import native

    return "compiled" if native.compiled() else "source"


def _age(now: datetime, since: Any) -> float:
    """Seconds from ``since`` (a datetime, or SQLite's text) to ``now``; 0 when none."""
    if since is None:
        return 0.0
    if isinstance(since, str):
        since = datetime.fromisoformat(since)
    return max(0.0, (now - since).total_seconds())


async def paused_channels(channels: Iterable[str], now: datetime) -> set[str]:
    """The channels paused for every process (:mod:`bot.channels.pause`): a whole channel,
    or some kinds of message on it, counts as paused."""
    from bot.channels import pause

    wanted = set(channels)
    return {p.channel for p in await pause.active(now) if p.channel in wanted}


async def database_gauges(rt: Runtime, channel: Callable[[object], str]) -> list[Metric]:
    """The queue gauges, each from one indexed query (the outbox's takes two)."""
    from models import (
        CheckIn,
        CheckinStatus,
        Direction,
        Escalation,
        EscalationStatus,
        Message,
        MessageStatus,
    )

    now = rt.now()
    configured = sorted(ch for ch in rt.channels if ch not in PAGE_CHANNELS)
    queued: dict[str, float] = dict.fromkeys(configured, 0.0)
    due: dict[str, float] = dict.fromkeys(configured, 0.0)
    oldest: dict[str, float] = dict.fromkeys(configured, 0.0)
    waiting = Message.filter(direction=Direction.OUT, status=MessageStatus.QUEUED)
    for r in await waiting.annotate(n=Count("id")).group_by("channel").values("channel", "n"):
        ch = channel(r["channel"])
        queued[ch] = queued.get(ch, 0.0) + r["n"]
    for r in await waiting.filter(next_attempt_at__lte=now).annotate(
            n=Count("id"), first=Min("next_attempt_at")).group_by("channel").values(
            "channel", "n", "first"):
        ch = channel(r["channel"])
        due[ch] = due.get(ch, 0.0) + r["n"]
        oldest[ch] = max(oldest.get(ch, 0.0), _age(now, r["first"]))

    families: list[Metric] = []

    def per_channel(name: str, doc: str, values: dict[str, float]) -> None:
        g = GaugeMetricFamily(name, doc, labels=["channel"])
        for ch, v in sorted(values.items()):
            g.add_metric([ch], v)
        families.append(g)

    per_channel("surveybot_outbox_queued", "Outbound messages waiting to be sent (due now or "
                "later: retries, deferrals).", queued)
    per_channel("surveybot_outbox_due", "Outbound messages due now and not yet sent.", due)
    per_channel("surveybot_outbox_oldest_due_age_seconds", "How long the oldest due outbound "
                "message has been due (0 when none is).", oldest)

    planned = CheckIn.filter(status=CheckinStatus.PLANNED, send_at__lte=now)
    n_due = await planned.count()
    first_due = await planned.order_by("send_at").limit(1).values_list("send_at", flat=True)
    g = GaugeMetricFamily("surveybot_checkins_due",
                          "Check-ins due to open and not opened yet (a person busy with "
                          "another survey counts here too).")
    g.add_metric([], n_due)
    families.append(g)
    g = GaugeMetricFamily("surveybot_checkins_oldest_due_age_seconds",
                          "How long the oldest unopened due check-in has been due.")
    g.add_metric([], _age(now, first_due[0] if first_due else None))
    families.append(g)

    counts = {(k, s, sla): 0 for k in ESCALATION_KINDS for s in ESCALATION_STATUSES
              for sla in SLA_STATES}
    for r in await Escalation.filter(
            status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED]).annotate(
            n=Count("id")).group_by("kind", "status", "sla_level").values(
            "kind", "status", "sla_level", "n"):
        key = (bounded(getattr(r["kind"], "value", r["kind"]), ESCALATION_KINDS),
               bounded(getattr(r["status"], "value", r["status"]), ESCALATION_STATUSES),
               SLA_STATES[min(max(int(r["sla_level"] or 0), 0), len(SLA_STATES) - 1)])
        counts[key] = counts.get(key, 0) + r["n"]
    g = GaugeMetricFamily(
        "surveybot_escalations_open",
        "Escalations not resolved, by kind, status (open: unclaimed; claimed) and SLA state "
        "(in_time; breached: a deadline missed, the head told; breached_twice: the managers "
        "told).", labels=["kind", "status", "sla"])
    for (k, s, sla), n in counts.items():
        g.add_metric([k, s, sla], n)
    families.append(g)

    paused = await paused_channels(configured, rt.now())
    g = GaugeMetricFamily("surveybot_channel_paused",
                          "1 while a channel is paused for every process (its messages wait).",
                          labels=["channel"])
    for ch in configured:
        g.add_metric([ch], 1 if ch in paused else 0)
    families.append(g)
    return families
