"""Storing validated rows: a chunk at a time in one transaction, or row by row when a chunk
meets anything unusual. Importing is idempotent by (source, external_id)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import bulk, planner
from bot.importer.values import EpisodeRow
from bot.runtime import Runtime
from models import CheckIn, Contact, Department, Episode, EpisodeStatus, Person, PersonContact

log = logging.getLogger("bot.importer")


def person_key_of(row: EpisodeRow, contact_id: int) -> str:
    """The person's key: their external id, else contact + name (a digest when that would
    not fit the 128-character column)."""
    if row.person_external_id:
        return row.person_external_id
    key = f"{contact_id}:{row.person_name}"
    if len(key) > 128:
        key = f"{contact_id}:#{hashlib.sha256(row.person_name.encode()).hexdigest()}"
    return key


async def _departments_by_name(conn: BaseDBAsyncClient, values: list[str]) -> dict[str, int]:
    """Departments named (not coded) by these values, where the name is unambiguous.

    Chinese exports give a department's name (口腔科) where the import expects its code: such
    a row belongs to the department already called so (code ``dental``), not to a new one.
    """
    if not values:
        return {}
    found: dict[str, list[int]] = {}
    for name, id_ in await Department.filter(name__in=values).using_db(conn).values_list(
            "name", "id"):
        found.setdefault(name, []).append(id_)
    return {name: ids[0] for name, ids in found.items() if len(ids) == 1}


async def store_one(rt: Runtime, row: EpisodeRow, source: str) -> tuple[str, int]:
    """Store one row in its own transaction: ("created" | "updated" | "unchanged", planned)."""
    async with in_transaction() as conn:
        dept = await Department.get_or_none(code=row.department, using_db=conn)
        if dept is None:
            by_name = await _departments_by_name(conn, [row.department])
            if row.department in by_name:
                dept = await Department.get(id=by_name[row.department], using_db=conn)
        if dept is None:
            dept, _ = await Department.get_or_create(
                code=row.department, defaults={"name": row.department_name}, using_db=conn
            )
        contact = None
        if row.contact_phone:
            contact = await Contact.filter(phone=row.contact_phone).using_db(conn).first()
        if contact is None and row.contact_openid:
            contact = await Contact.filter(wechat_openid=row.contact_openid).using_db(conn).first()
        if contact is None:
            contact = await Contact.create(
                using_db=conn, name=row.contact_name, phone=row.contact_phone,
                wechat_openid=row.contact_openid, preferred_channel=row.preferred_channel,
            )
        elif row.preferred_channel and contact.preferred_channel != row.preferred_channel:
            contact.preferred_channel = row.preferred_channel
            await contact.save(using_db=conn, update_fields=["preferred_channel"])
        person_key = person_key_of(row, contact.id)
        person, _ = await Person.get_or_create(
            source=source, external_id=person_key,
            defaults={"name": row.person_name, "kind": row.person_kind,
                      "birth_date": row.birth_date},
            using_db=conn,
        )
        await PersonContact.get_or_create(
            person_id=person.id, contact_id=contact.id, defaults={"relation": row.relation},
            using_db=conn,
        )
        fields = {
            "kind": row.kind, "status": row.status, "person_id": person.id,
            "contact_id": contact.id, "department_id": dept.id,
            "clinician_name": row.clinician, "clinician_code": row.clinician_code,
            "treatment_type": row.treatment_type,
            "occurred_at": row.occurred_at,
        }
        ep = await Episode.filter(source=source, external_id=row.external_id).using_db(
            conn
        ).first()
        if ep is None:
            ep = await Episode.create(using_db=conn, source=source,
                                      external_id=row.external_id, **fields)
            outcome = "created"
        else:
            changed = {k: v for k, v in fields.items() if getattr(ep, k) != v}
            if not changed:
                return "unchanged", 0
            for k, v in changed.items():
                setattr(ep, k, v)
            await ep.save(using_db=conn)
            outcome = "updated"
        planned = await planner.plan_episode(rt, ep, conn)
    return outcome, planned


class _Twice(Exception):
    """The same episode appears twice in a chunk: its rows must be applied in order."""


@dataclass
class _NewContact:
    """A contact created by this chunk (its id comes back from the insert)."""

    fields: dict[str, object]
    id: int = 0


async def store_many(rt: Runtime, rows: list[EpisodeRow], source: str) -> list[tuple[str, int]]:
    """Store a chunk of rows in one transaction with a few queries per table (not per row).

    Same outcome as :func:`store_one` row after row: contacts found by phone, then openid,
    else created; people and their links to contacts created once; episodes created,
    updated or left alone, and their check-ins planned.
    """
    if len({r.external_id for r in rows}) < len(rows):
        raise _Twice("an episode appears twice")
    async with in_transaction() as conn:
        names: dict[str, str] = {}
        for r in rows:
            names.setdefault(r.department, r.department_name)
        depts = dict(await Department.filter(code__in=list(names)).using_db(conn).values_list(
            "code", "id"))
        depts.update(await _departments_by_name(conn, [c for c in names if c not in depts]))
        new_depts = [{"code": c, "name": names[c]} for c in names if c not in depts]
        depts.update((d["code"], d["id"]) for d in await bulk.insert(
            conn, Department, new_depts, returning=("code", "id")))

        # Contacts: by phone, else by openid, else new (rows later in the chunk find it).
        phones = list({r.contact_phone for r in rows if r.contact_phone})
        openids = list({r.contact_openid for r in rows if r.contact_openid})
        by_phone: dict[str, int | _NewContact] = dict(await Contact.filter(
            phone__in=phones).using_db(conn).values_list("phone", "id")) if phones else {}
        by_openid: dict[str, int | _NewContact] = dict(await Contact.filter(
            wechat_openid__in=openids).using_db(conn).values_list(
            "wechat_openid", "id")) if openids else {}
        found: list[int | _NewContact] = []
        created: list[_NewContact] = []
        for r in rows:
            c = by_phone.get(r.contact_phone) if r.contact_phone else None
            if c is None and r.contact_openid:
                c = by_openid.get(r.contact_openid)
            if c is None:
                c = _NewContact({"name": r.contact_name, "phone": r.contact_phone,
                                 "wechat_openid": r.contact_openid,
                                 "preferred_channel": r.preferred_channel})
                created.append(c)
                if r.contact_phone:
                    by_phone[r.contact_phone] = c
                if r.contact_openid:
                    by_openid[r.contact_openid] = c
            found.append(c)
        for back in await bulk.insert(conn, Contact, [c.fields for c in created],
                                      returning=("id", "phone", "wechat_openid")):
            c = by_phone[back["phone"]] if back["phone"] else by_openid[back["wechat_openid"]]
            assert isinstance(c, _NewContact)
            c.id = int(back["id"])
        contact_ids = [c if isinstance(c, int) else c.id for c in found]
        # A preference the file gives (回访方式: 仅电话 …) updates contacts already known.
        preferences: dict[str, set[int]] = {}
        for r, c in zip(rows, found, strict=True):
            if r.preferred_channel and isinstance(c, int):
                preferences.setdefault(r.preferred_channel, set()).add(c)
        for value, owners in preferences.items():
            await Contact.filter(id__in=sorted(owners)).using_db(conn).update(
                preferred_channel=value)

        keys = [person_key_of(r, cid) for r, cid in zip(rows, contact_ids, strict=True)]
        people = dict(await Person.filter(source=source, external_id__in=list(set(keys))).using_db(
            conn).values_list("external_id", "id"))
        new_people: dict[str, dict[str, object]] = {}
        for r, key in zip(rows, keys, strict=True):
            if key not in people and key not in new_people:
                new_people[key] = {"source": source, "external_id": key, "name": r.person_name,
                                   "kind": r.person_kind, "birth_date": r.birth_date}
        people.update((p["external_id"], p["id"]) for p in await bulk.insert(
            conn, Person, list(new_people.values()), returning=("external_id", "id")))
        person_ids = [people[k] for k in keys]

        links = set(await PersonContact.filter(person_id__in=list(set(person_ids))).using_db(
            conn).values_list("person_id", "contact_id"))
        new_links = []
        for r, pid, cid in zip(rows, person_ids, contact_ids, strict=True):
            if (pid, cid) not in links:
                links.add((pid, cid))
                new_links.append({"person_id": pid, "contact_id": cid, "relation": r.relation})
        await bulk.insert(conn, PersonContact, new_links)

        existing = {e.external_id: e for e in await Episode.filter(
            source=source, external_id__in=[r.external_id for r in rows]).using_db(conn)}
        outcomes: list[tuple[str, int]] = []
        fresh: list[dict[str, object]] = []
        for r, pid, cid in zip(rows, person_ids, contact_ids, strict=True):
            fields: dict[str, object] = {
                "kind": r.kind, "status": r.status, "person_id": pid, "contact_id": cid,
                "department_id": depts[r.department], "clinician_name": r.clinician,
                "clinician_code": r.clinician_code,
                "treatment_type": r.treatment_type, "occurred_at": r.occurred_at,
            }
            ep = existing.get(r.external_id)
            if ep is None:
                fresh.append({"source": source, "external_id": r.external_id, **fields})
                outcomes.append(("created", 0))
                continue
            changed = {k: v for k, v in fields.items() if getattr(ep, k) != v}
            if not changed:
                outcomes.append(("unchanged", 0))
                continue
            for k, v in changed.items():
                setattr(ep, k, v)
            await ep.save(using_db=conn)
            outcomes.append(("updated", await planner.plan_episode(rt, ep, conn)))
        ids = {e["external_id"]: int(e["id"]) for e in await bulk.insert(
            conn, Episode, fresh, returning=("external_id", "id"))}
        # New episodes have no check-ins yet: all of theirs in one insert.
        checkins: list[dict[str, object]] = []
        planned: dict[str, int] = {}
        for r, cid in zip(rows, contact_ids, strict=True):
            if r.external_id not in ids or r.status == EpisodeStatus.CANCELLED:
                continue
            plans = planner.checkin_plans(
                rt, episode_id=ids[r.external_id], department_code=r.department,
                treatment_type=r.treatment_type, kind=r.kind, occurred_at=r.occurred_at,
                contact_id=cid)
            checkins.extend({"episode_id": ids[r.external_id], "offset": label, **plan}
                            for label, plan in plans.items())
            planned[r.external_id] = len(plans)
        await bulk.insert(conn, CheckIn, checkins)
    return [(o, planned.get(r.external_id, 0)) if o == "created" else (o, n)
            for r, (o, n) in zip(rows, outcomes, strict=True)]
