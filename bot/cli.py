"""The ``survey-bot`` command line: serve, migrate, demo, parse, import, verify."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from bot import db, ledger
from bot import serve as serving
from bot.app import create_app
from bot.clock import SystemClock
from bot.config import (
    DEMO_DATABASE_URL,
    ConfigError,
    Settings,
    load_settings,
    resolve_settings,
)
from bot.observability import configure as configure_logging
from bot.runtime import Runtime

log = logging.getLogger("survey-bot")


def _settings(args: argparse.Namespace) -> Settings:
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
        _configure_logging(settings, args)
        log.info("%s", line, extra={"database": db.describe_url(settings.database.url)})
    else:
        print(line, file=sys.stderr, flush=True)
    # Every command that appends to the hash chains signs with the configured key.
    ledger.configure(settings.ledger.chain_key, settings.ledger.previous_chain_keys)
    return settings


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
                     "\"2 护士态度不好\"), then sign in to the staff queue (agent / "
                     "demo-agent-1) and claim it.")
    lines.append("  Press Ctrl+C to stop.\n")
    print("\n".join(lines), flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the web server and/or the background workers."""
    settings = _settings(args)
    server = {k: v for k, v in (("role", args.role), ("metrics_port", args.metrics_port))
              if v is not None}
    if server:
        settings = settings.model_copy(
            update={"server": settings.server.model_copy(update=server)})
    _configure_logging(settings, args)
    if args.metrics_port is not None and settings.server.role != "worker":
        log.warning("--metrics-port is for workers: role %s serves /healthz and /metrics on "
                    "port %d", settings.server.role, settings.server.port)
    app = create_app(settings)
    if settings.server.role == "worker":
        def ready(port: int) -> None:
            print(f"survey-bot worker running (planner, dispatcher, outbox); health and "
                  f"metrics on http://{settings.server.host}:{port}/healthz and /metrics; "
                  "Ctrl+C to stop", flush=True)

        return _run(app, settings, ready)
    return _run(app, settings, lambda port: _print_urls(settings, demo=False))


def _configure_logging(settings: Settings, args: argparse.Namespace) -> None:
    """The server's logs as ``[logging]`` says (commands keep plain text)."""
    configure_logging(settings.logging.format, settings.logging.level, verbose=args.verbose,
                      tz=settings.tz)


def _port(text: str) -> int:
    """A TCP port number for argparse (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


def _run(app: web.Application, settings: Settings, on_ready: Callable[[int], None]) -> int:
    try:
        serving.run(app, settings, on_ready)
    except serving.ListenError as e:
        print(str(e), file=sys.stderr)
        return 2
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
    if not settings.simulator.enabled:  # the demo is answered in the simulator
        settings = settings.model_copy(
            update={"simulator": settings.simulator.model_copy(update={"enabled": True})})
    if args.fresh and settings.database.url == DEMO_DATABASE_URL:
        # Only ever the demo's own file: a configured database is never deleted.
        demo_file = DEMO_DATABASE_URL.removeprefix("sqlite://")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{demo_file}{suffix}").unlink(missing_ok=True)

    async def seed() -> None:
        async with db.database(settings.database.url):
            result = await demo.seed(_runtime(settings))
            print(f"demo data: {result.created} visits created, {result.checkins_planned} "
                  "check-ins planned", flush=True)
            accounts = await demo.seed_staff()
            print("demo staff (sign in at /staff/login):", flush=True)
            for username, role, password in accounts:
                print(f"    {role:<8} {username:<6} password {password}", flush=True)

    asyncio.run(seed())
    _configure_logging(settings, args)
    app = create_app(settings)
    return _run(app, settings, lambda port: _print_urls(settings, demo=True))


def cmd_parse(args: argparse.Namespace) -> int:
    """Interpret replies: one TEXT with reasons, or --jsonl from standard input."""
    settings = load_settings(args.config)  # no database: nothing to announce
    parser = settings.lexicon.parser()
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
                                      "complaint": False, "dispute": False,
                                      "red_flag": False,
                                      "question": False}, ensure_ascii=False) + "\n")
                continue
            out.write(json.dumps(parser.parse(text).to_dict(), ensure_ascii=False) + "\n")
        return 0
    if not args.text:
        print("give a TEXT to parse, or --jsonl to read JSON lines from standard input",
              file=sys.stderr)
        return 2
    text = " ".join(args.text)
    print(json.dumps(parser.parse(text).to_dict(), ensure_ascii=False, indent=2))
    print()
    print(parser.explain(text))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Retrain the reply model on the shipped labelled replies plus the staff's corrections."""
    from surveys.parser import Lexicon, ReplyParser
    from surveys.understanding import learn
    from surveys.understanding.model import MODEL_PATH, Model, ModelError

    settings = _settings(args)
    from surveys.native import PACKAGE_DIR

    shipped = PACKAGE_DIR.parent / "tests" / "data"  # the checkout's labelled replies
    if not args.data and not shipped.is_dir():
        print("no labelled replies found: pass --data DIR (JSONL files as in the README)",
              file=sys.stderr)
        return 2
    try:
        paths = learn.expand(args.data or [shipped])
        sets = [(p.name, learn.load_rows(p)) for p in paths]
        own: list[dict[str, object]] = []
        if args.corrections_file:
            own = list(learn.load_rows(Path(args.corrections_file)))
        elif not args.no_corrections:
            from bot import corrections

            async def fetch() -> list[dict[str, object]]:
                async with db.database(settings.database.url):
                    return await corrections.export_rows()

            own = asyncio.run(fetch())
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    heldout: list[tuple[str, list[dict[str, object]]]] = []
    weights: dict[str, float] = {}
    if own:
        # every fifth correction is held out to show the difference the retraining makes
        heldout = [("corrections (held out)", own[4::5])]
        kept = [r for i, r in enumerate(own) if i % 5 != 4]
        if kept:
            sets.append(("corrections", kept))
            weights["corrections"] = args.correction_weight
    elif not args.no_holdout:
        heldout = [("every tenth shipped reply (held out)",
                    [r for _, rows in sets for r in rows[9::10]])]
        sets = [(n, [r for i, r in enumerate(rows) if i % 10 != 9]) for n, rows in sets]
    rules = ReplyParser(Lexicon.default().extended(**settings.lexicon.words()), recall=False)
    before: Model | None = None
    try:
        used = settings.lexicon.recall()
        before = used if isinstance(used, Model) else (
            Model.load(MODEL_PATH) if used and MODEL_PATH.exists() else None)
    except ModelError:
        before = None
    print(f"training on {sum(len(r) for _, r in sets)} replies from {len(sets)} sets"
          + (f", {len(own)} of them staff corrections" if own else ""), flush=True)
    data, report = learn.train(
        sets, rules, folds=args.folds, heldout=heldout, before=before, weights=weights,
        meta={"sets": [n for n, _ in sets], "corrections": len(own)})
    out = Path(args.out)
    out.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n",
                   encoding="utf-8")
    print("\n".join(report))
    print(f"model written to {out}; use it with [lexicon] recall_model = \"{out}\"")
    return 0


def cmd_corrections_export(args: argparse.Namespace) -> int:
    """The staff's label corrections as JSONL (the format of the labelled sets)."""
    from bot import corrections

    settings = _settings(args)

    async def run() -> list[dict[str, object]]:
        async with db.database(settings.database.url):
            return await corrections.export_rows()

    rows = asyncio.run(run())
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(rows)} corrected replies written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _progress_bar(done: int, total: int) -> None:
    """A one-line progress bar on stderr (only on a terminal, so logs and CI stay clean)."""
    if not sys.stderr.isatty() or total == 0:
        return
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_import(args: argparse.Namespace) -> int:
    """Import visits from CSV or XLSX; bad rows are reported, good rows kept.

    It speaks the operator's language: ``--lang``, else Chinese, or English when the locale
    is a non-Chinese one.
    """
    from bot.importer import Sampling, fix_hint, import_file, language

    lang = args.lang or language(os.environ)
    zh = lang == "zh"
    settings = _settings(args)
    path = Path(args.file)
    if not path.exists():
        print(f"{path}：文件不存在" if zh else f"{path}: no such file", file=sys.stderr)
        return 2
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".txt", ".tsv", ".xlsx"):
        xls = suffix == ".xls"
        print(f"{path}：请使用 .csv/.txt（UTF-8、GBK/GB18030 或 UTF-16）或 .xlsx 文件"
              + ("（.xls 请在 Excel 中另存为 .xlsx）" if xls else "") if zh else
              f"{path}: use a .csv/.txt file (UTF-8, GBK/GB18030 or UTF-16) or an .xlsx "
              "workbook" + (" (save an .xls as .xlsx in Excel)" if xls else ""),
              file=sys.stderr)
        return 2
    sampling = None
    if args.sample is not None:
        if not 0 < args.sample <= 100:
            print("--sample 是 0 到 100 之间的百分比，例如 --sample 10" if zh else
                  "--sample is a percentage between 0 and 100, e.g. --sample 10",
                  file=sys.stderr)
            return 2
        sampling = Sampling(args.sample / 100, frozenset(args.sample_kind or ()), args.seed)

    async def run() -> int:
        async with db.database(settings.database.url):
            result = await import_file(_runtime(settings), path, source=args.source,
                                       sampling=sampling, progress=_progress_bar)
        for line in result.summary(str(path), lang, sampled=sampling is not None):
            print(line)
        for e in result.errors:
            print(f"  {path}:{e.describe(lang)}", file=sys.stderr)
        if result.errors:
            print(fix_hint(lang, result.file_refused), file=sys.stderr)
        return 1 if result.errors else 0

    return asyncio.run(run())


def cmd_channels(args: argparse.Namespace) -> int:
    """Show or lift channel pauses (a provider said our credentials or set-up are wrong)."""
    from tortoise import connections
    from tortoise.exceptions import OperationalError

    from bot.channels import pause
    from bot.wakeups import CHANNEL as WAKE

    settings = _settings(args)
    url = settings.database.url
    resume = getattr(args, "channels_command", "resume") == "resume"
    only = getattr(args, "channel", None)

    async def run() -> int:
        now = SystemClock().now()
        async with db.database(url):
            try:
                found = (await pause.resume(only, now, actor="cli") if resume
                         else await pause.active(now))
            except OperationalError as e:
                if "no such table" not in str(e) and "does not exist" not in str(e):
                    raise
                # A PostgreSQL database nobody has migrated yet: nothing can be paused there.
                print("nothing is paused: the database has no tables yet; run "
                      "`survey-bot migrate` first", file=sys.stderr)
                return 0
            if resume and found and db.is_postgres():
                # Workers listening on PostgreSQL send the waiting messages at once.
                await connections.get("default").execute_query(
                    f"SELECT pg_notify('{WAKE}', 'outbox')")
        if not found:
            print(("no channel was paused" if only is None else f"{only} was not paused")
                  if resume else "no channel is paused")
            return 0
        for p in found:
            scope = f" ({', '.join(sorted(p.kinds))} messages)" if p.kinds else ""
            since = f" since {p.since.astimezone(settings.tz):%Y-%m-%d %H:%M}" if p.since else ""
            until = (f", ends by itself at {p.until.astimezone(settings.tz):%Y-%m-%d %H:%M}"
                     if p.until else "")
            print(f"{p.channel}{scope} {'resumed; was paused' if resume else 'paused'}{since}: "
                  f"{p.en} ({p.code}){until}")
        if resume:
            print("waiting messages go out on the workers' next look")
        else:
            print("messages wait; fix the set-up, then run `survey-bot channels resume CHANNEL`")
        return 0

    return asyncio.run(run())


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the configuration against reality; exit 1 when a message would be lost or late."""
    from bot import doctor

    settings = _settings(args)

    async def run() -> list[doctor.Finding]:
        try:
            async with db.database(settings.database.url):
                rt = _runtime(settings)
                try:
                    return await doctor.run(rt)
                finally:
                    for ch in rt.channels.values():
                        close = getattr(ch, "close", None)
                        if close is not None:
                            await close()
        except db.DatabaseNotReady as e:
            # Everything else needs the database: say so in the same table.
            return [doctor.fail("database", str(e), "fix [database] url, or run "
                                "`survey-bot migrate`")]

    findings = asyncio.run(run())
    if args.json:
        print(json.dumps(doctor.summary(findings, SystemClock().now()), ensure_ascii=False,
                         indent=2))
    else:
        print(doctor.table(findings))
        bad = sum(f.status is doctor.Status.FAIL for f in findings)
        print(f"\n{bad} problem(s) would lose or delay messages" if bad
              else "\nnothing would lose or delay a message")
    return 1 if doctor.failed(findings) else 0


def cmd_sms_resume(args: argparse.Namespace) -> int:
    """The old spelling of ``channels resume sms``."""
    args.channels_command, args.channel = "resume", "sms"
    return cmd_channels(args)


def cmd_report(args: argparse.Namespace) -> int:
    """The monthly or quarterly report as JSON, CSV or XLSX; or deliver the due ones."""
    from bot.analytics import delivery, exports, reports
    from bot.analytics.tallies import TallyError

    settings = _settings(args)
    now = SystemClock().now()
    if args.schedule:
        async def deliver() -> int:
            async with db.database(settings.database.url):
                return await delivery.deliver_due(_runtime(settings), kinds=args.schedule)

        sent = asyncio.run(deliver())
        print(f"{sent} report(s) delivered" if sent else "nothing due (or already delivered)",
              file=sys.stderr)
        return 0
    period = args.period or reports.default_period(reports.local_today(now, settings.tz))
    if args.format == "xlsx" and not args.output and sys.stdout.isatty():
        print("XLSX is binary: give --output FILE.xlsx (or redirect standard output)",
              file=sys.stderr)
        return 2

    async def run() -> reports.Report:
        async with db.database(settings.database.url):
            depts = None
            if args.department:
                from models import Department

                found = await Department.filter(code__in=args.department).values("id", "code")
                missing = set(args.department) - {d["code"] for d in found}
                if missing:
                    raise TallyError(f"unknown department code(s): {', '.join(sorted(missing))}")
                depts = frozenset(int(d["id"]) for d in found)
            return await reports.build_report(settings, now,
                                              reports.ReportRequest(period, depts))

    try:
        rep = asyncio.run(run())
    except TallyError as e:
        print(str(e), file=sys.stderr)
        return 2
    if args.format == "json":
        data = (exports.json_text(rep.as_dict()) + "\n").encode()
    elif args.format == "csv":
        data = exports.csv_text(rep.sheets()).encode("utf-8")
    else:
        data = exports.xlsx_bytes(rep.sheets())
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check the hash chains of answers and audit events (and the anchor file, if given)."""
    settings = _settings(args)
    anchor = Path(args.anchor) if args.anchor else None

    async def run() -> int:
        async with db.database(settings.database.url):
            reports = await ledger.verify_all()
            anchors = await ledger.check_anchors(anchor) if anchor else None
        ring = ledger.keyring()
        bad = 0
        for r in reports:
            if not r.ok:
                bad += 1
                print(f"{r.table}: row id {r.first_bad_id} does not fit: {r.problem}")
                continue
            signed = ", ".join(f"{n} by key {k}" for k, n in sorted(r.by_key.items()))
            print(f"{r.table}: {r.rows} rows, chain intact"
                  + (f" ({signed})" if signed else ""))
            if r.unkeyed and ring.current:
                print(f"  {r.unkeyed} rows up to id {r.last_unkeyed_id} are linked without a "
                      "key (written before the chain key was set); the first keyed row seals "
                      "them. Anchor the chain (--anchor FILE) to pin them.")
            elif r.rows and not ring.keys:
                print("  no chain key is set: anyone who can write the database can re-hash "
                      "this chain (see README, Security)")
        if anchors is not None and anchor is not None:
            for problem in anchors.problems:
                bad += 1
                print(f"anchor: {problem}")
            if anchors.ok:
                note = f", {anchors.unsigned} unsigned" if anchors.unsigned else ""
                print(f"anchor: {anchors.checkpoints} checkpoints in {anchor} hold{note}")
        if bad:
            return 1
        if anchor is not None:
            ledger.write_anchor(anchor, ledger.checkpoint(reports, SystemClock().now()))
            how = (f"signed with key {ledger.KeyRing.fingerprint(ring.current)}"
                   if ring.current else "unsigned: no chain key is set")
            print(f"anchor: checkpoint of the chain heads appended to {anchor} ({how})")
        return 0

    return asyncio.run(run())


def cmd_rebuild_tallies(args: argparse.Namespace) -> int:
    """Recount the tally rollups from the answers (after a restore or a bulk load)."""
    settings = _settings(args)

    async def run() -> int:
        from bot.analytics import tallies

        async with db.database(settings.database.url):
            counts = await tallies.rebuild_rollup()
        for table, rows in counts.items():
            print(f"{table}: {rows} rows rebuilt from the answers")
        return 0

    return asyncio.run(run())


def cmd_staff_add(args: argparse.Namespace) -> int:
    """Create a staff account (the first admin, or anyone); the password is asked for."""
    import getpass

    from bot import staff as staff_service

    settings = _settings(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if password != getpass.getpass("again: "):
            print("the two passwords differ; nothing was created", file=sys.stderr)
            return 2
    departments = [c.strip() for c in (args.departments or "").split(",") if c.strip()]

    async def run() -> int:
        async with db.database(settings.database.url):
            try:
                if departments and args.create_departments:
                    from models import Department

                    for code in departments:
                        await Department.get_or_create(code=code, defaults={"name": code})
                staff = await staff_service.create_staff(
                    username=args.username, display_name=args.name or args.username,
                    role=args.role, password=password, departments=departments,
                )
            except staff_service.StaffError as e:
                print(f"not created: {e}", file=sys.stderr)
                return 2
        print(f"created {staff.role.value} {staff.username}; sign in at "
              f"{settings.server.base_url()}/staff/login")
        return 0

    return asyncio.run(run())


def cmd_wechat_qr(args: argparse.Namespace) -> int:
    """Print (and optionally save) an episode's WeChat binding QR code for its paperwork."""
    from bot.channels import wechat

    settings = _settings(args)
    if not settings.wechat.app_id:
        print("the WeChat channel is off: set [wechat] app_id (see config.example.toml)",
              file=sys.stderr)
        return 2

    async def run() -> int:
        rt = _runtime(settings)
        ch = rt.channels["wechat"]
        assert isinstance(ch, wechat.WechatChannel)
        async with db.database(settings.database.url):
            try:
                episode = await wechat.find_episode(args.external_id, args.source)
                qr = await wechat.episode_qr(rt, ch, episode)
            except LookupError as e:
                print(str(e), file=sys.stderr)
                return 1
            except wechat.WechatApiError as e:
                print(f"WeChat could not create the QR code: {e}", file=sys.stderr)
                return 1
            finally:
                await ch.close()
        print(qr.text())
        print(f"episode {args.external_id}: {qr.url}")
        print(f"valid until {rt.local(qr.expires_at):%Y-%m-%d %H:%M}")
        codes.append(qr)
        return 0

    codes: list[wechat.QrCode] = []
    status = asyncio.run(run())
    if codes and args.svg:
        Path(args.svg).write_text(codes[0].svg(scale=8), encoding="utf-8")
        print(f"saved {args.svg} (print it on the discharge paperwork)")
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="survey-bot", description=__doc__)
    p.add_argument("--config", help="TOML file (default: $SURVEYBOT_CONFIG, else demo settings)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the server and workers")
    s.add_argument("--role", choices=["web", "worker", "all"], help="override [server] role")
    s.add_argument("--metrics-port", type=_port, metavar="PORT",
                   help="a worker's /healthz and /metrics port (override [server] "
                        "metrics_port; 0: any free port, named in the ready line)")
    s.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    d = sub.add_parser("demo", help="seed sample data and serve the demo (make run)")
    d.add_argument("--fresh", action="store_true", help="start from an empty demo database")
    d.set_defaults(func=cmd_demo)
    pa = sub.add_parser("parse", help="show how replies are understood")
    pa.add_argument("--jsonl", action="store_true", help="read {\"text\": ...} lines on stdin")
    pa.add_argument("text", nargs="*", help="a reply to explain")
    pa.set_defaults(func=cmd_parse)
    tr = sub.add_parser("train", help="retrain the reply model (shipped data + corrections)")
    tr.add_argument("--data", type=Path, nargs="*",
                    help="JSONL files or directories (default: the shipped tests/data)")
    tr.add_argument("--corrections-file", help="corrections as JSONL instead of the database")
    tr.add_argument("--no-corrections", action="store_true",
                    help="the labelled files only, not the staff's corrections")
    tr.add_argument("--correction-weight", type=float, default=3.0,
                    help="how much one staff correction counts against one shipped reply")
    tr.add_argument("--no-holdout", action="store_true",
                    help="without corrections, train on every shipped reply (no before/after)")
    tr.add_argument("--folds", type=int, default=5, help="grouped folds for the thresholds")
    tr.add_argument("--out", default="reply-model.json", help="where to write the model")
    tr.set_defaults(func=cmd_train)
    co = sub.add_parser("corrections", help="staff corrections of how replies were read")
    co_sub = co.add_subparsers(dest="corrections_command", required=True)
    ce = co_sub.add_parser("export", help="as JSONL, the format of the labelled sets")
    ce.add_argument("-o", "--output", help="file to write (default: standard output)")
    ce.set_defaults(func=cmd_corrections_export)
    im = sub.add_parser("import", help="import visits from CSV (UTF-8, GBK/GB18030, UTF-16) or "
                        "XLSX; Chinese or English headers (columns in README)")
    im.add_argument("file")
    im.add_argument("--source", default="csv", help="name of the system the ids come from")
    im.add_argument("--sample", type=float, metavar="PERCENT",
                    help="follow up only this share of episodes, e.g. 10")
    im.add_argument("--sample-kind", action="append", metavar="KIND",
                    choices=["visit", "discharge", "treatment", "lesson_term"],
                    help="sample only episodes of this kind (repeatable); others all kept")
    im.add_argument("--seed", default="", help="sampling seed (same seed, same choice)")
    im.add_argument("--lang", choices=["zh", "en"],
                    help="language of the summary and errors (default: Chinese, or English "
                    "when LANGUAGE/LC_ALL/LC_MESSAGES/LANG name a non-Chinese locale)")
    im.set_defaults(func=cmd_import)
    ch = sub.add_parser("channels", help="paused channels: status, resume after the fix")
    ch_sub = ch.add_subparsers(dest="channels_command", required=True)
    ch_sub.add_parser("status", help="which channels are paused, since when and why"
                      ).set_defaults(func=cmd_channels)
    cr = ch_sub.add_parser("resume", help="lift a pause once the credentials or set-up are "
                           "fixed; waiting messages go out")
    cr.add_argument("channel", nargs="?", choices=["wechat", "sms"],
                    help="the channel to resume (default: every paused channel)")
    cr.set_defaults(func=cmd_channels)
    sub.add_parser("sms-resume", help="the same as `channels resume sms`"
                   ).set_defaults(func=cmd_sms_resume)
    ve = sub.add_parser("verify", help="check the answer and audit hash chains")
    ve.add_argument("--anchor", metavar="FILE",
                    help="also check the signed checkpoints in FILE, then append one for the "
                         "current chain heads (keep FILE away from the database host)")
    ve.set_defaults(func=cmd_verify)
    sub.add_parser("rebuild-tallies", help="recount the tally rollups from the answers "
                   "(after a restore, or answers written by an older version during an "
                   "upgrade)").set_defaults(func=cmd_rebuild_tallies)
    dr = sub.add_parser("doctor", help="check the configuration against reality (exit 1 "
                        "when a message would be lost or delayed)")
    dr.add_argument("--json", action="store_true", help="findings as JSON")
    dr.set_defaults(func=cmd_doctor)
    rp = sub.add_parser("report", help="monthly or quarterly report (JSON, CSV, XLSX), or "
                        "deliver the due ones to the managers' WeCom robot")
    rp.add_argument("--period", help="2026-10, 2026-Q4 or 2026-10-01..2026-10-31 "
                    "(default: last month)")
    rp.add_argument("--schedule", action="append", choices=["monthly", "quarterly"],
                    help="deliver the last month's (quarter's) report to [reports] robot_key if "
                    "it is due and not yet delivered; run it daily from cron, or leave it to "
                    "the worker, which does the same")
    rp.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
    rp.add_argument("--output", "-o", help="write to this file instead of standard output")
    rp.add_argument("--department", action="append", metavar="CODE",
                    help="only this department (repeatable)")
    rp.set_defaults(func=cmd_report)
    st = sub.add_parser("staff", help="staff accounts")
    st_sub = st.add_subparsers(dest="staff_command", required=True)
    sa = st_sub.add_parser("add", help="create a staff account (e.g. the first admin)")
    sa.add_argument("username")
    sa.add_argument("--name", help="display name (default: the username)")
    sa.add_argument("--role", default="admin", choices=["agent", "head", "manager", "admin"],
                    help="default: admin")
    sa.add_argument("--departments", help="comma-separated department codes, e.g. dental,ortho")
    sa.add_argument("--create-departments", action="store_true",
                    help="create department codes that do not exist yet")
    sa.add_argument("--password-stdin", action="store_true",
                    help="read the password from standard input instead of asking")
    sa.set_defaults(func=cmd_staff_add)
    wq = sub.add_parser("wechat-qr", help="an episode's WeChat binding QR code (paperwork)")
    wq.add_argument("external_id", help="the episode's external id")
    wq.add_argument("--source", help="the system the id comes from, if several use it")
    wq.add_argument("--svg", help="also save the code as an SVG file")
    wq.set_defaults(func=cmd_wechat_qr)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``survey-bot`` console script."""
    args = build_parser().parse_args(argv)
    configure_logging("text", "info", verbose=args.verbose)  # serve, demo: [logging]
    try:
        return int(args.func(args))
    except (ConfigError, db.DatabaseNotReady) as e:
        print(str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
