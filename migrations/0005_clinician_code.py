# Clinicians are told apart within their department: the import column clinician_id is kept
# on the episode and on each answer (chained when set), and the month rollup and the covering
# indexes group by department, name and id. Existing rows keep an empty id.
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

# Written literally (not imported) so that this migration keeps meaning the same as the code
# moves on; from here on bot.ledger.append keeps the rollup.
BACKFILL = (
    "INSERT INTO answer_tally (department_id, clinician, clinician_code, treatment_type, "
    "channel, question_id, score, local_month, nulls, n) "
    "SELECT COALESCE(department_id, 0), COALESCE(clinician, ''), COALESCE(clinician_code, ''), "
    "COALESCE(treatment_type, ''), channel, question_id, score, "
    "COALESCE(substr(local_day, 1, 7), ''), "
    "CASE WHEN department_id IS NULL THEN 1 ELSE 0 END "
    "+ CASE WHEN clinician IS NULL THEN 2 ELSE 0 END "
    "+ CASE WHEN treatment_type IS NULL THEN 4 ELSE 0 END "
    "+ CASE WHEN local_day IS NULL THEN 8 ELSE 0 END, COUNT(*) "
    "FROM answer WHERE score IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
)


class Migration(migrations.Migration):
    dependencies = [('models', '0004_loop_inbox')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Answer',
            name=None,
            fields=['clinician', 'question_id', 'score', 'local_day'],
        ),
        ops.RemoveIndex(
            model_name='Answer',
            name=None,
            fields=['local_day', 'clinician', 'treatment_type', 'department_id', 'channel', 'question_id', 'score'],
        ),
        ops.AddField(
            model_name='Answer',
            name='clinician_code',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddIndex(
            model_name='Answer',
            index=Index(fields=['department_id', 'clinician', 'clinician_code', 'question_id', 'score', 'local_day']),
        ),
        ops.AddIndex(
            model_name='Answer',
            index=Index(fields=['local_day', 'department_id', 'clinician', 'clinician_code', 'treatment_type', 'channel', 'question_id', 'score']),
        ),
        # The month rollup is derived: dropped and made again with the new key, then counted
        # from the answers (SQLite cannot drop the old unique key in place).
        ops.DeleteModel(name='AnswerTally'),
        ops.CreateModel(
            name='AnswerTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('department_id', fields.IntField(default=0)),
                ('clinician', fields.CharField(default='', max_length=128)),
                ('clinician_code', fields.CharField(default='', max_length=64)),
                ('treatment_type', fields.CharField(default='', max_length=64)),
                ('channel', fields.CharField(max_length=16)),
                ('question_id', fields.CharField(max_length=64)),
                ('score', fields.SmallIntField()),
                ('local_month', fields.CharField(default='', max_length=7)),
                ('nulls', fields.SmallIntField(default=0)),
                ('n', fields.BigIntField(default=0)),
            ],
            options={'table': 'answer_tally', 'app': 'models', 'unique_together': (('department_id', 'clinician', 'clinician_code', 'treatment_type', 'channel', 'question_id', 'score', 'local_month', 'nulls'),), 'indexes': [Index(fields=['department_id', 'clinician', 'clinician_code', 'question_id', 'score', 'local_month', 'nulls', 'n']), Index(fields=['channel', 'question_id', 'score', 'local_month']), Index(fields=['treatment_type', 'question_id', 'score', 'local_month']), Index(fields=['question_id', 'score', 'local_month'])], 'pk_attr': 'id', 'table_description': 'Scored answers counted per group and local month (derived, not chained).'},
            bases=['Model'],
        ),
        ops.RunSQL(BACKFILL, reverse_sql=ops.RunSQL.noop),
        ops.AddField(
            model_name='Episode',
            name='clinician_code',
            field=fields.CharField(default='', max_length=64),
        ),
    ]
