# The treatment rollups (models.AnswerTreatmentDay, models.AnswerTreatmentMonth): treatment
# tallies read them instead of the answers. They start out equal to counting the answers
# already recorded, the month one as the day one summed per month (written literally here, not
# imported, so this migration keeps meaning the same as the code moves on); from here on
# bot.ledger.append keeps them.
from tortoise import fields, migrations
from tortoise.migrations import operations as ops

BACKFILL_DAY = (
    "INSERT INTO answer_treatment_day (local_day, department_id, treatment_type, question_id, "
    "nulls, n1, n2, n3, n4, n5) "
    "SELECT COALESCE(local_day, ''), COALESCE(department_id, 0), COALESCE(treatment_type, ''), "
    "question_id, "
    "CASE WHEN department_id IS NULL THEN 1 ELSE 0 END "
    "+ CASE WHEN treatment_type IS NULL THEN 4 ELSE 0 END "
    "+ CASE WHEN local_day IS NULL THEN 8 ELSE 0 END, "
    "SUM(CASE WHEN score = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN score = 2 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN score = 3 THEN 1 ELSE 0 END), SUM(CASE WHEN score = 4 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN score = 5 THEN 1 ELSE 0 END) "
    "FROM answer WHERE score BETWEEN 1 AND 5 GROUP BY 1, 2, 3, 4, 5"
)
BACKFILL_MONTH = (
    "INSERT INTO answer_treatment_month (month_start, department_id, treatment_type, "
    "question_id, nulls, n1, n2, n3, n4, n5) "
    "SELECT CASE WHEN local_day = '' THEN '' ELSE substr(local_day, 1, 7) || '-01' END, "
    "department_id, treatment_type, question_id, nulls, "
    "SUM(n1), SUM(n2), SUM(n3), SUM(n4), SUM(n5) FROM answer_treatment_day "
    "GROUP BY 1, 2, 3, 4, 5"
)


def _counts() -> list:
    return [(f"n{s}", fields.BigIntField(default=0)) for s in range(1, 6)]


class Migration(migrations.Migration):
    dependencies = [('models', '0012_message_sms_batch_out_id')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AnswerTreatmentDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('local_day', fields.CharField(default='', max_length=10)),
                ('department_id', fields.IntField(default=0)),
                ('treatment_type', fields.CharField(default='', max_length=64)),
                ('question_id', fields.CharField(max_length=64)),
                ('nulls', fields.SmallIntField(default=0)),
                *_counts(),
            ],
            options={'table': 'answer_treatment_day', 'app': 'models', 'unique_together': (('local_day', 'department_id', 'treatment_type', 'question_id', 'nulls'),), 'pk_attr': 'id', 'table_description': 'Scored answers counted per department, treatment type, question and local day, the five'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AnswerTreatmentMonth',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('month_start', fields.CharField(default='', max_length=10)),
                ('department_id', fields.IntField(default=0)),
                ('treatment_type', fields.CharField(default='', max_length=64)),
                ('question_id', fields.CharField(max_length=64)),
                ('nulls', fields.SmallIntField(default=0)),
                *_counts(),
            ],
            options={'table': 'answer_treatment_month', 'app': 'models', 'unique_together': (('month_start', 'department_id', 'treatment_type', 'question_id', 'nulls'),), 'pk_attr': 'id', 'table_description': 'AnswerTreatmentDay summed per local month (derived), as AnswerMonth is AnswerDay.'},
            bases=['Model'],
        ),
        ops.RunSQL(BACKFILL_DAY, reverse_sql=ops.RunSQL.noop),
        ops.RunSQL(BACKFILL_MONTH, reverse_sql=ops.RunSQL.noop),
    ]
