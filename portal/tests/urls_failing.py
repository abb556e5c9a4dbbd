"""The portal's own URLconf with one view that fails: the 500 page as the portal renders it."""

from django.urls import path

from config.urls.portal import urlpatterns as portal_urlpatterns


def boom(request):
    raise RuntimeError("secret detail")


urlpatterns = [*portal_urlpatterns, path("boom/", boom)]
