# SMS sent in one SendBatchSms call share that call's OutId: each message records it (before the
# request leaves) so that receipts and the settling query find it by (OutId, phone).
from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('models', '0011_answer_month')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Message',
            name='out_id',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['out_id']),
        ),
    ]
