"""The ``survey-bot`` command line: serve, migrate, demo, import, report, doctor, channels,
parse, train, verify, staff. ``python -m bot.cli`` and the ``survey-bot`` script run :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import db
from bot.cli.admin import cmd_channels, cmd_doctor, cmd_sms_resume, cmd_staff_add
from bot.cli.common import port_number
from bot.cli.data import cmd_import, cmd_rebuild_tallies, cmd_report, cmd_verify, cmd_wechat_qr
from bot.cli.replies import cmd_corrections_export, cmd_parse, cmd_train
from bot.cli.server import cmd_demo, cmd_migrate, cmd_serve
from bot.config import (
    ConfigError,
)
from bot.observability import configure as configure_logging


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="survey-bot", description=__doc__)
    p.add_argument("--config", help="TOML file (default: $SURVEYBOT_CONFIG, else demo settings)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the server and workers")
    s.add_argument("--role", choices=["web", "worker", "all"], help="override [server] role")
    s.add_argument("--metrics-port", type=port_number, metavar="PORT",
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
    cr.add_argument("channel", nargs="?", choices=["wechat", "sms", "voice"],
                    help="the channel to resume (default: every paused channel)")
    cr.set_defaults(func=cmd_channels)
    sub.add_parser("sms-resume", help="the same as `channels resume sms`"
                   ).set_defaults(func=cmd_sms_resume)
    ve = sub.add_parser("verify", help="check the answer and audit hash chains")
    ve.add_argument("--anchor", metavar="FILE",
                    help="also check the signed checkpoints in FILE, then append one for the "
                         "current chain heads (keep FILE away from the database host)")
    ve.set_defaults(func=cmd_verify)
    sub.add_parser("rebuild-tallies", help="recount the tally rollups from the answers, and "
                   "the follow-up rollups from the check-ins and episodes "
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
