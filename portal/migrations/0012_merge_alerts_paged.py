"""Joins the alerts' and audit log's indexes for paging (0009_alerts_and_audit_search) with the
storage alert, shared rate counts and the second factor (0009 to 0011)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0009_alerts_and_audit_search"),
        ("portal", "0011_merge_storage_alert_and_rate_counter"),
    ]

    operations = []
