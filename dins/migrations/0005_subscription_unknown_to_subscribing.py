from django.db import migrations, models


def unknown_to_subscribing(apps, schema_editor):
    """The old "unknown" is a subscribe that may have reached the carrier: "subscribing" now,
    with no claim and no lease, so reconciliation settles it from the carrier's list."""
    Subscription = apps.get_model("dins", "Subscription")
    Subscription._base_manager.filter(status="unknown").update(
        status="subscribing", sent_at=models.F("updated_at")
    )


class Migration(migrations.Migration):
    dependencies = [("dins", "0004_subscription_claim")]

    operations = [migrations.RunPython(unknown_to_subscribing, migrations.RunPython.noop)]
