"""What every command shares: settings resolved one way, the runtime, logging, ports.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot import db, ledger
from bot.clock import SystemClock
from bot.config import (
    Settings,
    resolve_settings,
)
from bot.observability import configure as configure_logging
from bot.runtime import Runtime

log = logging.getLogger("survey-bot")


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings every command resolves the same way, announced on standard error.

    ``--config``, else ``$SURVEYBOT_CONFIG``, else the built-in demo settings (whose database
    is the demo's, so ``survey-bot import`` lands in the demo ``make run`` serves). The first
    line names the database, so nobody wonders where their import went.
    """
    settings, source = resolve_settings(args.config)
    line = (f"survey-bot {args.command}: database {db.describe_url(settings.database.url)} "
            f"({source})")
    if args.command in ("serve", "demo") and settings.logging.format == "json":
        # A server logging JSON writes nothing else to standard error: this line too.
        configure_logging_for(settings, args)
        log.info("%s", line, extra={"database": db.describe_url(settings.database.url)})
    else:
        print(line, file=sys.stderr, flush=True)
    # Every command that appends to the hash chains signs with the configured key.
    ledger.configure(settings.ledger.chain_key, settings.ledger.previous_chain_keys)
    return settings


def runtime_for(settings: Settings) -> Runtime:
    from bot.app import build_channels

    return Runtime(settings=settings, clock=SystemClock(), channels=build_channels(settings))


def configure_logging_for(settings: Settings, args: argparse.Namespace) -> None:
    """The server's logs as ``[logging]`` says (commands keep plain text)."""
    configure_logging(settings.logging.format, settings.logging.level, verbose=args.verbose,
                      tz=settings.tz)


def port_number(text: str) -> int:
    """A TCP port number for argparse (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port
