"""The call log: the tenant's calls, one number's calls, the CSV export (read-only)."""

from django.urls import path

from callflows.calllog import views as calllog_views

urlpatterns = [
    path("calls/", calllog_views.call_log, name="call_log"),
    path("calls/export.csv", calllog_views.call_log_export, name="call_log_export"),
    path(
        "calls/numbers/",
        calllog_views.call_log_number_options,
        name="call_log_number_options",
    ),
    path(
        "numbers/<uuid:subscription_code>/calls/",
        calllog_views.number_calls,
        name="number_calls",
    ),
]
