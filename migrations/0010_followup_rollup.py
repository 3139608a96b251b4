# The follow-up rollups (bot.analytics.followup_rollup): the follow-up page's counts per local
# day, kept exact by database triggers that mark the episodes whose inputs change (check-in
# insert / update of what is counted / delete, episode update / delete, a contact's opt-out,
# stop or unreachable record) in followup_dirty; each read of the figures folds them first.
#
# The tables and triggers are written literally here (not generated from the code, so this
# migration keeps meaning the same as the code moves on). The back-fill counts what is already
# recorded, in Asia/Shanghai (the default zone), with the code of this version; the rollups
# record that zone and version (key_value 'followup_rollup'), so a read in another zone, or by
# a version that counts differently, recounts them in full.
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import migrations
from tortoise.migrations import operations as ops

KNOWN_REASONS = ("no_answer", "refused", "opted_out", "wrong_number", "deceased",
                 "unreachable", "fatigue", "skipped", "cancelled")
COUNTS = ("sent", "answered", "on_time", "eligible", "covered",
          *(f"lost_{r}" for r in KNOWN_REASONS), "lost_other")
KEYS = (("local_day", "VARCHAR(10)"), ("department_id", "INTEGER"),
        ("clinician", "VARCHAR(128)"), ("clinician_code", "VARCHAR(64)"),
        ("treatment_type", "VARCHAR(64)"), ("channel", "VARCHAR(16)"), ("chan_null", "SMALLINT"),
        ("reason", "VARCHAR(32)"))
DIMS = {
    "department": ("department_id",),
    "channel": ("department_id", "channel", "chan_null"),
    "treatment": ("department_id", "treatment_type"),
    "clinician": ("department_id", "clinician", "clinician_code"),
}
# per local day, ISO week (its Monday) and month (its first day), all in local_day
GRAINS = {f"followup_{d}_{u}": cols for d, cols in DIMS.items() for u in ("day", "week", "month")}
TYPES = dict(KEYS)

# what a check-in, an episode or a contact changes when it changes these
CHECKIN_COLS = ("episode_id", "status", "channel", "due_at", "window_end_at", "opened_at",
                "lost_reason")
EPISODE_COLS = ("status", "department_id", "clinician_name", "clinician_code",
                "treatment_type", "occurred_at", "contact_id")
CONTACT_COLS = ("opted_out_at", "stopped_reason", "unreachable")


def tables(pg: bool) -> list[str]:
    counts = ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in COUNTS)
    out = [
        "CREATE TABLE followup_dirty (episode_id INTEGER NOT NULL)",
        "CREATE TABLE followup_episode (episode_id INTEGER NOT NULL, "
        + ", ".join(f"{k} {t} NOT NULL" for k, t in KEYS) + f", {counts})",
        "CREATE INDEX followup_episode_episode ON followup_episode (episode_id)",
        # the contact trigger finds a contact's episodes
        "CREATE INDEX episode_contact_id ON episode (contact_id)",
    ]
    for table, keys in GRAINS.items():
        cols = (*keys, "local_day", "reason")
        # SQLite: stored in key order (a read by department and day streams it)
        out.append(f"CREATE TABLE {table} ("
                   + ", ".join(f"{k} {TYPES[k]} NOT NULL" for k in cols) + f", {counts}, "
                   f"PRIMARY KEY ({', '.join(cols)})){'' if pg else ' WITHOUT ROWID'}")
        # cells a fold emptied are found and removed through this
        out.append(f"CREATE INDEX {table}_empty ON {table} (local_day) "
                   "WHERE sent = 0 AND eligible = 0")
    return out


def _changed(cols: tuple[str, ...], pg: bool) -> str:
    op = "IS DISTINCT FROM" if pg else "IS NOT"
    cast = "::text" if pg else ""
    return " OR ".join(f"OLD.{c}{cast} {op} NEW.{c}{cast}" for c in cols)


def sqlite_triggers() -> list[str]:
    ins = "INSERT INTO followup_dirty (episode_id)"
    return [
        f"CREATE TRIGGER followup_checkin_ins AFTER INSERT ON checkin BEGIN "
        f"{ins} VALUES (NEW.episode_id); END",
        f"CREATE TRIGGER followup_checkin_upd AFTER UPDATE ON checkin "
        f"WHEN {_changed(CHECKIN_COLS, False)} BEGIN "
        f"{ins} VALUES (NEW.episode_id); "
        f"{ins} SELECT OLD.episode_id WHERE OLD.episode_id IS NOT NEW.episode_id; END",
        f"CREATE TRIGGER followup_checkin_del AFTER DELETE ON checkin BEGIN "
        f"{ins} VALUES (OLD.episode_id); END",
        f"CREATE TRIGGER followup_episode_upd AFTER UPDATE ON episode "
        f"WHEN {_changed(('id', *EPISODE_COLS), False)} BEGIN "
        f"{ins} VALUES (NEW.id); {ins} SELECT OLD.id WHERE OLD.id IS NOT NEW.id; END",
        f"CREATE TRIGGER followup_episode_del AFTER DELETE ON episode BEGIN "
        f"{ins} VALUES (OLD.id); END",
        f"CREATE TRIGGER followup_contact_upd AFTER UPDATE ON contact "
        f"WHEN {_changed(CONTACT_COLS, False)} BEGIN "
        f"{ins} SELECT id FROM episode WHERE contact_id = NEW.id; END",
    ]


def pg_triggers() -> list[str]:
    ins = "INSERT INTO followup_dirty (episode_id)"
    return [
        "CREATE FUNCTION followup_checkin_dirty() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"IF TG_OP <> 'INSERT' THEN {ins} VALUES (OLD.episode_id); END IF; "
        "IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.episode_id <> OLD.episode_id) THEN "
        f"{ins} VALUES (NEW.episode_id); END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER followup_checkin_insdel AFTER INSERT OR DELETE ON checkin "
        "FOR EACH ROW EXECUTE FUNCTION followup_checkin_dirty()",
        "CREATE TRIGGER followup_checkin_upd AFTER UPDATE ON checkin FOR EACH ROW "
        f"WHEN ({_changed(CHECKIN_COLS, True)}) EXECUTE FUNCTION followup_checkin_dirty()",
        "CREATE FUNCTION followup_episode_dirty() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"{ins} VALUES (OLD.id); "
        f"IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN {ins} VALUES (NEW.id); END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER followup_episode_del AFTER DELETE ON episode "
        "FOR EACH ROW EXECUTE FUNCTION followup_episode_dirty()",
        "CREATE TRIGGER followup_episode_upd AFTER UPDATE ON episode FOR EACH ROW "
        f"WHEN ({_changed(('id', *EPISODE_COLS), True)}) "
        "EXECUTE FUNCTION followup_episode_dirty()",
        "CREATE FUNCTION followup_contact_dirty() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {ins} SELECT id FROM episode WHERE contact_id = NEW.id; RETURN NULL; END $$",
        "CREATE TRIGGER followup_contact_upd AFTER UPDATE ON contact FOR EACH ROW "
        f"WHEN ({_changed(CONTACT_COLS, True)}) EXECUTE FUNCTION followup_contact_dirty()",
    ]


async def forward(apps: Any, schema_editor: Any) -> None:
    conn = schema_editor.client
    pg = conn.capabilities.dialect == "postgres"
    for sql in [*tables(pg), *(pg_triggers() if pg else sqlite_triggers())]:
        await conn.execute_script(sql)
    # back-fill (see the top of this file)
    from bot.analytics import followup_rollup

    await followup_rollup.rebuild(ZoneInfo("Asia/Shanghai"), conn)


async def backward(apps: Any, schema_editor: Any) -> None:
    conn = schema_editor.client
    pg = conn.capabilities.dialect == "postgres"
    for t in ("followup_checkin_insdel", "followup_checkin_upd", "followup_checkin_ins",
              "followup_checkin_del", "followup_episode_upd", "followup_episode_del",
              "followup_contact_upd"):
        await conn.execute_script(f"DROP TRIGGER IF EXISTS {t}"
                                  + (f" ON {t.split('_')[1]}" if pg else ""))
    if pg:
        for f in ("followup_checkin_dirty", "followup_episode_dirty", "followup_contact_dirty"):
            await conn.execute_script(f"DROP FUNCTION IF EXISTS {f}()")
    for table in ("followup_dirty", "followup_episode", *GRAINS):
        await conn.execute_script(f"DROP TABLE IF EXISTS {table}")
    await conn.execute_script("DROP INDEX IF EXISTS episode_contact_id")
    await conn.execute_script("DELETE FROM key_value WHERE key = 'followup_rollup'")


class Migration(migrations.Migration):
    dependencies = [('models', '0009_clinician_day')]

    initial = False

    operations = [ops.RunPython(forward, backward)]
