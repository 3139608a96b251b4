from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

# The day rollup starts out equal to counting the answers already recorded (written literally
# here, not imported, so this migration keeps meaning the same as the code moves on). From here
# on bot.ledger.append keeps it. Run `survey-bot migrate` before starting the new code: answers
# written meanwhile by an older process are not counted (bot.tallies.rebuild_rollup recounts).
BACKFILL = (
    "INSERT INTO answer_day (local_day, department_id, question_id, score, nulls, channel, n) "
    "SELECT COALESCE(local_day, ''), COALESCE(department_id, 0), question_id, score, "
    "CASE WHEN department_id IS NULL THEN 1 ELSE 0 END "
    "+ CASE WHEN local_day IS NULL THEN 8 ELSE 0 END, "
    "channel, COUNT(*) "
    "FROM answer WHERE score IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6"
)


class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AnswerDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('department_id', fields.IntField(default=0)),
                ('question_id', fields.CharField(max_length=64)),
                ('score', fields.SmallIntField()),
                ('nulls', fields.SmallIntField(default=0)),
                ('local_day', fields.CharField(default='', max_length=10)),
                ('channel', fields.CharField(max_length=16)),
                ('n', fields.BigIntField(default=0)),
            ],
            options={'table': 'answer_day', 'app': 'models', 'unique_together': (('local_day', 'department_id', 'question_id', 'score', 'nulls', 'channel'),), 'indexes': [Index(fields=['department_id', 'question_id', 'score', 'nulls', 'local_day', 'n']), Index(fields=['channel', 'question_id', 'score', 'nulls', 'local_day', 'n'])], 'pk_attr': 'id', 'table_description': 'Scored answers counted per department, channel, question, score and local day (derived).'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Answer',
            index=Index(fields=['local_day', 'clinician', 'treatment_type', 'department_id', 'channel', 'question_id', 'score']),
        ),
        ops.RunSQL(BACKFILL, reverse_sql=ops.RunSQL.noop),
    ]
