# Staff corrections of how the bot read a reply (bot/corrections.py): training data for
# `survey-bot train`, exported by `survey-bot corrections export`.
from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.fields import UTCDatetimeField
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_clinician_code')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LabelCorrection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('escalation_id', fields.IntField(db_index=True)),
                ('message_id', fields.BigIntField(null=True, db_index=True)),
                ('staff_id', fields.IntField()),
                ('text', fields.TextField(unique=False)),
                ('labels', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('parsed', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('note', fields.TextField(default='', unique=False)),
                ('created_at', UTCDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'label_correction', 'app': 'models', 'pk_attr': 'id', 'table_description': "A staff member's correction of how the bot read a reply: training data for"},
            bases=['Model'],
        ),
    ]
