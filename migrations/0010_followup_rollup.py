# The follow-up rollups (bot.analytics.followup_rollup): the follow-up page's counts per local
# day, ISO week and month, kept exact by database triggers that mark the episodes whose counted
# inputs change (a check-in inserted, deleted or changed in a counted column, an episode
# changed or deleted, a contact's opt-out, stop or unreachable record) in followup_dirty; each
# read of the figures folds them first, and the worker folds them now and then.
#
# Everything here is literal SQL written for this migration (nothing is imported from bot.*),
# so that it keeps meaning the same as the code moves on. The back-fill counts what is already
# recorded in Asia/Shanghai (the default zone; UTC+8 since 1991: the SQLite back-fill adds 480
# minutes, and episodes with an instant before 1992, when China still had summer time, are
# marked dirty so that the first read recounts them with the zone's real offsets). It records
# that zone and version 1 (key_value 'followup_rollup'): a read in another zone, or by a
# version that counts differently, recounts in full.
from typing import Any

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
EPISODE_COLS = ("episode_id", *(k for k, _ in KEYS), *COUNTS)

# What the counts read of a check-in, an episode and a contact. Every check-in status is
# counted differently (planned: pending; opened: pending and sent; answered; expired: sent and
# a lost episode's last; skipped: a lost episode's last; cancelled: lost as cancelled), so a
# change of status always marks; the lease, attempts, expiry and answer times never do.
CHECKIN_COLS = ("episode_id", "status", "channel", "due_at", "window_end_at", "opened_at",
                "lost_reason")
EPISODE_COLS_READ = ("id", "status", "department_id", "clinician_name", "clinician_code",
                     "treatment_type", "occurred_at", "contact_id")
CONTACT_COLS = ("opted_out_at", "stopped_reason", "unreachable")


def tables(pg: bool) -> list[str]:
    counts = ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in COUNTS)
    cols = ", ".join(f"{k} {t} NOT NULL" for k, t in KEYS)
    out = [
        "CREATE TABLE followup_dirty (episode_id INTEGER NOT NULL)",
        f"CREATE TABLE followup_episode (episode_id INTEGER NOT NULL, {cols}, {counts})",
        "CREATE INDEX followup_episode_episode ON followup_episode (episode_id)",
        # a fold's new contributions, between computing them and replacing the old
        f"CREATE TABLE followup_fresh (episode_id INTEGER NOT NULL, {cols}, {counts})",
        # the contact trigger finds a contact's episodes
        "CREATE INDEX episode_contact_id ON episode (contact_id)",
    ]
    for table, keys in GRAINS.items():
        key = (*keys, "local_day", "reason")
        # SQLite: stored in key order (a read by department and day streams it)
        out.append(f"CREATE TABLE {table} ("
                   + ", ".join(f"{k} {TYPES[k]} NOT NULL" for k in key) + f", {counts}, "
                   f"PRIMARY KEY ({', '.join(key)})){'' if pg else ' WITHOUT ROWID'}")
        # cells a fold emptied are found and removed through this
        out.append(f"CREATE INDEX {table}_empty ON {table} (local_day) "
                   "WHERE sent = 0 AND eligible = 0")
        if table.endswith("_day"):
            # a read's days at either end of its range (not a scan of a year of days)
            out.append(f"CREATE INDEX {table}_local_day ON {table} (local_day)")
    # the page's praise: comments only (score NULL), not every answer of the range
    out.append("CREATE INDEX answer_comment_day ON answer (local_day) WHERE score IS NULL")
    return out


def _changed(cols: tuple[str, ...], pg: bool, old: str = "OLD", new: str = "NEW") -> str:
    op = "IS DISTINCT FROM" if pg else "IS NOT"
    # PostgreSQL's json has no equality: compared as text (only contact.unreachable is json)
    return " OR ".join(
        f"{old}.{c}{'::text' if pg and c == 'unreachable' else ''} {op} "
        f"{new}.{c}{'::text' if pg and c == 'unreachable' else ''}" for c in cols)


def sqlite_triggers() -> list[str]:
    """Row triggers (SQLite has no others), each one INSERT, only when a counted column
    changes."""
    ins = "INSERT INTO followup_dirty (episode_id)"
    return [
        f"CREATE TRIGGER followup_checkin_ins AFTER INSERT ON checkin BEGIN "
        f"{ins} VALUES (NEW.episode_id); END",
        f"CREATE TRIGGER followup_checkin_upd AFTER UPDATE ON checkin "
        f"WHEN {_changed(CHECKIN_COLS, False)} BEGIN "
        f"{ins} SELECT NEW.episode_id UNION SELECT OLD.episode_id; END",
        f"CREATE TRIGGER followup_checkin_del AFTER DELETE ON checkin BEGIN "
        f"{ins} VALUES (OLD.episode_id); END",
        f"CREATE TRIGGER followup_episode_upd AFTER UPDATE ON episode "
        f"WHEN {_changed(EPISODE_COLS_READ, False)} BEGIN "
        f"{ins} SELECT NEW.id UNION SELECT OLD.id; END",
        f"CREATE TRIGGER followup_episode_del AFTER DELETE ON episode BEGIN "
        f"{ins} VALUES (OLD.id); END",
        f"CREATE TRIGGER followup_contact_upd AFTER UPDATE ON contact "
        f"WHEN {_changed(CONTACT_COLS, False)} BEGIN "
        f"{ins} SELECT id FROM episode WHERE contact_id = NEW.id; END",
    ]


def pg_triggers() -> list[str]:
    """Statement triggers with transition tables: a batch UPDATE of 200 check-ins marks
    with one INSERT ... SELECT, not 200 function calls."""
    ins = "INSERT INTO followup_dirty (episode_id)"

    def fn(name: str, body: str) -> str:
        return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {body}; RETURN NULL; END $$")

    def trig(name: str, event: str, table: str, refs: str) -> str:
        return (f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {refs} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")

    return [
        fn("followup_checkin_ins", f"{ins} SELECT DISTINCT episode_id FROM new_rows"),
        trig("followup_checkin_ins", "INSERT", "checkin", "NEW TABLE AS new_rows"),
        fn("followup_checkin_del", f"{ins} SELECT DISTINCT episode_id FROM old_rows"),
        trig("followup_checkin_del", "DELETE", "checkin", "OLD TABLE AS old_rows"),
        fn("followup_checkin_upd",
           f"{ins} SELECT n.episode_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
           f"WHERE {_changed(CHECKIN_COLS, True, 'o', 'n')} "
           "UNION SELECT o.episode_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
           "WHERE o.episode_id <> n.episode_id"),
        trig("followup_checkin_upd", "UPDATE", "checkin",
             "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        fn("followup_episode_upd",
           f"{ins} SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id "
           f"WHERE {_changed(EPISODE_COLS_READ[1:], True, 'o', 'n')}"),
        trig("followup_episode_upd", "UPDATE", "episode",
             "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        fn("followup_episode_del", f"{ins} SELECT id FROM old_rows"),
        trig("followup_episode_del", "DELETE", "episode", "OLD TABLE AS old_rows"),
        fn("followup_contact_upd",
           f"{ins} SELECT e.id FROM new_rows n JOIN old_rows o ON o.id = n.id "
           "JOIN episode e ON e.contact_id = n.id "
           f"WHERE {_changed(CONTACT_COLS, True, 'o', 'n')}"),
        trig("followup_contact_upd", "UPDATE", "contact",
             "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ]


PG_TRIGGERS = (("followup_checkin_ins", "checkin"), ("followup_checkin_del", "checkin"),
               ("followup_checkin_upd", "checkin"), ("followup_episode_upd", "episode"),
               ("followup_episode_del", "episode"), ("followup_contact_upd", "contact"))


def _local_day(col: str, pg: bool) -> str:
    if pg:
        return f"to_char({col} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"
    return f"date({col}, '+480 minutes')"


def backfill_sql(pg: bool) -> str:
    """Every episode's contributions in Asia/Shanghai, by the definitions of version 1 (the
    figures of bot.analytics.operations at this migration)."""
    known = ", ".join(f"'{r}'" for r in KNOWN_REASONS)
    sent = "c.status IN ('opened', 'answered', 'expired')"
    if pg:
        on_time = "c.opened_at IS NOT NULL AND c.opened_at <= c.window_end_at"
        unreachable = "COALESCE(ct.unreachable::text, '{}') NOT IN ('{}', 'null')"
    else:
        on_time = ("c.opened_at IS NOT NULL "
                   "AND julianday(c.opened_at) <= julianday(c.window_end_at)")
        unreachable = "COALESCE(ct.unreachable, '{}') NOT IN ('{}', 'null')"
    reason = (
        "CASE WHEN a.answered = 1 OR a.pending = 1 THEN NULL "
        "WHEN lc.lost_reason IS NOT NULL AND lc.lost_reason <> '' THEN lc.lost_reason "
        "WHEN ct.opted_out_at IS NOT NULL THEN 'opted_out' "
        "WHEN ct.stopped_reason IS NOT NULL AND ct.stopped_reason <> '' THEN "
        f"CASE WHEN ct.stopped_reason IN ({known}) THEN ct.stopped_reason ELSE 'skipped' END "
        f"WHEN {unreachable} THEN 'unreachable' "
        "WHEN lc.status = 'expired' THEN 'no_answer' "
        "WHEN lc.status = 'cancelled' THEN 'cancelled' "
        "ELSE 'skipped' END")
    zeros_lost = ", ".join("0" for _ in KNOWN_REASONS)
    lost_cols = ", ".join(f"CASE WHEN x.reason = '{r}' THEN 1 ELSE 0 END"
                          for r in KNOWN_REASONS)
    return (
        f"INSERT INTO followup_episode ({', '.join(EPISODE_COLS)}) "
        f"SELECT c.episode_id, {_local_day('c.due_at', pg)}, e.department_id, "
        "e.clinician_name, e.clinician_code, e.treatment_type, COALESCE(c.channel, ''), "
        "CASE WHEN c.channel IS NULL THEN 1 ELSE 0 END, '', COUNT(*), "
        "SUM(CASE WHEN c.status = 'answered' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {on_time} THEN 1 ELSE 0 END), 0, 0, {zeros_lost}, 0 "
        f"FROM checkin c JOIN episode e ON e.id = c.episode_id WHERE {sent} "
        "GROUP BY c.episode_id, 2, e.department_id, e.clinician_name, e.clinician_code, "
        "e.treatment_type, 7, 8 "
        "UNION ALL "
        "SELECT x.episode_id, x.local_day, x.department_id, x.clinician_name, "
        "x.clinician_code, x.treatment_type, COALESCE(x.channel, ''), "
        "CASE WHEN x.channel IS NULL THEN 1 ELSE 0 END, "
        f"CASE WHEN x.reason IS NULL OR x.reason IN ({known}) THEN '' ELSE x.reason END, "
        f"0, 0, 0, 1, x.answered, {lost_cols}, "
        f"CASE WHEN x.reason IS NULL OR x.reason IN ({known}) THEN 0 ELSE 1 END "
        "FROM (SELECT e.id AS episode_id, "
        f"{_local_day('e.occurred_at', pg)} AS local_day, e.department_id, e.clinician_name, "
        f"e.clinician_code, e.treatment_type, ch.channel, a.answered, {reason} AS reason "
        "FROM (SELECT c.episode_id, "
        "MAX(CASE WHEN c.status = 'answered' THEN 1 ELSE 0 END) AS answered, "
        "MAX(CASE WHEN c.status IN ('planned', 'opened') THEN 1 ELSE 0 END) AS pending, "
        "MIN(CASE WHEN c.channel IS NOT NULL AND c.channel <> '' THEN c.id END) AS first_ch, "
        "MAX(CASE WHEN c.status IN ('expired', 'skipped') THEN c.id END) AS last_x, "
        "MAX(c.id) AS last_id FROM checkin c GROUP BY c.episode_id) a "
        "JOIN episode e ON e.id = a.episode_id "
        "JOIN contact ct ON ct.id = e.contact_id "
        "LEFT JOIN checkin ch ON ch.id = a.first_ch "
        "LEFT JOIN checkin lc ON lc.id = COALESCE(a.last_x, a.last_id) "
        "WHERE e.status = 'active') x")


def _unit(table: str, pg: bool) -> str:
    unit = table.rsplit("_", 1)[1]
    if unit == "day":
        return "local_day"
    if unit == "month":
        return "substr(local_day, 1, 7) || '-01'"
    if pg:
        return "to_char(date_trunc('week', CAST(local_day AS date)), 'YYYY-MM-DD')"
    return "date(local_day, '-6 days', 'weekday 1')"


def rollup_sql(table: str, pg: bool) -> str:
    keys = (*GRAINS[table], "reason")
    unit = _unit(table, pg)
    return (f"INSERT INTO {table} (local_day, {', '.join(keys)}, {', '.join(COUNTS)}) "
            f"SELECT {unit}, {', '.join(keys)}, {', '.join(f'SUM({c})' for c in COUNTS)} "
            f"FROM followup_episode GROUP BY {unit}, {', '.join(keys)}")


async def forward(apps: Any, schema_editor: Any) -> None:
    conn = schema_editor.client
    pg = conn.capabilities.dialect == "postgres"
    for sql in tables(pg):
        await conn.execute_script(sql)
    # back-fill (see the top of this file), then the triggers
    await conn.execute_script(backfill_sql(pg))
    for table in GRAINS:
        await conn.execute_script(rollup_sql(table, pg))
    await conn.execute_script(
        "INSERT INTO followup_dirty (episode_id) SELECT id FROM episode "
        "WHERE occurred_at < '1992-01-01' UNION "
        "SELECT episode_id FROM checkin WHERE due_at < '1992-01-01'")
    await conn.execute_script(
        "INSERT INTO key_value (key, value) VALUES ('followup_rollup', 'v1 Asia/Shanghai') "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    for sql in pg_triggers() if pg else sqlite_triggers():
        await conn.execute_script(sql)


async def backward(apps: Any, schema_editor: Any) -> None:
    conn = schema_editor.client
    pg = conn.capabilities.dialect == "postgres"
    if pg:
        for name, table in PG_TRIGGERS:
            await conn.execute_script(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            await conn.execute_script(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in ("followup_checkin_ins", "followup_checkin_upd", "followup_checkin_del",
                     "followup_episode_upd", "followup_episode_del", "followup_contact_upd"):
            await conn.execute_script(f"DROP TRIGGER IF EXISTS {name}")
    for table in ("followup_dirty", "followup_episode", "followup_fresh", *GRAINS):
        await conn.execute_script(f"DROP TABLE IF EXISTS {table}")
    await conn.execute_script("DROP INDEX IF EXISTS episode_contact_id")
    await conn.execute_script("DROP INDEX IF EXISTS answer_comment_day")
    await conn.execute_script("DELETE FROM key_value WHERE key = 'followup_rollup'")


class Migration(migrations.Migration):
    dependencies = [('models', '0009_clinician_day')]

    initial = False

    operations = [ops.RunPython(forward, backward)]
