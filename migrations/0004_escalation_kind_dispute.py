# The escalation kind "dispute" (a complaint threatening to go further: a lawyer, 12345,
# the media): only the enum description of the column changes, no data.
from tortoise import migrations
from tortoise.migrations import operations as ops
from models.entities import EscalationKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_checkin_indexes')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Escalation',
            name='kind',
            field=fields.CharEnumField(description='RED_FLAG: red_flag\nDISPUTE: dispute\nCOMPLAINT: complaint\nLOW_SCORE: low_score\nQUESTION: question\nDECEASED: deceased\nWRONG_NUMBER: wrong_number\nOTHER: other', enum_type=EscalationKind, max_length=16),
        ),
    ]
