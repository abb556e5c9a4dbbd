"""Pages of the call-flow assets (the carrier's public MP3 route: config/urls/edge.py).

Object codes are named ``<model>_code`` so the tenant-isolation walk checks every one.
"""

from django.urls import path

from callflows.assets import upload_views, views
from callflows.assets.selectors import AUDIO, CALLER_LIST, SCRIPT

urlpatterns = [
    path("callflows/audio/", views.asset_list, {"kind": AUDIO}, name="audio_list"),
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
    path(
        "callflows/audio/<uuid:audiofile_code>/",
        views.asset_edit,
        {"kind": AUDIO},
        name="audio_edit",
    ),
    path(
        "callflows/audio/<uuid:audiofile_code>/delete/",
        views.asset_delete,
        {"kind": AUDIO},
        name="audio_delete",
    ),
    path(
        "callflows/audio/<uuid:audiofile_code>/listen.mp3", views.audio_listen, name="audio_listen"
    ),
    path("callflows/scripts/", views.asset_list, {"kind": SCRIPT}, name="script_list"),
    path("callflows/scripts/new/", views.asset_create, {"kind": SCRIPT}, name="script_create"),
    path(
        "callflows/scripts/<uuid:ttsscript_code>/",
        views.asset_edit,
        {"kind": SCRIPT},
        name="script_edit",
    ),
    path(
        "callflows/scripts/<uuid:ttsscript_code>/delete/",
        views.asset_delete,
        {"kind": SCRIPT},
        name="script_delete",
    ),
    path(
        "callflows/scripts/<uuid:ttsscript_code>/listen.wav",
        views.script_listen,
        name="script_listen",
    ),
    path("callflows/lists/", views.asset_list, {"kind": CALLER_LIST}, name="caller_lists"),
    path(
        "callflows/lists/new/",
        views.asset_create,
        {"kind": CALLER_LIST},
        name="caller_list_create",
    ),
    path(
        "callflows/lists/<uuid:callerlist_code>/",
        views.asset_edit,
        {"kind": CALLER_LIST},
        name="caller_list_edit",
    ),
    path(
        "callflows/lists/<uuid:callerlist_code>/delete/",
        views.asset_delete,
        {"kind": CALLER_LIST},
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
