# An outbound message whose last attempt's outcome is unknown (a timeout after the request left,
# a dropped connection, a worker that died holding it) records since when: it is settled
# (receipt, the provider's query or idempotency key) before it is ever sent again.
from tortoise import migrations
from tortoise.migrations import operations as ops

from models.fields import UTCDatetimeField


class Migration(migrations.Migration):
    dependencies = [('models', '0006_label_correction')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Message',
            name='unsure_since',
            field=UTCDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
