# Phone follow-up (voice): every call placed (keypad survey or staff) for the per-number limits
# and coverage figures, the staff call list (电话回访), and the escalation kind "callback"
# (pressed 0: wants a person). Renumbered from 0005 when main's 0005-0007 landed first.
from tortoise import migrations
from tortoise.migrations import operations as ops
from models.calls import CallStatus, CallTaskStatus
from models.entities import EscalationKind
from models.fields import UTCDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_message_unsure_since')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Call',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=16)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='calls', on_delete=OnDelete.CASCADE)),
                ('phone', fields.CharField(max_length=32)),
                ('checkin_id', fields.IntField(null=True)),
                ('conversation_id', fields.IntField(null=True)),
                ('department_id', fields.IntField(null=True)),
                ('message_id', fields.BigIntField(null=True, unique=True)),
                ('task_id', fields.IntField(null=True)),
                ('staff_id', fields.IntField(null=True)),
                ('question_id', fields.CharField(default='', max_length=64)),
                ('provider_call_id', fields.CharField(null=True, max_length=128)),
                ('status', fields.CharEnumField(description='DIALING: dialing\nUNSURE: unsure\nREFUSED: refused\nPLACED: placed\nRINGING: ringing\nANSWERED: answered\nNO_ANSWER: no_answer\nBUSY: busy\nREJECTED: rejected\nPOWERED_OFF: powered_off\nSUSPENDED: suspended\nINVALID_NUMBER: invalid_number\nUNREACHABLE: unreachable\nLIMITED: limited\nFAILED: failed\nNO_RECEIPT: no_receipt', enum_type=CallStatus, max_length=16)),
                ('outcome', fields.CharField(default='', max_length=16)),
                ('status_code', fields.CharField(default='', max_length=32)),
                ('dtmf', fields.CharField(default='', max_length=32)),
                ('duration_seconds', fields.IntField(null=True)),
                ('note', fields.TextField(default='', unique=False)),
                ('placed_at', UTCDatetimeField(auto_now=False, auto_now_add=False)),
                ('answered_at', UTCDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ended_at', UTCDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', UTCDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'call', 'app': 'models', 'indexes': [Index(fields=['phone', 'channel', 'placed_at']), Index(fields=['checkin_id']), Index(fields=['channel', 'placed_at']), Index(fields=['task_id'])], 'pk_attr': 'id', 'table_description': 'One telephone call to a contact: a keypad survey call (``voice``) or a staff call'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CallTask',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('checkin', fields.ForeignKeyField('models.CheckIn', source_field='checkin_id', db_constraint=True, to_field='id', related_name='call_tasks', on_delete=OnDelete.CASCADE)),
                ('contact_id', fields.IntField()),
                ('department_id', fields.IntField(null=True)),
                ('conversation_id', fields.IntField(null=True)),
                ('reason', fields.CharField(max_length=32)),
                ('status', fields.CharEnumField(default=CallTaskStatus.OPEN, description='OPEN: open\nCLAIMED: claimed\nDONE: done\nLOST: lost', enum_type=CallTaskStatus, max_length=16)),
                ('due_at', UTCDatetimeField(auto_now=False, auto_now_add=False)),
                ('assignee', fields.ForeignKeyField('models.Staff', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='call_tasks', on_delete=OnDelete.SET_NULL)),
                ('claimed_at', UTCDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.SmallIntField(default=0)),
                ('outcome', fields.CharField(null=True, max_length=16)),
                ('note', fields.TextField(null=True, unique=False)),
                ('created_at', UTCDatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', UTCDatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', UTCDatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'call_task', 'app': 'models', 'unique_together': (('checkin',),), 'indexes': [Index(fields=['status', 'due_at']), Index(fields=['department_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A check-in the bot could not complete, waiting for a member of staff to phone.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Escalation',
            name='kind',
            field=fields.CharEnumField(description='RED_FLAG: red_flag\nDISPUTE: dispute\nCOMPLAINT: complaint\nLOW_SCORE: low_score\nQUESTION: question\nDECEASED: deceased\nWRONG_NUMBER: wrong_number\nCALLBACK: callback\nOTHER: other', enum_type=EscalationKind, max_length=16),
        ),
    ]
