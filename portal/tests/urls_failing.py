from django.urls import path


def boom(request):
    raise RuntimeError("secret detail")


urlpatterns = [path("boom/", boom)]
