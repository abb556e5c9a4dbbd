"""Pages of the call-flow assets (the carrier's public MP3 route: callflows/edge/urls.py).

Object codes are named ``<model>_code`` so the tenant-isolation walk checks every one.
"""

from django.urls import path

from callflows.assets import upload_views, views

urlpatterns = [
    path("callflows/audio/", views.audio_list, name="audio_list"),
    path("callflows/audio/upload/", upload_views.audio_upload, name="audio_upload"),
    path(
        "callflows/audio/uploads/<uuid:audioupload_code>/",
        upload_views.audio_upload_detail,
        name="audio_upload_detail",
    ),
    path(
        "callflows/audio/uploads/<uuid:audioupload_code>/listen.mp3",
        upload_views.audio_upload_listen,
        name="audio_upload_listen",
    ),
    path(
        "callflows/audio/uploads/<uuid:audioupload_code>/save/",
        upload_views.audio_upload_save,
        name="audio_upload_save",
    ),
    path(
        "callflows/audio/uploads/<uuid:audioupload_code>/discard/",
        upload_views.audio_upload_discard,
        name="audio_upload_discard",
    ),
    path("callflows/audio/<uuid:audiofile_code>/", views.audio_edit, name="audio_edit"),
    path("callflows/audio/<uuid:audiofile_code>/delete/", views.audio_delete, name="audio_delete"),
    path(
        "callflows/audio/<uuid:audiofile_code>/listen.mp3", views.audio_listen, name="audio_listen"
    ),
    path("callflows/scripts/", views.script_list, name="script_list"),
    path("callflows/scripts/new/", views.script_create, name="script_create"),
    path("callflows/scripts/<uuid:ttsscript_code>/", views.script_edit, name="script_edit"),
    path(
        "callflows/scripts/<uuid:ttsscript_code>/delete/",
        views.script_delete,
        name="script_delete",
    ),
    path(
        "callflows/scripts/<uuid:ttsscript_code>/listen.wav",
        views.script_listen,
        name="script_listen",
    ),
    path("callflows/lists/", views.caller_lists, name="caller_lists"),
    path("callflows/lists/new/", views.caller_list_create, name="caller_list_create"),
    path(
        "callflows/lists/<uuid:callerlist_code>/", views.caller_list_edit, name="caller_list_edit"
    ),
    path(
        "callflows/lists/<uuid:callerlist_code>/delete/",
        views.caller_list_delete,
        name="caller_list_delete",
    ),
    path("callflows/closed-dates/", views.closed_dates, name="closed_dates"),
    path("callflows/closed-dates/add/", views.closed_date_add, name="closed_date_add"),
    path(
        "callflows/closed-dates/<uuid:closeddate_code>/delete/",
        views.closed_date_delete,
        name="closed_date_delete",
    ),
]
