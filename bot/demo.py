"""Sample data for the embedded demo: a hospital with a few departments and recent visits."""

from __future__ import annotations

from datetime import timedelta

from bot.importer import ImportResult, import_rows
from bot.runtime import Runtime

# (external id, person, contact, phone, relation, department code, name, treatment, clinician,
#  hours before now)
_VISITS = [
    ("D-1001", "张伟", "张伟", "13800001111", "self", "dental", "口腔科", "", "李医生", 48),
    ("D-1002", "王芳", "王芳", "13800002222", "self", "dental", "口腔科", "拔牙", "李医生", 4),
    ("O-2001", "刘洋", "刘洋", "13800003333", "self", "ortho", "骨科", "", "陈医生", 50),
    ("P-3001", "小明", "赵丽", "13800004444", "parent", "peds", "儿科", "", "周医生", 49),
    ("P-3002", "小红", "赵丽", "13800004444", "parent", "peds", "儿科", "", "周医生", 52),
    ("O-2002", "陈静", "陈静", "13800005555", "self", "ortho", "骨科", "", "陈医生", 47),
]


async def seed(rt: Runtime) -> ImportResult:
    """Import the sample visits (idempotent) so that check-ins are due right away."""
    now = rt.local(rt.now())
    rows = []
    for i, (ext, person, contact, phone, rel, dept, dname, treat, doc, hours) in enumerate(
        _VISITS, start=1
    ):
        when = now - timedelta(hours=hours)
        rows.append((i, {
            "external_id": ext, "person_name": person, "contact_name": contact,
            "contact_phone": phone, "relation": rel, "department": dept,
            "department_name": dname, "treatment_type": treat, "clinician": doc,
            "occurred_at": when.strftime("%Y-%m-%d %H:%M"),
            "person_kind": "patient",
        }))
    return await import_rows(rt, rows, source="demo")


# (username, display name, role, departments, password): the demo's staff, printed at start.
# Demo only: the demo database is local and recreated by `make run`; real deployments create
# accounts with `survey-bot staff add` and the admin page.
DEMO_STAFF = [
    ("admin", "管理员", "admin", [], "demo-admin-1"),
    ("head", "口腔科护士长", "head", ["dental"], "demo-head-1"),
    ("agent", "回访专员小李", "agent", ["dental", "ortho", "peds"], "demo-agent-1"),
]


async def seed_staff() -> list[tuple[str, str, str]]:
    """Create the demo staff (idempotent); returns (username, role, password) to print."""
    from bot.staff import create_staff
    from models import Staff

    out = []
    for username, name, role, depts, password in DEMO_STAFF:
        if not await Staff.filter(username=username).exists():
            await create_staff(username=username, display_name=name, role=role,
                               password=password, departments=depts)
        out.append((username, role, password))
    return out
