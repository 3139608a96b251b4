"""Commands that move data in and out: import, report, verify the chains, rebuild tallies,
WeChat binding QR codes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from bot import db, ledger
from bot.cli.common import runtime_for, settings_for
from bot.clock import SystemClock


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
    settings = settings_for(args)
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
            result = await import_file(runtime_for(settings), path, source=args.source,
                                       sampling=sampling, progress=_progress_bar)
        for line in result.summary(str(path), lang, sampled=sampling is not None):
            print(line)
        for e in result.errors:
            print(f"  {path}:{e.describe(lang)}", file=sys.stderr)
        if result.errors:
            print(fix_hint(lang, result.file_refused), file=sys.stderr)
        return 1 if result.errors else 0

    return asyncio.run(run())


def cmd_report(args: argparse.Namespace) -> int:
    """The monthly or quarterly report as JSON, CSV or XLSX; or deliver the due ones."""
    from bot.analytics import delivery, exports, reports
    from bot.analytics.tallies import TallyError

    settings = settings_for(args)
    now = SystemClock().now()
    if args.schedule:
        async def deliver() -> int:
            async with db.database(settings.database.url):
                return await delivery.deliver_due(runtime_for(settings), kinds=args.schedule)

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
    settings = settings_for(args)
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
    """Recount the tally rollups from the answers, and the follow-up rollups from the
    check-ins and episodes (after a restore or a bulk load)."""
    settings = settings_for(args)

    async def run() -> int:
        from bot.analytics import followup_rollup, tallies

        async with db.database(settings.database.url):
            counts = await tallies.rebuild_rollup()
            followup = await followup_rollup.rebuild(settings.tz)
        for table, rows in counts.items():
            print(f"{table}: {rows} rows rebuilt from the answers")
        for table, rows in followup.items():
            print(f"{table}: {rows} rows rebuilt from the check-ins and episodes "
                  f"({settings.tz.key})")
        return 0

    return asyncio.run(run())


def cmd_wechat_qr(args: argparse.Namespace) -> int:
    """Print (and optionally save) an episode's WeChat binding QR code for its paperwork."""
    from bot.channels import wechat

    settings = settings_for(args)
    if not settings.wechat.app_id:
        print("the WeChat channel is off: set [wechat] app_id (see config.example.toml)",
              file=sys.stderr)
        return 2

    async def run() -> int:
        rt = runtime_for(settings)
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
