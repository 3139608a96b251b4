"""Settings of the process and its surroundings: server, logging, metrics, database,
organisation, workers, API keys, the ledger's chain key, the simulator.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
)

from bot.config.base import _Section


class ServerConfig(_Section):
    """HTTP server and process role."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = Field("", description="Base URL people and staff reach; default http://host:port")
    role: Literal["web", "worker", "all"] = "all"
    # A worker's own small HTTP server (/healthz, /metrics) on ``host``; 0: any free port,
    # named in its "ready" log line (set one per worker to scrape or probe it).
    metrics_port: int = Field(0, ge=0, le=65535)

    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class LoggingConfig(_Section):
    """What the server logs, and how: human lines or one JSON object per line."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("format", "level", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v  # SURVEYBOT_LOGGING__LEVEL=DEBUG


class MetricsConfig(_Section):
    """Who may read /metrics (Prometheus text format; counts only, nothing identifying).

    Without a token, only direct requests from ``allow`` networks (loopback by default) are
    served: a request that came through a reverse proxy (``X-Forwarded-For``, ``Forwarded``,
    ``X-Real-IP``) is not direct, even from 127.0.0.1. With a token, ``Authorization:
    Bearer <token>`` opens it from anywhere.
    """

    token: str = ""
    allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])

    @field_validator("token")
    @classmethod
    def _token(cls, v: str) -> str:
        if v and len(v) < 16:
            raise ValueError("use a random string of at least 16 characters, or \"\" for none")
        return v

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as e:
                raise ValueError(f"{net!r} is not an address or network such as "
                                 "\"10.0.0.0/8\"") from e
        return v

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The ``allow`` networks, parsed."""
        return [ipaddress.ip_network(n, strict=False) for n in self.allow]


class DatabaseConfig(_Section):
    """Where records live: SQLite (embedded default) or PostgreSQL."""

    url: str = "sqlite://survey-bot.sqlite3"

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("must start with sqlite://, postgres:// or postgresql://")
        return v


class OrgConfig(_Section):
    """Who is writing to patients, and the local time zone."""

    name: str = "示例医院"
    phone: str = "0571-88888888"
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)"
            ) from e
        return v


class WorkerConfig(_Section):
    """Background loops: planner, outbox sender, dispatcher."""

    poll_interval_seconds: float = Field(1.0, gt=0, le=3600)
    lease_seconds: int = Field(60, ge=5, le=3600)
    batch_size: int = Field(100, ge=1, le=10_000)
    max_send_attempts: int = Field(5, ge=1, le=100)
    send_concurrency: int = Field(32, ge=1, le=1000)
    retry_backoff_seconds: float = Field(30.0, ge=0, le=86_400)


class ApiConfig(_Section):
    """Keys accepted by the import API (``Authorization: Bearer <key>``)."""

    keys: list[str] = Field(default_factory=list)


class WebConfig(_Section):
    """Staff and manager pages."""

    default_language: Literal["zh", "en"] = "zh"


class LedgerConfig(_Section):
    """Keys of the hash chains (answers, audit events): secrets, from the environment.

    With ``chain_key`` set each new row is linked by HMAC-SHA256 under it, so someone who can
    write the database but not read the application's environment cannot re-hash an edited
    chain into one that verifies. ``previous_chain_keys`` (newest first; comma-separated from
    the environment) only verify rows written before a rotation.
    """

    chain_key: str = Field("", description="HMAC key for new chain links; empty: unkeyed")
    previous_chain_keys: list[str] = Field(default_factory=list)

    @field_validator("previous_chain_keys", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):  # SURVEYBOT_LEDGER__PREVIOUS_CHAIN_KEYS=new-old,older
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @field_validator("previous_chain_keys")
    @classmethod
    def _long_enough(cls, v: list[str]) -> list[str]:
        for k in v:
            _check_chain_key(k)
        return v

    @field_validator("chain_key")
    @classmethod
    def _key(cls, v: str) -> str:
        if v:
            _check_chain_key(v)
        return v


def _check_chain_key(key: str) -> None:
    if len(key) < 32 or "," in key:
        raise ValueError("a chain key is at least 32 characters without commas, e.g. the "
                         "output of `python -c 'import secrets; print(secrets.token_hex(32))'`")


class SimulatorConfig(_Section):
    """The built-in patient-phone simulator channel.

    Off unless asked for: its page lets anyone write as any contact and read their messages,
    which is what a demo wants and a hospital must not expose. The built-in demo settings
    (no configuration file) turn it on.
    """

    enabled: bool = False
    latency_ms: int = Field(0, ge=0, le=60_000)
