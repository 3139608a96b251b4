"""Binding QR codes for an episode's paperwork.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import segno

from bot.channels.wechat.api import WechatApiError
from bot.channels.wechat.channel import WechatChannel
from bot.channels.wechat.codes import SCENE_PREFIX
from bot.runtime import Runtime
from models import (
    Episode,
    KeyValue,
)


@dataclass(frozen=True, slots=True)
class QrCode:
    """A parametric QR code that binds whoever scans it to the episode's contact."""

    episode_id: int
    url: str
    ticket: str
    expires_at: datetime

    def svg(self, scale: int = 6) -> str:
        """The code as inline SVG (for the printable staff page)."""
        return str(segno.make(self.url, error="m").svg_inline(scale=scale))

    def text(self) -> str:
        """The code drawn with block characters (for a terminal)."""
        out = io.StringIO()
        segno.make(self.url, error="m").terminal(out=out, compact=True)
        return out.getvalue()


async def episode_qr(rt: Runtime, ch: WechatChannel, episode: Episode) -> QrCode:
    """The episode's binding QR code: reused while it has a day left, else created anew."""
    now = rt.now()
    key = f"wechat:qr:{episode.id}"
    row = await KeyValue.get_or_none(key=key)
    if row is not None and row.expires_at is not None and row.expires_at > now + timedelta(
            days=1):
        data = json.loads(row.value)
        return QrCode(episode.id, data["url"], data["ticket"], row.expires_at)
    seconds = rt.settings.wechat.qr_expire_days * 86_400
    result = await ch.api.create_qr(f"{SCENE_PREFIX}{episode.id}", seconds)
    if not result.get("url") or not result.get("ticket"):
        raise WechatApiError(-2, "qrcode/create answered without url or ticket")
    expires = now + timedelta(seconds=int(result.get("expire_seconds") or seconds))
    await KeyValue.update_or_create(
        defaults={"value": json.dumps({"url": result["url"], "ticket": result["ticket"]}),
                  "expires_at": expires}, key=key)
    return QrCode(episode.id, str(result["url"]), str(result["ticket"]), expires)


async def find_episode(external_id: str, source: str | None = None) -> Episode:
    """The episode with this external id (and source, when several systems use the id)."""
    qs = Episode.filter(external_id=external_id)
    if source:
        qs = qs.filter(source=source)
    found = await qs.limit(3)
    if not found:
        raise LookupError(f"no episode with external id {external_id!r}"
                          + (f" from source {source!r}" if source else ""))
    if len(found) > 1:
        sources = ", ".join(sorted(e.source for e in found))
        raise LookupError(f"external id {external_id!r} exists in several sources ({sources}): "
                          "name one with --source")
    return found[0]
