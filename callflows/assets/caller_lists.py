"""Caller lists (VIPs, blocked callers): numbers as people write them, parsed in linear time
within a stated limit."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from callflows.assets.library import (
    MAX_CALLER_LIST_CHARACTERS,
    MAX_CALLER_LIST_NUMBERS,
    MAX_LINE_ERRORS_SHOWN,
    duplicate_name_message,
    refuse_delete_while_used,
    refuse_duplicate_name,
    refuse_when_library_full,
    republish_flows_of,
)
from callflows.assets.selectors import CALLER_LIST, asset_users
from callflows.models import CallerList
from portal.names import name_key
from portal.phone import parse_or_none as phone_parse_or_none
from portal.scoping import current_tenant
from portal.services import ServiceError, audit_record

# --- Caller lists ---------------------------------------------------------------------------


class CallerNumbersInvalid(ServiceError):
    """Some lines are not phone numbers; ``messages`` has one message per bad line."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


def caller_numbers_parse(text: str) -> list[str]:
    """The numbers of ``text`` (one a line) in E.164, in order, without duplicates.

    A number without a country code is read as Japanese (090-1234-5678, 03 1234 5678); others
    start with "+". Blank lines are skipped; bad lines are reported by their line number (the
    first ``MAX_LINE_ERRORS_SHOWN``, then how many more). Linear in the length of the text, and
    a text of more than ``MAX_CALLER_LIST_NUMBERS`` lines is refused before any is parsed.
    """
    if len(text) > MAX_CALLER_LIST_CHARACTERS:
        raise CallerNumbersInvalid(
            [
                _("The text has %(count)d characters; a list holds at most %(limit)d.")
                % {"count": len(text), "limit": MAX_CALLER_LIST_CHARACTERS}
            ]
        )
    entries = [
        (line_number, line.strip())
        for line_number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if len(entries) > MAX_CALLER_LIST_NUMBERS:
        raise CallerNumbersInvalid(
            [
                _(
                    "The list has %(count)d lines; at most %(limit)d numbers are allowed. "
                    "Split it into several lists."
                )
                % {"count": len(entries), "limit": MAX_CALLER_LIST_NUMBERS}
            ]
        )
    numbers: dict[str, None] = {}  # insertion-ordered: first occurrence wins, O(1) per line
    errors: list[str] = []
    bad_lines = 0
    for line_number, entry in entries:
        number = phone_parse_or_none(entry)  # any common written form (portal.phone)
        if number is None:
            bad_lines += 1
            if len(errors) < MAX_LINE_ERRORS_SHOWN:
                shown = entry if len(entry) <= 40 else entry[:40] + "…"
                errors.append(
                    # The form's help text explains the accepted formats once, not every line.
                    _("Line %(line)d: “%(entry)s” is not a valid phone number.")
                    % {"line": line_number, "entry": shown}
                )
            continue
        numbers[number] = None
    if bad_lines > len(errors):
        errors.append(
            ngettext(
                "…and %(count)d more line is not a phone number.",
                "…and %(count)d more lines are not phone numbers.",
                bad_lines - len(errors),
            )
            % {"count": bad_lines - len(errors)}
        )
    if errors:
        raise CallerNumbersInvalid(errors)
    return list(numbers)


def _caller_list_values(caller_list: CallerList) -> dict:
    return {"name": caller_list.name, "numbers": list(caller_list.numbers)}


def caller_list_create(*, name: str, numbers: list[str], request) -> CallerList:
    refuse_when_library_full(CALLER_LIST)
    refuse_duplicate_name(CALLER_LIST, name)
    try:
        with transaction.atomic():
            caller_list = CallerList.objects.create(
                tenant=current_tenant(), name=name, name_key=name_key(name), numbers=numbers
            )
            audit_record(
                action="callerlist.create",
                obj=caller_list,
                request=request,
                after=_caller_list_values(caller_list),
            )
    except IntegrityError:  # the same name saved by someone else in the same instant
        raise ServiceError(duplicate_name_message(CALLER_LIST, name)) from None
    return caller_list


def caller_list_update(
    *, caller_list: CallerList, name: str, numbers: list[str], request
) -> CallerList:
    before = _caller_list_values(caller_list)
    after = {"name": name, "numbers": list(numbers)}
    if after == before:
        return caller_list
    refuse_duplicate_name(CALLER_LIST, name, instead_of=caller_list)
    with transaction.atomic():
        caller_list.name, caller_list.numbers = name, list(numbers)
        caller_list.name_key = name_key(name)
        caller_list.save(update_fields=["name", "name_key", "numbers", "updated_at"])
        audit_record(
            action="callerlist.update", obj=caller_list, request=request, before=before, after=after
        )
        republish_flows_of(asset_users(kind=CALLER_LIST, code=caller_list.code, live_only=False))
    return caller_list


def caller_list_delete(*, caller_list: CallerList, request) -> None:
    refuse_delete_while_used(kind=CALLER_LIST, asset=caller_list, label=caller_list.name)
    with transaction.atomic():
        republish_flows_of(asset_users(kind=CALLER_LIST, code=caller_list.code, live_only=False))
        audit_record(
            action="callerlist.delete",
            obj=caller_list,
            request=request,
            before=_caller_list_values(caller_list),
        )
        caller_list.delete()
