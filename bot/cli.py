"""The ``survey-bot`` command line: serve, migrate, demo, parse, import, verify."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from bot import db, ledger
from bot.app import create_app
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.runtime import Runtime

log = logging.getLogger("survey-bot")

DEMO_DB = "sqlite://survey-bot-demo.sqlite3"


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _runtime(settings: Settings) -> Runtime:
    from bot.app import build_channels

    return Runtime(settings=settings, clock=SystemClock(), channels=build_channels(settings))


def _print_urls(settings: Settings, demo: bool) -> None:
    base = settings.server.base_url()
    lines = [
        "",
        f"  回访机器人 is running on {base}",
        f"    patient phone simulator  {base}/simulator",
        f"    staff queue              {base}/staff/queue",
        f"    satisfaction tallies     {base}/tallies",
        f"    health                   {base}/healthz",
    ]
    if demo:
        lines.append("  Open the simulator, pick a contact, answer the check-in (e.g. "
                     "\"2 护士态度不好\"), then look at the queue and the tallies.")
    lines.append("  Press Ctrl+C to stop.\n")
    print("\n".join(lines), flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the web server and/or the background workers."""
    settings = _settings(args)
    if args.role:
        settings = settings.model_copy(
            update={"server": settings.server.model_copy(update={"role": args.role})}
        )
    app = create_app(settings)
    _print_urls(settings, demo=False)
    if settings.server.role == "worker":
        # No HTTP: just the loops, until interrupted.
        async def worker_only() -> None:
            runner = web.AppRunner(app)
            await runner.setup()
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(worker_only())
        return 0
    web.run_app(app, host=settings.server.host, port=settings.server.port, print=None)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations."""
    settings = _settings(args)

    async def run() -> None:
        await db.migrate(settings.database.url)
        await db.close_db()

    asyncio.run(run())
    print("migrations applied")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed sample data into the demo database and serve it with the simulator."""
    from bot import demo

    settings = _settings(args)
    if not args.config and "SURVEYBOT_DATABASE__URL" not in os.environ:
        settings = settings.model_copy(
            update={"database": settings.database.model_copy(update={"url": DEMO_DB})}
        )
    if args.fresh and settings.database.url == DEMO_DB:
        for suffix in ("", "-wal", "-shm"):
            Path(f"survey-bot-demo.sqlite3{suffix}").unlink(missing_ok=True)

    async def seed() -> None:
        async with db.database(settings.database.url, apply_migrations=True):
            result = await demo.seed(_runtime(settings))
            print(f"demo data: {result.created} visits created, {result.checkins_planned} "
                  "check-ins planned", flush=True)

    asyncio.run(seed())
    app = create_app(settings)
    _print_urls(settings, demo=True)
    web.run_app(app, host=settings.server.host, port=settings.server.port, print=None)
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    """Interpret replies: one TEXT with reasons, or --jsonl from standard input."""
    from surveys.parser import Lexicon, ReplyParser

    settings = _settings(args)
    parser = ReplyParser(Lexicon.default().extended(**settings.lexicon.model_dump()))
    if args.jsonl:
        out = sys.stdout
        for n, line in enumerate(sys.stdin, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
                text = obj["text"]
                if not isinstance(text, str):
                    raise TypeError("text is not a string")
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                out.write(json.dumps({"error": f"line {n}: {e}", "score": None, "opt_out": False,
                                      "complaint": False, "red_flag": False,
                                      "question": False}, ensure_ascii=False) + "\n")
                continue
            out.write(json.dumps(parser.parse(text).to_dict(), ensure_ascii=False) + "\n")
        return 0
    if not args.text:
        print("give a TEXT to parse, or --jsonl to read JSON lines from standard input",
              file=sys.stderr)
        return 2
    result = parser.parse(" ".join(args.text))
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    print()
    print(result.explain())
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import visits from a CSV file; bad rows are reported, good rows kept."""
    from bot.importer import import_csv_file

    settings = _settings(args)
    path = Path(args.file)
    if not path.exists():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    if path.suffix.lower() not in (".csv", ".txt"):
        print(f"{path}: only CSV files are supported (save the sheet as CSV UTF-8)",
              file=sys.stderr)
        return 2

    async def run() -> int:
        async with db.database(settings.database.url,
                               apply_migrations=settings.database.url.startswith("sqlite")):
            result = await import_csv_file(_runtime(settings), path, source=args.source)
        print(f"{path}: {result.created} created, {result.updated} updated, "
              f"{result.unchanged} unchanged, {result.checkins_planned} check-ins planned, "
              f"{len(result.errors)} rows refused")
        for e in result.errors:
            print(f"  {path}:{e}", file=sys.stderr)
        if result.errors:
            print("Fix the refused rows and import the file again: rows already imported are "
                  "recognised by external_id and not duplicated.", file=sys.stderr)
        return 1 if result.errors else 0

    return asyncio.run(run())


def cmd_verify(args: argparse.Namespace) -> int:
    """Check the hash chains of answers and audit events."""
    settings = _settings(args)

    async def run() -> int:
        async with db.database(settings.database.url):
            reports = await ledger.verify_all()
        bad = 0
        for r in reports:
            if r.ok:
                print(f"{r.table}: {r.rows} rows, chain intact")
            else:
                bad += 1
                print(f"{r.table}: row id {r.first_bad_id} does not fit: {r.problem}")
        return 1 if bad else 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="survey-bot", description=__doc__)
    p.add_argument("--config", help="TOML file (default: $SURVEYBOT_CONFIG, else demo settings)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the server and workers")
    s.add_argument("--role", choices=["web", "worker", "all"], help="override [server] role")
    s.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    d = sub.add_parser("demo", help="seed sample data and serve the demo (make run)")
    d.add_argument("--fresh", action="store_true", help="start from an empty demo database")
    d.set_defaults(func=cmd_demo)
    pa = sub.add_parser("parse", help="show how replies are understood")
    pa.add_argument("--jsonl", action="store_true", help="read {\"text\": ...} lines on stdin")
    pa.add_argument("text", nargs="*", help="a reply to explain")
    pa.set_defaults(func=cmd_parse)
    im = sub.add_parser("import", help="import visits from CSV (columns in README)")
    im.add_argument("file")
    im.add_argument("--source", default="csv", help="name of the system the ids come from")
    im.set_defaults(func=cmd_import)
    sub.add_parser("verify", help="check the answer and audit hash chains").set_defaults(
        func=cmd_verify
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``survey-bot`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
