"""Call flows: saving (versioned, audited), compiling for the action URL, invalidating caches."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callflows import commands
from callflows.flow import (
    FlowError,
    caller_digits,
    check_document,
    minutes_of,
    normalise_transfer,
)
from callflows.models import AudioFile, CallerList, CallFlow, FlowVersion, TtsScript
from dins.models import Status, Subscription
from portal.scoping import scopes_disabled, tenant_scope
from portal.services import ServiceError, audit_record

# A number without a flow of its own answers this: a caller can always leave a message.
DEFAULT_DOCUMENT = {"rules": [], "default": {"type": "voicemail", "greeting": None}}


def flow_cache():
    """Shared by every process: Redis in production, files under var/ in the embedded default."""
    return caches["flows"]


# Bumped by every change: a process learns "nothing changed anywhere" from one GET (runtime.py).
GENERATION_KEY = "af:generation"


def stamp_key(token: str) -> str:
    return f"af:v:{token}"


def compiled_key(token: str) -> str:
    return f"af:c:{token}"


def flow_invalidate(*, token: str) -> None:
    """This process rebuilds at once, every other within the staleness window (runtime.py)."""
    from callflows import runtime

    cache = flow_cache()
    cache.set(stamp_key(token), uuid.uuid4().hex, None)
    cache.delete(compiled_key(token))
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    runtime.forget_token(token)


# --- Compiling --------------------------------------------------------------------------------


def audio_public_url(audio: AudioFile) -> str:
    return f"{settings.PUBLIC_BASE_URL}/media/audio/{audio.public_id}.mp3"


class _Resolver:
    """Turns one tenant's document references into answer lines (all of it, or FlowError)."""

    def __init__(self, tenant, own_number: str = ""):
        self.tenant = tenant
        self.own_number = own_number

    def action(self, then: dict, path: str) -> str:
        kind = then["type"]
        if kind == "playback":
            return commands.playback(audio_public_url(self._get(AudioFile, then["audio"], path)))
        if kind == "say":
            script = self._get(TtsScript, then["script"], path)
            return commands.say(script.language, script.text)
        if kind == "transfer":
            try:
                number = normalise_transfer(
                    then["number"],
                    own_number=self.own_number,
                    allow_international=self.tenant.allow_international_transfer,
                )
            except ValueError as error:
                raise FlowError(path, str(error)) from None
            return commands.transfer(number)
        greeting = then.get("greeting")
        return commands.voicemail(self.action(greeting, f"{path}.greeting") if greeting else None)

    def condition(self, when: dict, path: str) -> dict:
        kind = when["type"]
        if kind == "hours":
            return {
                "type": kind,
                "weekdays": sorted(set(when["weekdays"])),
                "start": minutes_of(when["start"], path),
                "end": minutes_of(when["end"], path),
            }
        if kind == "holiday":
            return {"type": kind, "dates": sorted(self.closed_dates())}
        if kind == "caller_list":
            numbers = self._get(CallerList, when["list"], path).numbers
            return {"type": kind, "numbers": sorted({caller_digits(n) for n in numbers} - {""})}
        return {"type": kind}

    def closed_dates(self) -> set[str]:
        """Japanese public holidays of this year and next, and the tenant's closed dates."""
        from callflows.closed import closed_dates_for_tenant

        return closed_dates_for_tenant()

    @staticmethod
    def _get(model, code, path):
        try:
            return model.objects.get(code=code)
        except (model.DoesNotExist, ValidationError, ValueError):
            raise FlowError(path, f"{model._meta.verbose_name} not found") from None


def flow_compile(document: dict, *, tenant, own_number: str = "", override=None) -> dict:
    """Resolve and render a document: the plain data the action URL evaluates."""
    check_document(document)
    resolve = _Resolver(tenant, own_number)
    compiled = {
        "tz": tenant.timezone,
        "rules": [
            {
                "label": rule.get("label") or f"#{index + 1}",
                "when": resolve.condition(rule["when"], f"rules[{index}].when"),
                "command": resolve.action(rule["then"], f"rules[{index}].then"),
            }
            for index, rule in enumerate(document["rules"])
        ],
        "default": resolve.action(document["default"], "default"),
        "override": None,
    }
    if override is not None:
        action, until = override
        compiled["override"] = {
            "command": resolve.action(action, "override"),
            "until": until.timestamp(),
        }
    return compiled


def flow_build_for_token(token: str) -> dict | None:
    """The compiled flow behind an action-URL token, or None if the token answers nothing.

    Only active numbers answer; a released or unknown token gives None (404). The one place
    the action URL touches the database, and only on a cache miss.
    """
    with scopes_disabled():
        subscription = (
            Subscription.objects.select_related("tenant", "call_flow")
            .filter(action_token=token, status=Status.ACTIVE)
            .first()
        )
    if subscription is None:
        return None
    with tenant_scope(subscription.tenant):
        flow = getattr(subscription, "call_flow", None)
        document = flow.document if flow else DEFAULT_DOCUMENT
        override = None
        if flow and flow.override_document and flow.override_until:
            override = (flow.override_document, flow.override_until)
        compiled = flow_compile(
            document, tenant=subscription.tenant, own_number=subscription.e164, override=override
        )
    compiled.update(
        tenant_id=subscription.tenant_id,
        subscription_id=subscription.pk,
        version=flow.version if flow else 0,
    )
    return compiled


# --- Saving -----------------------------------------------------------------------------------


def flow_save(
    *, subscription: Subscription, document: dict, by, request=None, note: str = ""
) -> CallFlow:
    """Validate (references included), store as a new version, audit, invalidate caches."""
    try:
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
            note=note[:200],
        )
        audit_record(
            action="callflow.save",
            obj=subscription,
            actor=by,
            request=request,
            before=before,
            after=document,
        )
        token = subscription.action_token
        transaction.on_commit(lambda: flow_invalidate(token=token))
    return flow


def flow_set_override(
    *, subscription: Subscription, action: dict | None, until: datetime.datetime | None, request
) -> None:
    """Answer ``action`` until ``until`` whatever the rules say ("closed now until 9:00")."""
    if action is not None:
        if until is None or until <= timezone.now():
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
        token = subscription.action_token
        transaction.on_commit(lambda: flow_invalidate(token=token))
