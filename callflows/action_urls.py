"""URLs the carrier calls, served on the minimal path of ``portal.wsgi`` (no middleware)."""

from django.urls import path

from callflows import views

urlpatterns = [path("a/<str:token>/", views.action_url, name="action_url")]
