
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0005_operators_alerts'),
    ]

    operations = [
        migrations.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('task_name', models.CharField(max_length=200)),
                ('kwargs', models.JSONField(default=dict)),
                ('task_id', models.CharField(max_length=64, unique=True)),
                ('subject', models.CharField(blank=True, max_length=100)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField(blank=True, null=True)),
                ('attempted_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('last_error', models.CharField(blank=True, max_length=300)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('given_up_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'verbose_name': 'queued task',
                'verbose_name_plural': 'queued tasks',
                'ordering': ['created_at', 'id'],
                'indexes': [models.Index(condition=models.Q(('given_up_at__isnull', True), ('sent_at__isnull', True)), fields=['created_at'], name='outbox_unsent'), models.Index(condition=models.Q(('given_up_at__isnull', True), ('sent_at__isnull', True)), fields=['subject'], name='outbox_unsent_subject'), models.Index(fields=['created_at'], name='outbox_created')],
            },
        ),
    ]
