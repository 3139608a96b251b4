"""The channel interface: how the outbox hands a message to WeChat, SMS or the simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One outbound message as a channel sees it."""

    message_id: int
    idempotency_key: str
    contact_id: int
    phone: str | None
    openid: str | None
    text: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said: its id for the message, and whether it is already delivered."""

    provider_msg_id: str
    delivered: bool = False


class ChannelError(Exception):
    """A send failed. ``retryable`` tells the outbox whether to try again later."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class Channel(Protocol):
    """Sends one message. Must be safe to call again with the same idempotency key."""

    name: str

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        """True when this channel has an address for the contact."""
        ...

    async def send(self, msg: Outgoing) -> SendResult:
        """Deliver ``msg``; raise :class:`ChannelError` on failure."""
        ...
