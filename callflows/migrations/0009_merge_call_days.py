"""Joins the daily call counts and the call log's indexes (0005_call_days_and_log_indexes) with
the request ids, the recordings' uploads and unique names (0005 to 0008)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("callflows", "0005_call_days_and_log_indexes"),
        ("callflows", "0008_merge_call_log_request_id_and_unique_names"),
    ]

    operations = []
