# The closed loop (staff inbox): internal notes on escalations, each member's read marks (the
# queue's unread rows), and the escalation kind "dispute".
from tortoise import migrations
from tortoise.migrations import operations as ops
from models.entities import EscalationKind
from models.fields import UTCDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_checkin_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EscalationNote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('escalation', fields.ForeignKeyField('models.Escalation', source_field='escalation_id', db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.CASCADE)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', null=True, db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.SET_NULL)),
                ('body', fields.TextField(unique=False)),
                ('created_at', UTCDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'escalation_note', 'app': 'models', 'indexes': [Index(fields=['escalation_id', 'id'])], 'pk_attr': 'id', 'table_description': 'An internal note on an escalation: staff only, never sent to the person (audited).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StaffRead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.Staff', source_field='staff_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('escalation', fields.ForeignKeyField('models.Escalation', source_field='escalation_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('message_id', fields.BigIntField(default=0)),
                ('read_at', UTCDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'staff_read', 'app': 'models', 'unique_together': (('staff', 'escalation'),), 'pk_attr': 'id', 'table_description': "How far a member has read an escalation's conversation: the queue's unread marks."},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Escalation',
            name='kind',
            field=fields.CharEnumField(description='RED_FLAG: red_flag\nDISPUTE: dispute\nCOMPLAINT: complaint\nLOW_SCORE: low_score\nQUESTION: question\nDECEASED: deceased\nWRONG_NUMBER: wrong_number\nOTHER: other', enum_type=EscalationKind, max_length=16),
        ),
    ]
