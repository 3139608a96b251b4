# Conversations and survey links are looked up by their check-in (retries, the H5 page);
# without these indexes each lookup read the whole table.
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_answer_day')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Conversation',
            index=Index(fields=['checkin_id']),
        ),
        ops.AddIndex(
            model_name='SurveyLink',
            index=Index(fields=['checkin_id']),
        ),
    ]
