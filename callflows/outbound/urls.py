from django.urls import path

from callflows.outbound import views as outbound_views

urlpatterns = [
    path(
        "<uuid:subscription_code>/calls/new/",
        outbound_views.outbound_call_new,
        name="outbound_call_new",
    ),
    path(
        "<uuid:subscription_code>/outbound/",
        outbound_views.outbound_call_list,
        name="outbound_call_list",
    ),
    path(
        "outbound/<uuid:outboundcall_code>/",
        outbound_views.outbound_call_detail,
        name="outbound_call_detail",
    ),
]
