# The clinician day rollup (models.AnswerClinicianDay): clinician tallies by week or by day
# range read it instead of the answers. It starts out equal to counting the answers already
# recorded (written literally here, not imported, so this migration keeps meaning the same as
# the code moves on); from here on bot.ledger.append keeps it.
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


BACKFILL = (
    "INSERT INTO answer_clinician_day (local_day, department_id, clinician, clinician_code, "
    "question_id, nulls, n1, n2, n3, n4, n5) "
    "SELECT COALESCE(local_day, ''), COALESCE(department_id, 0), COALESCE(clinician, ''), "
    "COALESCE(clinician_code, ''), question_id, "
    "CASE WHEN department_id IS NULL THEN 1 ELSE 0 END "
    "+ CASE WHEN clinician IS NULL THEN 2 ELSE 0 END "
    "+ CASE WHEN local_day IS NULL THEN 8 ELSE 0 END, "
    "SUM(CASE WHEN score = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN score = 2 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN score = 3 THEN 1 ELSE 0 END), SUM(CASE WHEN score = 4 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN score = 5 THEN 1 ELSE 0 END) "
    "FROM answer WHERE score BETWEEN 1 AND 5 GROUP BY 1, 2, 3, 4, 5, 6"
)

class Migration(migrations.Migration):
    dependencies = [('models', '0008_voice_calls')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AnswerClinicianDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('local_day', fields.CharField(default='', max_length=10)),
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
            options={'table': 'answer_clinician_day', 'app': 'models', 'unique_together': (('local_day', 'department_id', 'clinician', 'clinician_code', 'question_id', 'nulls'),), 'pk_attr': 'id', 'table_description': 'Scored answers counted per department, clinician, question and local day (derived).'},
            bases=['Model'],
        ),
        ops.RunSQL(BACKFILL, reverse_sql=ops.RunSQL.noop),
    ]
