# The clinician week rollup (models.AnswerClinicianWeek): clinician × week tallies read their
# whole ISO weeks from it and only the days at either end of the range from the day rollup. It
# starts out as answer_clinician_day summed per week (written literally here, not imported, so
# this migration keeps meaning the same as the code moves on); from here on bot.ledger.append
# keeps it.
from typing import Any

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


def backfill_sql(pg: bool) -> str:
    monday = ("to_char(date_trunc('week', CAST(local_day AS date)), 'YYYY-MM-DD')" if pg
              else "date(local_day, '-6 days', 'weekday 1')")
    return (
        "INSERT INTO answer_clinician_week (week_start, department_id, clinician, "
        "clinician_code, question_id, nulls, n1, n2, n3, n4, n5) "
        f"SELECT CASE WHEN local_day = '' THEN '' ELSE {monday} END, department_id, "
        "clinician, clinician_code, question_id, nulls, "
        "SUM(n1), SUM(n2), SUM(n3), SUM(n4), SUM(n5) FROM answer_clinician_day "
        "GROUP BY 1, 2, 3, 4, 5, 6")


async def forward(apps: Any, schema_editor: Any) -> None:
    conn = schema_editor.client
    await conn.execute_script(backfill_sql(conn.capabilities.dialect == "postgres"))


async def backward(apps: Any, schema_editor: Any) -> None:
    """Nothing: dropping the table (CreateModel's reverse) drops its rows."""


class Migration(migrations.Migration):
    dependencies = [('models', '0013_answer_treatment')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AnswerClinicianWeek',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('week_start', fields.CharField(default='', max_length=10)),
                ('department_id', fields.IntField(default=0)),
                ('clinician', fields.CharField(default='', max_length=128)),
                ('clinician_code', fields.CharField(default='', max_length=64)),
                ('question_id', fields.CharField(max_length=64)),
                ('nulls', fields.SmallIntField(default=0)),
                ('n1', fields.BigIntField(default=0)),
                ('n2', fields.BigIntField(default=0)),
                ('n3', fields.BigIntField(default=0)),
                ('n4', fields.BigIntField(default=0)),
                ('n5', fields.BigIntField(default=0)),
            ],
            options={'table': 'answer_clinician_week', 'app': 'models', 'unique_together': (('week_start', 'department_id', 'clinician', 'clinician_code', 'question_id', 'nulls'),), 'pk_attr': 'id', 'table_description': "AnswerClinicianDay summed per ISO week (derived), keyed by the week's Monday."},
            bases=['Model'],
        ),
        ops.RunPython(forward, backward),
    ]
