"""`survey-bot staff add`: the first admin from the command line."""

from __future__ import annotations

from bot import db
from models import Department, Staff
from tests.test_cli import cli


async def test_staff_add_creates_the_first_admin_and_refuses_bad_input(db_url: str) -> None:
    out = cli("staff", "add", "root", "--name", "系统管理员", "--password-stdin",
              db_url=db_url, stdin="a-long-password\n")
    assert out.returncode == 0, out.stderr
    assert "created admin root" in out.stdout and "/staff/login" in out.stdout

    again = cli("staff", "add", "root", "--password-stdin", db_url=db_url,
                stdin="a-long-password\n")
    assert again.returncode == 2 and "is taken" in again.stderr
    short = cli("staff", "add", "li", "--password-stdin", db_url=db_url, stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    dept = cli("staff", "add", "li", "--role", "agent", "--departments", "dental",
               "--password-stdin", db_url=db_url, stdin="a-long-password\n")
    assert dept.returncode == 2 and "unknown department code(s): dental" in dept.stderr
    made = cli("staff", "add", "li", "--role", "agent", "--departments", "dental",
               "--create-departments", "--password-stdin", db_url=db_url,
               stdin="a-long-password\n")
    assert made.returncode == 0, made.stderr

    async with db.database(db_url):
        root = await Staff.get(username="root")
        li = await Staff.get(username="li").prefetch_related("departments")
        assert root.role == "admin" and root.display_name == "系统管理员"
        assert root.password_hash and root.password_hash.startswith("$argon2id$")
        assert [d.code for d in li.departments] == ["dental"]
        assert await Department.filter(code="dental").exists()
