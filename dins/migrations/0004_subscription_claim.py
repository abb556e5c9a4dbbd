
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('dins', '0003_test_call'),
        ('portal', '0006_outbox'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='subscription',
            name='subscription_one_live_per_din',
        ),
        migrations.AddField(
            model_name='subscription',
            name='claim',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='subscription',
            name='claimed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='subscription',
            name='last_sent_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='subscription',
            name='sent_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='subscription',
            name='status',
            field=models.CharField(choices=[('pending', 'Queued'), ('subscribing', 'Subscribing'), ('active', 'Active'), ('releasing', 'Releasing'), ('released', 'Released'), ('failed', 'Failed')], default='pending', max_length=12),
        ),
        migrations.AddIndex(
            model_name='subscription',
            index=models.Index(condition=models.Q(('status__in', ['pending', 'subscribing'])), fields=['claimed_at'], name='subscription_subscribing'),
        ),
        migrations.AddConstraint(
            model_name='subscription',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ('pending', 'subscribing', 'active', 'releasing'))), fields=('din_uid',), name='subscription_one_live_per_din'),
        ),
    ]
