from django.urls import path

from dins import views

urlpatterns = [
    path("", views.number_list, name="number_list"),
    path("search/", views.number_search, name="number_search"),
    path("costs/", views.number_costs, name="costs"),
    path("subscribe/", views.number_subscribe, name="number_subscribe"),
    path("<uuid:subscription_code>/", views.number_detail, name="number_detail"),
    path("<uuid:subscription_code>/edit/", views.number_edit, name="number_edit"),
    path("<uuid:subscription_code>/keep/", views.number_keep, name="number_keep"),
    path("<uuid:subscription_code>/release/", views.number_release, name="number_release"),
    path(
        "<uuid:subscription_code>/rotate-token/",
        views.number_rotate_token,
        name="number_rotate_token",
    ),
]
