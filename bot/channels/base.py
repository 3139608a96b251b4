"""The channel interface: how the outbox hands a message to WeChat, SMS or the simulator."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One outbound message as a channel sees it.

    ``kind`` says what the text is for (checkin, reply, staff, notice) and ``params`` carry
    the values a template-only channel needs (names, department, ``link`` to the H5 survey,
    ``link_token``). ``last_inbound_at`` is when the person last wrote to us on any channel
    and ``last_inbound_channel`` which one (WeChat's 48-hour window). ``prepared`` is what
    the channel's :meth:`PreparingChannel.prepare` loaded for this message (None: the
    channel looks up what it needs itself).
    """

    message_id: int
    idempotency_key: str
    contact_id: int
    phone: str | None
    openid: str | None
    text: str
    kind: str = "reply"
    params: dict[str, Any] = field(default_factory=dict)
    conversation_id: int | None = None
    last_inbound_at: datetime | None = None
    last_inbound_channel: str | None = None
    prepared: Any = None
    # An earlier attempt's outcome is unknown since then (it timed out after the request
    # left, or a worker died holding the message). The channel settles it before sending
    # again: a receipt or a query says whether it went, or the provider's idempotency key
    # makes a second request harmless; where neither exists it is not sent again.
    unsure_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said: its id for the message, and whether it is already delivered.

    ``unconfirmed``: an unsure earlier attempt is taken as sent without the provider saying so
    (it offers no way to ask and no idempotency key): recorded as sent, with that note.
    """

    provider_msg_id: str
    delivered: bool = False
    unconfirmed: bool = False


@dataclass(frozen=True, slots=True)
class Fault:
    """A provider answer that means our own set-up is wrong (credentials, signature, template,
    permission, balance): the channel pauses instead of failing the message.

    ``zh`` and ``en`` say what is wrong in words staff read (never the provider's own text,
    which can echo the request). ``kinds``: only these kinds of message pause (a template
    fault); None: the whole channel. ``until``: the pause ends by itself then (a daily limit).
    """

    code: str
    zh: str
    en: str
    kinds: frozenset[str] | None = None
    until: datetime | None = None


class ChannelError(Exception):
    """A send failed.

    ``retryable``: try again later (with back-off, or not before ``retry_after`` seconds).
    ``unreachable``: this channel can never reach the contact (unsubscribed, bad number); the
    outbox records the reason on the contact so nothing is sent that way again.
    ``defer``: nothing was attempted (a cap is full, the channel is paused): the message waits
    ``retry_after`` seconds and does not use up one of its attempts.
    ``fallback``: when this failure is final, the outbox sends the message again through the
    named channel if it is configured and can reach the contact (WeChat → SMS).
    ``fault``: our own set-up is wrong; the outbox pauses the channel (:mod:`bot.channels.pause`)
    and the message waits, unattempted, until the pause is lifted.
    ``unsure``: the request may have reached the provider (a timeout after it left, a dropped
    connection): the outbox records since when, and the next try settles it first
    (``Outgoing.unsure_since``); never a final failure, never a fallback.
    """

    def __init__(self, message: str, *, code: str = "", retryable: bool = True,
                 unreachable: bool = False, retry_after: float | None = None,
                 defer: bool = False, fallback: str | None = None,
                 fault: Fault | None = None, unsure: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable and not unreachable
        self.unreachable = unreachable
        self.retry_after = retry_after
        self.defer = defer and self.retryable
        self.fallback = fallback
        self.fault = fault
        self.unsure = unsure


@runtime_checkable
class Channel(Protocol):
    """Sends one message. Must be safe to call again with the same idempotency key."""

    name: str

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        """True when this channel has an address for the contact."""
        ...

    async def send(self, msg: Outgoing) -> SendResult:
        """Deliver ``msg``; raise :class:`ChannelError` on failure."""
        ...


# The moment by which every provider request of the send under way must be over: this
# process's lease on the message, less a margin (set by the outbox around ``send``). A
# request that could not finish by then is not started — the lease may pass to another
# worker, and the message must never be in two attempts at once.
DEADLINE: ContextVar[datetime | None] = ContextVar("send_deadline", default=None)


def check_deadline(now: datetime, request_seconds: float) -> None:
    """Raise (a deferral, not an attempt) when a request of ``request_seconds`` started now
    could outlast this worker's lease on the message."""
    deadline = DEADLINE.get()
    if deadline is not None and now + timedelta(seconds=request_seconds) > deadline:
        raise ChannelError("this worker's lease on the message ends before the request could "
                           "finish: not starting it", code="outbox.lease", defer=True,
                           retry_after=0.1)


# How long a provider call may take at most, when a channel does not say (``call_seconds``):
# the outbox starts a call only while its lease on the message outlasts it.
DEFAULT_CALL_SECONDS = 10.0


def call_seconds(channel: Any) -> float:
    """The longest one ``send`` of ``channel`` can take (its timeouts and retries)."""
    return float(getattr(channel, "call_seconds", DEFAULT_CALL_SECONDS))


@runtime_checkable
class PreparingChannel(Channel, Protocol):
    """A channel that checks caps or windows in the database, for a whole batch at once."""

    async def prepare(self, batch: list[Outgoing]) -> dict[int, Any]:
        """Load what sending ``batch`` needs in a few queries.

        Returns a value per message id, handed back to :meth:`send` as ``msg.prepared``.
        The outbox sends one contact's messages one after the other and none of that
        contact's elsewhere meanwhile, so ``send`` may keep the value current as it goes.
        """
        ...


@runtime_checkable
class ManagedChannel(Channel, Protocol):
    """A channel with resources (HTTP sessions, thread pools) opened and closed with the app."""

    async def start(self) -> None:
        """Open resources; called from the application's cleanup context."""
        ...

    async def close(self) -> None:
        """Release resources."""
        ...
