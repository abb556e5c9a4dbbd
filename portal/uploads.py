"""Uploads larger than the portal accepts are measured, not stored.

The only files members upload are recordings: any audio on the upload page, converted by a
worker, at most ``AUDIO_UPLOAD_MAX_BYTES``; MP3s through the API, at most ``AUDIO_MAX_BYTES``
(checked again by the service, with its own message). Django would
otherwise write any upload whole to a temporary file before a view could look at its size.
This handler, first in ``FILE_UPLOAD_HANDLERS``, stops passing a file's bytes on once they
pass the limit (what is stored stays under it), keeps counting, and notes on the request how
large the file was (``request.upload_refused[field] = size``) so that the form can say so.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler


def upload_max_bytes() -> int:
    return max(settings.AUDIO_MAX_BYTES, settings.AUDIO_UPLOAD_MAX_BYTES)


class CappedUploadHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.limit = upload_max_bytes()
        self.is_over = False

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.is_over = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.is_over = True
        return None if self.is_over else raw_data

    def file_complete(self, file_size):
        if self.is_over and self.request is not None:
            # An attribute of this request's own (HttpRequest declares no such field).
            refused = vars(self.request).setdefault("upload_refused", {})
            refused[self.field_name] = file_size
        return None
