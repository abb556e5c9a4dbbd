"""Text is text: what a person may type into a name or a note, and what may be stored at all.

Two lines of defence, one module:

- **Input.** ``text_problem`` says why a string is not text a person typed: a NUL character, a
  lone UTF-16 surrogate (``"\\udfff"``: JSON can carry one, UTF-8 cannot encode it, so every page
  that shows it fails), or a control character (in a one-line name or label; a multi-line text
  may hold line breaks and tabs). The pages' forms (``validate_line``, ``validate_text``) and
  the API's schemas (``api/schemas.py``) call it, and so does the call-flow check
  (``callflows.flows.rules``), so the pages and the API refuse the same strings with the same
  words.
- **Storage.** ``install_storage_guard`` (``PortalConfig.ready``) makes every ``CharField``,
  ``TextField`` and ``JSONField`` of every model refuse a string the database cannot hold
  as text (NUL, surrogates) when it is written: ``save()``, ``QuerySet.update()``,
  ``bulk_create()`` and ``bulk_update()`` all pass through ``Field.get_db_prep_save``. A route
  that forgot its validator (an admin form, a task, a new endpoint) then fails with
  ``UnstorableText`` before anything is written, instead of a 500 on PostgreSQL and a page
  that 500s for ever on SQLite. ``stored_text_repair`` mends rows stored before the guard.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext as _

_SURROGATE = re.compile("[\ud800-\udfff]")
# Line breaks and tabs are text in a multi-line field (a TTS script, a description).
_MULTILINE_ALLOWED = frozenset("\n\r\t")


def _has_surrogate(value: str) -> bool:
    return not value.isascii() and _SURROGATE.search(value) is not None


def is_storable(value: str) -> bool:
    """True when ``value`` can be stored as text by every database the portal runs on."""
    return "\x00" not in value and not _has_surrogate(value)


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is not text a person typed, in words for that person; None when it is."""
    if "\x00" in value:
        return _("It contains a NUL character (\\0), which no text may hold; remove it.")
    if _has_surrogate(value):
        return _(
            "It contains a broken character (a lone UTF-16 surrogate); type or paste the "
            "text again."
        )
    for character in value:
        if character in _MULTILINE_ALLOWED and multiline:
            continue
        if unicodedata.category(character) == "Cc":
            return _(
                "It contains a control character (U+%(code)04X); use letters, digits, "
                "punctuation and spaces."
            ) % {"code": ord(character)}
    return None


def validate_line(value: str) -> None:
    """Django validator of a one-line name, label or note (the pages' forms)."""
    problem = text_problem(value)
    if problem:
        raise ValidationError(problem, code="not_text")


def validate_text(value: str) -> None:
    """Django validator of a multi-line text (line breaks and tabs allowed)."""
    problem = text_problem(value, multiline=True)
    if problem:
        raise ValidationError(problem, code="not_text")


# --- Storage ----------------------------------------------------------------------------------


class UnstorableText(SuspiciousOperation, ValueError):
    """A string that is not text reached a model field on its way to the database.

    A ``SuspiciousOperation``: a page that meets one answers 400 (Django's handler), not 500;
    the API answers 422 naming the field (``api.v1``). Nothing of the write happened.
    """

    def __init__(self, field: str, where: str = ""):
        self.field = field
        self.where = where
        super().__init__(
            _("%(field)s cannot be stored: it holds a NUL character or a broken character.")
            % {"field": field + where}
        )


def first_unstorable(value: Any, path: str = "") -> str | None:
    """Where in ``value`` (a string, or JSON data: dicts, lists) a string cannot be stored:
    ``""`` for the value itself, ``"[2].label"`` inside it; None when all of it can."""
    if isinstance(value, str):
        return None if is_storable(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not is_storable(key):
                return f"{path}.<key>"
            found = first_unstorable(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = first_unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _guarded(get_db_prep_save):
    def get_db_prep_save_checked(self, value, connection):
        if isinstance(value, (str, dict, list, tuple)):
            where = first_unstorable(value)
            if where is not None:
                model = getattr(self, "model", None)
                name = f"{model.__name__}.{self.name}" if model is not None else str(self.name)
                raise UnstorableText(name, where)
        return get_db_prep_save(self, value, connection)

    get_db_prep_save_checked.storage_guard = True  # type: ignore[attr-defined]
    return get_db_prep_save_checked


def install_storage_guard() -> None:
    """Every text and JSON field refuses NUL and surrogates on write (idempotent)."""
    for field_class in (models.CharField, models.TextField, models.JSONField):
        current = field_class.__dict__.get("get_db_prep_save")
        if current is not None and getattr(current, "storage_guard", False):
            continue
        inherited = field_class.get_db_prep_save
        field_class.get_db_prep_save = _guarded(inherited)  # type: ignore[method-assign]


# --- Repair -----------------------------------------------------------------------------------


def repaired(value: Any) -> Any:
    """``value`` with NUL characters removed and surrogates replaced by U+FFFD (JSON too)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {repaired(key): repaired(item) for key, item in value.items()}
    if isinstance(value, list):
        return [repaired(item) for item in value]
    return value


def stored_text_repair(apps, schema_editor, *, app_labels: tuple[str, ...]) -> int:
    """Mend every text and JSON value of ``app_labels``' models stored before the guard;
    returns how many rows changed. For a data migration (historical models).

    PostgreSQL never stored such values (it refuses NUL and invalid UTF-8 in text and jsonb:
    the request failed instead), so there is nothing to look at there. SQLite stored them:
    NUL in text columns, ``\\u0000`` and lone ``\\udfff`` escapes inside JSON.
    """
    if schema_editor.connection.vendor == "postgresql":
        return 0
    changed = 0
    for app_label in app_labels:
        for model in apps.get_app_config(app_label).get_models():
            fields = [
                field
                for field in model._meta.concrete_fields
                if isinstance(field, (models.CharField, models.TextField, models.JSONField))
            ]
            if not fields:
                continue
            names = [field.name for field in fields]
            manager = model._base_manager.using(schema_editor.connection.alias)
            fixes = []
            for row in manager.values_list("pk", *names).iterator(chunk_size=2000):
                fixed = {
                    name: repaired(value)
                    for name, value in zip(names, row[1:], strict=True)
                    if first_unstorable(value) is not None
                }
                if fixed:
                    fixes.append((row[0], fixed))
            # A changed row is a changed row: the edge's watcher reloads a published flow
            # whose updated_at moved (callflows.edge.runtime).
            stamp = (
                {"updated_at": Now()}
                if "updated_at" in {f.name for f in model._meta.fields}
                else {}
            )
            for pk, fixed in fixes:
                manager.filter(pk=pk).update(**fixed, **stamp)
            changed += len(fixes)
    return changed
