"""Joins the call log's request ids (0005_call_log_request_id) with the recordings' upload and
unique names (0005_audio_upload to 0007)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("callflows", "0005_call_log_request_id"),
        ("callflows", "0007_unique_name_constraints"),
    ]

    operations = []
