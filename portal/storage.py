"""Where uploaded files live: the local media folder (the embedded default) or a bucket.

``MediaStorage`` is Django's file-system storage that never leaves half a file: it writes to a
temporary name in the same folder and moves it into place (an atomic rename), removing the
temporary file whatever goes wrong (a full disk, a folder that turned read-only). With
``MEDIA_BUCKET`` set, uploads go to an S3-compatible bucket instead (django-storages), which
every portal and edge machine reads: nothing in the media folder is shared then.

``storage_failure_words`` says in a person's words why a write failed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets

from django.core.files.storage import FileSystemStorage
from django.utils.translation import gettext as _


class MediaStorage(FileSystemStorage):
    """File-system storage whose files appear whole or not at all."""

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".{secrets.token_hex(8)}.part")
        try:
            with open(temporary, "wb") as file:
                for chunk in content.chunks():
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, full_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        if self.file_permissions_mode is not None:
            os.chmod(self.path(name), self.file_permissions_mode)
        return str(name).replace("\\", "/")


def storage_failure_words(error: BaseException) -> str:
    """Why storing a file failed, for the person who uploaded it."""
    code = getattr(error, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return _("the server's storage is full")
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return _("the server's storage cannot be written to")
    return _("the server's storage did not answer")
