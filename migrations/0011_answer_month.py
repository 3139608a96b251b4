# The month rollups (models.AnswerMonth, models.AnswerClinicianMonth): month, quarter and
# whole-range tallies read their whole months from them and only the days at either end of the
# range from the day rollups. They start out as the day rollups summed per month (written
# literally here, not imported, so this migration keeps meaning the same as the code moves on);
# from here on bot.ledger.append keeps them.
from tortoise import fields, migrations
from tortoise.migrations import operations as ops

MONTH = "CASE WHEN local_day = '' THEN '' ELSE substr(local_day, 1, 7) || '-01' END"

BACKFILL_MONTH = (
    "INSERT INTO answer_month (month_start, department_id, question_id, score, nulls, "
    f"channel, n) SELECT {MONTH}, department_id, question_id, score, nulls, channel, SUM(n) "
    "FROM answer_day GROUP BY 1, 2, 3, 4, 5, 6"
)
BACKFILL_CLINICIAN_MONTH = (
    "INSERT INTO answer_clinician_month (month_start, department_id, clinician, "
    "clinician_code, question_id, nulls, n1, n2, n3, n4, n5) "
    f"SELECT {MONTH}, department_id, clinician, clinician_code, question_id, nulls, "
    "SUM(n1), SUM(n2), SUM(n3), SUM(n4), SUM(n5) FROM answer_clinician_day "
    "GROUP BY 1, 2, 3, 4, 5, 6"
)


class Migration(migrations.Migration):
    dependencies = [('models', '0010_followup_rollup')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AnswerMonth',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('month_start', fields.CharField(default='', max_length=10)),
                ('department_id', fields.IntField(default=0)),
                ('question_id', fields.CharField(max_length=64)),
                ('score', fields.SmallIntField()),
                ('nulls', fields.SmallIntField(default=0)),
                ('channel', fields.CharField(max_length=16)),
                ('n', fields.BigIntField(default=0)),
            ],
            options={'table': 'answer_month', 'app': 'models', 'unique_together': (('month_start', 'department_id', 'question_id', 'score', 'nulls', 'channel'),), 'pk_attr': 'id', 'table_description': 'AnswerDay summed per local month (derived): the same columns with ``month_start``'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AnswerClinicianMonth',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('month_start', fields.CharField(default='', max_length=10)),
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
            options={'table': 'answer_clinician_month', 'app': 'models', 'unique_together': (('month_start', 'department_id', 'clinician', 'clinician_code', 'question_id', 'nulls'),), 'pk_attr': 'id', 'table_description': 'AnswerClinicianDay summed per local month (derived), as AnswerMonth is AnswerDay.'},
            bases=['Model'],
        ),
        ops.RunSQL(BACKFILL_MONTH, reverse_sql=ops.RunSQL.noop),
        ops.RunSQL(BACKFILL_CLINICIAN_MONTH, reverse_sql=ops.RunSQL.noop),
    ]
