"""Settings: Limits on what one request may carry."""

# The largest form is the call-flow editor at its rule limit (callflows.flows.forms.MAX_RULES
# rules of about 15 fields, plus the default action); a request with more fields is refused
# with 400 before any form is built.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 700
# Form fields other than files (the longest is a caller list at its limit, ~60 KB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# An upload larger than the MP3 limit is not stored, only counted (portal/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "portal.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
