"""Settings: Static files, uploaded media and where they are stored."""

from pathlib import Path
from typing import Any

from config.settings.deployment import BASE_DIR, IS_PRODUCTION, VAR_DIR, env
from config.var import STATIC_FOLDER

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / STATIC_FOLDER  # made by config/var.py:var_prepare
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# [choice] Xoxzo publishes no limits (XOXZO.md). 10 MB is ~40 min at 32 kbit/s; 10 minutes is
# far longer than any greeting a caller sits through. Uploads stop being stored past the size.
AUDIO_MAX_BYTES = env.int("AUDIO_MAX_BYTES", default=10 * 1024 * 1024)
AUDIO_MAX_SECONDS = env.int("AUDIO_MAX_SECONDS", default=10 * 60)
# A recording to convert (callflows/assets/convert.py) may be larger than the MP3 made of it:
# a PC's WAV takes ~10 MB a minute. 50 MB holds 4.5 minutes of CD-quality stereo WAV and any
# phone's voice memo up to the 10-minute limit.
AUDIO_UPLOAD_MAX_BYTES = env.int("AUDIO_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
# Converted recordings nobody saved (or discarded) are deleted after this.
AUDIO_UPLOAD_KEEP_HOURS = env.int("AUDIO_UPLOAD_KEEP_HOURS", default=24)
# No MEDIA_URL is routed: nothing in media is public except what a view chooses to serve.
MEDIA_URL = "/media-not-served/"
# Uploads (MP3s) in the media folder, or, with MEDIA_BUCKET set, in an S3-compatible bucket that
# every portal and edge machine reads (portal/storage.py): then nothing on disk is shared.
MEDIA_BUCKET = env.str("MEDIA_BUCKET", default="")
STORAGES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": MEDIA_BUCKET,
                "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
                "region_name": env.str("MEDIA_S3_REGION", default="") or None,
                "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
                "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
                "location": env.str("MEDIA_S3_PREFIX", default="media"),
                "default_acl": None,  # private: MP3s are served by the edge, never the bucket
                "file_overwrite": False,
                "querystring_auth": True,
            },
        }
        if MEDIA_BUCKET
        else {"BACKEND": "portal.storage.MediaStorage"}
    ),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
