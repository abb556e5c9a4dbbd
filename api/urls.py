"""The API (``/api/v1/``, its OpenAPI document and docs) and its settings pages."""

from django.urls import path

from api import views
from api.v1 import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("settings/api/", views.api_settings, name="api_settings"),
    path("settings/api/keys/", views.api_key_create, name="api_key_create"),
    path(
        "settings/api/keys/<uuid:apikey_code>/revoke/",
        views.api_key_revoke,
        name="api_key_revoke",
    ),
    path("settings/api/webhooks/", views.webhook_create, name="webhook_create"),
    path(
        "settings/api/webhooks/<uuid:webhookendpoint_code>/",
        views.webhook_detail,
        name="webhook_detail",
    ),
    path(
        "settings/api/webhooks/<uuid:webhookendpoint_code>/toggle/",
        views.webhook_toggle,
        name="webhook_toggle",
    ),
    path(
        "settings/api/webhooks/<uuid:webhookendpoint_code>/delete/",
        views.webhook_delete,
        name="webhook_delete",
    ),
]
