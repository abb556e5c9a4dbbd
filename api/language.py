"""The language the API answers in: the one the client asks for, else the company's.

A program acting for Harbor Logistics (English) gets English descriptions, previews and
errors without sending anything; one acting for さくら歯科クリニック gets Japanese. A client
that sends ``Accept-Language`` (``en``, ``ja``, ``ja-JP;q=0.9, en;q=0.8``) gets the first of
those the portal speaks; ``*`` or a language the portal does not speak leaves the company's.
Cookies and the server's default play no part: a program has no session.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header


def answer_language(request, tenant) -> str:
    for accepted, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if accepted == "*":
            break
        try:
            return translation.get_supported_language_variant(accepted)
        except LookupError:
            continue
    return tenant.language
