"""Call flows: saving (versioned, audited), the override, and publishing every saved change
(``callflows.flows.publishing``)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callflows.flows.compiler import DEFAULT_DOCUMENT, flow_compile
from callflows.flows.documents import Action, FlowDocument, Problem
from callflows.flows.publishing import flow_publish
from callflows.flows.rules import FlowError, check_document_keys
from callflows.flows.selectors import not_answering_reason
from callflows.models import CallFlow, FlowVersion
from dins.models import Subscription
from portal.fields import DATE_MAX, DATE_MIN, datetime_range_problem
from portal.services import InvalidInput, ServiceError, audit_record
from portal.text import text_problem

# --- Saving -----------------------------------------------------------------------------------


def flow_check(*, subscription: Subscription, document: FlowDocument) -> list[Problem]:
    """What keeps ``document`` from being saved (``flow_save``'s own compile, run to the end):
    ``[{"where": "rules[1].then", "why": …}, …]``, empty when it can be saved. Saves nothing."""
    problems: list[Problem] = []
    try:
        check_document_keys(document)
    except FlowError as error:
        problems.append({"where": error.path, "why": error.message})
    flow_compile(
        document, tenant=subscription.tenant, own_number=subscription.e164, problems=problems
    )
    return problems


def _ensure_answering(subscription: Subscription) -> None:
    """A released, releasing or failed number's flow is kept to read, never changed."""
    reason = not_answering_reason(subscription)
    if reason:
        raise ServiceError(reason)


# The history note of a save (the editor's text box says the same).
MAX_NOTE_LENGTH = 200


def flow_note_clean(note: str) -> str:
    """The note of a save as stored, or ``InvalidInput``: refused, never cut, so that the
    editor shows what was typed and nothing is lost."""
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(
            _("The note has %(count)d characters; at most %(limit)d are allowed.")
            % {"count": len(note), "limit": MAX_NOTE_LENGTH},
            field="note",
        )
    problem = text_problem(note)
    if problem:
        raise InvalidInput(_("The note was not saved: %(why)s") % {"why": problem}, field="note")
    return note


def flow_save(
    *, subscription: Subscription, document: FlowDocument, by, request=None, note: str = ""
) -> CallFlow:
    """Validate (the note, the document with its references), store as a new version, audit,
    publish."""
    note = flow_note_clean(note)
    _ensure_answering(subscription)
    try:
        check_document_keys(document)
        flow_compile(document, tenant=subscription.tenant, own_number=subscription.e164)
    except ValueError as error:  # FlowError included
        raise ServiceError(_("The flow cannot be saved: %(why)s") % {"why": error}) from None
    with transaction.atomic():
        flow = CallFlow.objects.select_for_update().filter(subscription=subscription).first()
        before = flow.document if flow else None
        if flow is None:
            flow = CallFlow.objects.create(
                tenant=subscription.tenant, subscription=subscription, document=document
            )
        else:
            flow.document = document
            flow.version += 1
            flow.save(update_fields=["document", "version", "updated_at"])
        FlowVersion.objects.create(
            tenant=subscription.tenant,
            flow=flow,
            number=flow.version,
            document=document,
            created_by=by,
            note=note,
        )
        audit_record(
            action="callflow.save",
            obj=subscription,
            actor=by,
            request=request,
            before=before,
            after=document,
        )
        flow_publish(subscription=subscription)
    return flow


def flow_set_override(
    *,
    subscription: Subscription,
    action: Action | None,
    until: datetime.datetime | None,
    request,
) -> None:
    """Answer ``action`` until ``until`` whatever the rules say ("closed now until 9:00")."""
    _ensure_answering(subscription)
    if action is not None:
        # In the portal's dates before any comparison: 9999-12-31T23:59-14:00 has no UTC.
        if until is None or timezone.is_naive(until) or datetime_range_problem(until):
            raise ServiceError(
                _("An override needs an end with its time zone, from %(min)s to %(max)s.")
                % {"min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()}
            )
        if until <= timezone.now():
            raise ServiceError(_("An override needs an end in the future."))
        try:
            flow_compile(
                DEFAULT_DOCUMENT,
                tenant=subscription.tenant,
                own_number=subscription.e164,
                override=(action, until),
            )
        except ValueError as error:
            raise ServiceError(_("The override cannot be set: %(why)s") % {"why": error}) from None
    with transaction.atomic():
        flow = CallFlow.objects.filter(subscription=subscription).first()
        if flow is None:
            flow = CallFlow.objects.create(
                tenant=subscription.tenant, subscription=subscription, document=DEFAULT_DOCUMENT
            )
        flow.override_document, flow.override_until = action, until
        flow.version += 1
        flow.save(update_fields=["override_document", "override_until", "version", "updated_at"])
        audit_record(
            action="callflow.override" if action else "callflow.override_end",
            obj=subscription,
            request=request,
            after={"action": action, "until": until.isoformat() if until else None},
        )
        flow_publish(subscription=subscription)
