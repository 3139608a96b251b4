"""Logging set-up: human lines or one JSON object per line, quiet polling, nothing identifying.

``[logging] format = "json"`` writes one object per line with ``time`` (ISO 8601 with the
organisation's offset), ``level``, ``logger``, ``message``, ``worker`` (this process's id),
any structured extras (``extra={...}``) and, for errors, the ``exception`` traceback inside the
object. Both formats mask any mainland mobile number that slips into a line (``138****1111``):
a second guard behind the rule that log calls name people only by ids.

The access log (:class:`AccessLog`) logs requests without their query string (WeChat puts
the openid there) and with secret path parts (survey-link and callback tokens) replaced by
``{token}``; polling endpoints and static files go at DEBUG, the rest at INFO. SQL statements
are never logged, not even at DEBUG: their values are names and phones. Tortoise's own
"Tortoise-ORM startup/shutdown" lines, written at every open and close (the CLI opens the
database several times), are dropped: the server says once that the database is open and once
that it is closed.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime, tzinfo
from typing import Any, TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A mainland mobile number (optionally +86/86), not part of a longer run of digits.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?(1[3-9]\d)[ -]?\d{4}[ -]?(\d{4})(?!\d)")
# Requests a page repeats on a timer, probes and scrapes, static files: DEBUG, not INFO.
QUIET_ROUTES = frozenset({
    "/healthz", "/metrics", "/staff/queue/rows", "/simulator/api/contacts/{id}/messages",
})
QUIET_PREFIXES = ("/static/",)
# Path parts that are secrets (H5 survey links, Aliyun callback URLs).
SECRET_PARTS = ("token",)
# Debug output never shown: SQL statements with their values (names, phones) and the SQLite
# driver's line per operation.
SILENT_BELOW_INFO = ("tortoise.db_client", "aiosqlite")

_worker: str | None = None  # until the runtime exists (JSON: null)


def set_worker(worker_id: str) -> None:
    """The id every log line of this process carries (``worker`` in JSON)."""
    global _worker
    _worker = worker_id


def scrub(text: str) -> str:
    """``text`` with mainland mobile numbers masked."""
    return _PHONE.sub(r"\1****\2", text)


class _Context(logging.Filter):
    """Adds the process's worker id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = _worker
        return True


class _OrmLifecycle(logging.Filter):
    """Drops tortoise's "Tortoise-ORM startup/shutdown" lines (one per open and close)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Tortoise-ORM")


_ORM_FILTER = _OrmLifecycle()


class TextFormatter(logging.Formatter):
    """The classic one-line format, phone numbers masked."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, worker, extras, exception."""

    def __init__(self, tz: tzinfo | None = None) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception",
                           "stack_info": "stack"},
            json_ensure_ascii=False,
        )
        self.tz = tz

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        """``time`` first, aware, in the organisation's zone; then the usual fields."""
        when = datetime.fromtimestamp(record.created, self.tz).astimezone(self.tz)
        log_data["time"] = when.isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)

    def serialize_log_record(self, log_data: dict[str, Any]) -> str:
        """The line, phone numbers masked (JSON escapes leave digits alone)."""
        return scrub(super().serialize_log_record(log_data))


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is now (tests swap it between runs)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure(fmt: str = "text", level: str = "info", *, verbose: bool = False,
              tz: tzinfo | None = None) -> None:
    """(Re)configure the root logger: one handler to standard error in ``fmt``.

    Called once by every command (text), then by ``serve`` and ``demo`` with ``[logging]``.
    Only the handler installed here is replaced; others (a test runner's) stay.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_surveybot", False):
            root.removeHandler(h)
    handler = _StderrHandler()
    handler._surveybot = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter(tz) if fmt == "json" else TextFormatter(TEXT_FORMAT))
    handler.addFilter(_Context())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else getattr(logging, level.upper()))
    if fmt == "json":
        logging.captureWarnings(True)  # Python's warnings as JSON lines too, not raw text
    logging.getLogger("tortoise").addFilter(_ORM_FILTER)
    for name in SILENT_BELOW_INFO:
        logging.getLogger(name).setLevel(logging.INFO)


def request_path(request: BaseRequest) -> str:
    """The path as it may be logged: no query string; a route with a secret part (a survey
    link, a callback URL) as its pattern, ``/s/{token}``."""
    info = getattr(request, "match_info", None)
    if info is not None and any(key in info for key in SECRET_PARTS):
        return _route(request) or "/{token}"
    return request.rel_url.raw_path


def _route(request: BaseRequest) -> str | None:
    info = getattr(request, "match_info", None)
    resource = getattr(getattr(info, "route", None), "resource", None)
    return resource.canonical if resource is not None else None


class AccessLog(AbstractAccessLogger):
    """One line per request: method, path, status, size, time; polling at DEBUG."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Log one finished request."""
        path = request_path(request)
        quiet = _route(request) in QUIET_ROUTES or path.startswith(QUIET_PREFIXES)
        level = logging.DEBUG if quiet else logging.INFO
        if not self.logger.isEnabledFor(level):
            return
        ms = round(time * 1000, 1)
        self.logger.log(level, "%s %s %d %d bytes %.1f ms", request.method, path,
                        response.status, response.body_length, ms,
                        extra={"method": request.method, "path": path,
                               "status": response.status, "bytes": response.body_length,
                               "duration_ms": ms})
