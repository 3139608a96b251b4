"""The H5 survey page as a channel: what the bot answers to a page submission is shown there.

The page's handler processes the submission at once and renders the bot's answers from the
message table, so "sending" only marks them delivered. It never opens a conversation
(``can_reach`` is false) and never carries later messages: the conversation keeps the channel
the check-in went out on (see ``bot.dispatcher.PAGE_CHANNELS``).
"""

from __future__ import annotations

from bot.channels.base import Outgoing, SendResult


class H5PageChannel:
    """Delivery into the page that asked."""

    name = "h5"

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        """Never chosen for a check-in: people reach the page through a link."""
        return False

    async def send(self, msg: Outgoing) -> SendResult:
        """Already shown on the page; the provider id derives from our key."""
        return SendResult(provider_msg_id=f"h5:{msg.idempotency_key}", delivered=True)
