"""Commands for operators: channel pauses, doctor, staff accounts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bot import db
from bot.cli.common import runtime_for, settings_for
from bot.clock import SystemClock


def cmd_channels(args: argparse.Namespace) -> int:
    """Show or lift channel pauses (a provider said our credentials or set-up are wrong)."""
    from tortoise import connections
    from tortoise.exceptions import OperationalError

    from bot.channels import pause
    from bot.wakeups import CHANNEL as WAKE

    settings = settings_for(args)
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

    settings = settings_for(args)

    async def run() -> list[doctor.Finding]:
        try:
            async with db.database(settings.database.url):
                rt = runtime_for(settings)
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


def cmd_staff_add(args: argparse.Namespace) -> int:
    """Create a staff account (the first admin, or anyone); the password is asked for."""
    import getpass

    from bot import staff as staff_service

    settings = settings_for(args)
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
