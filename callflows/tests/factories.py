"""Rows of the call-flow app for tests (registered for the tenant-isolation walk)."""

from decimal import Decimal
from pathlib import Path

import factory
from django.core.files.base import ContentFile

from callflows.flows.compiler import DEFAULT_DOCUMENT
from callflows.models import (
    AudioFile,
    AudioUpload,
    CallerList,
    CallFlow,
    ClosedDate,
    FlowVersion,
    OutboundCall,
    PublishedFlow,
    TtsScript,
)
from dins.tests.factories import SubscriptionFactory
from portal.scoping import scopes_disabled, tenant_scope
from testing.scaffolding import TenantOwnedFactory, tenant_object_factory

SAMPLES = Path(__file__).resolve().parent.parent.parent / "sandbox" / "tests" / "data"


def make_audio(tenant, *, label="Greeting", sample="greeting-en.mp3") -> AudioFile:
    data = (SAMPLES / sample).read_bytes()
    with tenant_scope(tenant):
        audio = AudioFile(tenant=tenant, label=label, size_bytes=len(data), duration_seconds=3.0)
        audio.file.save(f"{audio.public_id}.mp3", ContentFile(data), save=False)
        audio.save()
        return audio


def make_script(tenant, *, language="ja", text="お電話ありがとうございます。") -> TtsScript:
    with tenant_scope(tenant):
        return TtsScript.objects.create(tenant=tenant, name="Welcome", language=language, text=text)


@tenant_object_factory(AudioFile)
def make_audio_for_url(tenant, **related):
    return make_audio(tenant)


def make_audio_upload(tenant, *, label="Voice memo", sample="greeting-en.mp3", user=None):
    """A recording converted and waiting to be saved (its MP3 is a sample's bytes)."""
    data = (SAMPLES / sample).read_bytes()
    with tenant_scope(tenant):
        upload = AudioUpload(
            tenant=tenant,
            label=label,
            original_name="memo.m4a",
            source_bytes=len(data),
            status=AudioUpload.Status.READY,
            source_seconds=4.5,
            duration_seconds=3.0,
            size_bytes=len(data),
            uploaded_by=user,
        )
        upload.source.save("source", ContentFile(data), save=False)
        upload.result.save("result.mp3", ContentFile(data), save=False)
        upload.save()
        return upload


@tenant_object_factory(AudioUpload)
def make_audio_upload_for_url(tenant, **related):
    return make_audio_upload(tenant)


@tenant_object_factory(TtsScript)
def make_script_for_url(tenant, **related):
    return make_script(tenant)


@tenant_object_factory(FlowVersion)
def make_flow_version(tenant, *, subscription=None, **related):
    """A saved flow of ``subscription`` (the number earlier in the URL), or of a new number."""
    from dins.tests.factories import SubscriptionFactory

    subscription = subscription or SubscriptionFactory(tenant=tenant)
    with tenant_scope(tenant):
        flow, _created = CallFlow.objects.get_or_create(
            tenant=tenant, subscription=subscription, defaults={"document": DEFAULT_DOCUMENT}
        )
        return FlowVersion.objects.create(
            tenant=tenant, flow=flow, number=flow.versions.count() + 1, document=DEFAULT_DOCUMENT
        )


@tenant_object_factory(CallerList)
def make_caller_list(tenant, **related):
    with tenant_scope(tenant):
        return CallerList.objects.create(tenant=tenant, name="VIP", numbers=["+819012345678"])


@tenant_object_factory(ClosedDate)
def make_closed_date(tenant, **related):
    with tenant_scope(tenant):
        return ClosedDate.objects.create(tenant=tenant, date="2026-12-29", note="Year end")


def published_compiled(token: str) -> dict | None:
    """What the edge would read for ``token``: the compiled flow last published, or None."""
    with scopes_disabled():
        row = PublishedFlow.objects.filter(token=token).first()
    return row.compiled if row else None


class OutboundCallFactory(TenantOwnedFactory):
    class Meta:
        model = OutboundCall

    subscription = factory.LazyAttribute(lambda o: SubscriptionFactory(tenant=o.tenant))
    recipient = "+818012345678"
    caller_id_used = factory.LazyAttribute(lambda o: o.subscription.e164)
    caller_sent = factory.LazyAttribute(lambda o: o.subscription.e164)
    local_caller_id = True
    message_kind = OutboundCall.MessageKind.TEXT
    tts_text = "こんにちは"
    tts_lang = "ja"
    estimated_minute_cost = Decimal("15")
    status = OutboundCall.Status.IN_PROGRESS
    callid = factory.Sequence(lambda n: f"test-call-{n:08d}")


@tenant_object_factory(OutboundCall)
def make_outbound_call(tenant, **related):
    subscription = related.get("subscription") or SubscriptionFactory(tenant=tenant)
    return OutboundCallFactory(tenant=tenant, subscription=subscription)
