"""An alert names its number (``number_id``, ``number_code``) instead of pointing at it: the
numbers app sits above this one, so the foreign key to ``dins.Subscription`` goes, and every
alert keeps its number, copied over before the column is dropped."""

from django.db import migrations, models

# Plain SQL on purpose: this app's migrations do not load the numbers app's models. The same
# statements run on SQLite and PostgreSQL (a UUID is stored alike in both tables).
COPY_NUMBERS = """
    UPDATE portal_alert
    SET number_id = subscription_id,
        number_code = (SELECT code FROM dins_subscription WHERE id = portal_alert.subscription_id)
    WHERE subscription_id IS NOT NULL
"""
COPY_BACK = "UPDATE portal_alert SET subscription_id = number_id WHERE number_id IS NOT NULL"


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0012_merge_alerts_paged"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="number_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="alert",
            name="number_code",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.RunSQL(COPY_NUMBERS, COPY_BACK),
        migrations.RemoveIndex(model_name="alert", name="alert_recent"),
        migrations.RemoveField(model_name="alert", name="subscription"),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                fields=["tenant", "kind", "number_id", "-created_at"], name="alert_recent"
            ),
        ),
    ]
