# The constraints on 0006's keys, in a transaction of their own: PostgreSQL refuses to alter a
# table whose rows the same transaction just updated (deferred foreign-key triggers pending).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('callflows', '0006_unique_names'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='audiofile',
            constraint=models.UniqueConstraint(condition=models.Q(('name_key', ''), _negated=True), fields=('tenant', 'name_key'), name='audio_name_once'),
        ),
        migrations.AddConstraint(
            model_name='callerlist',
            constraint=models.UniqueConstraint(condition=models.Q(('name_key', ''), _negated=True), fields=('tenant', 'name_key'), name='caller_list_name_once'),
        ),
        migrations.AddConstraint(
            model_name='ttsscript',
            constraint=models.UniqueConstraint(condition=models.Q(('name_key', ''), _negated=True), fields=('tenant', 'name_key'), name='script_name_once'),
        ),
    ]
