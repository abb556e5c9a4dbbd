"""Text stored before the storage guard (portal.text) is mended: NUL removed, lone surrogates
replaced by U+FFFD, in every text and JSON column of the portal's own apps, so that no page
meets them again (a flow's history, the audit log, the call log). The API is the highest app:
its migration runs after every other app's tables exist. Nothing to do on PostgreSQL, which
never stored such values."""

from django.db import migrations

from portal.text import stored_text_repair


def repair(apps, schema_editor):
    stored_text_repair(apps, schema_editor, app_labels=("portal", "dins", "callflows", "api"))


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_webhook_events"),
        ("portal", "0008_alerts_close_themselves"),
        ("dins", "0006_outbound_call_trouble"),
        ("callflows", "0004_call_log_is_test"),
    ]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop)]
