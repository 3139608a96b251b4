"""Short, unguessable, expiring links that open a check-in's survey on the H5 page."""

from __future__ import annotations

import secrets
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.runtime import Runtime
from models import SurveyLink

TOKEN_BYTES = 12  # 16 URL-safe characters: 96 random bits, short enough for an SMS variable


def new_token() -> str:
    """A fresh unguessable token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def link_url(rt: Runtime, token: str) -> str:
    """The public URL of a survey link."""
    return f"{rt.settings.server.base_url()}/s/{token}"


async def create_link(rt: Runtime, conn: BaseDBAsyncClient, checkin_id: int,
                      expires_at: datetime) -> tuple[str, str]:
    """A new link for a check-in: returns (token, URL)."""
    token = new_token()
    await SurveyLink.create(using_db=conn, token=token, checkin_id=checkin_id,
                            created_at=rt.now(), expires_at=expires_at)
    return token, link_url(rt, token)
