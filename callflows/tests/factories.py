"""Rows of the call-flow app for tests (registered for the tenant-isolation walk)."""

from pathlib import Path

from django.core.files.base import ContentFile

from callflows.models import AudioFile, CallerList, ClosedDate, TtsScript
from portal.scoping import tenant_scope
from portal.testing import tenant_object_factory

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


tenant_object_factory(AudioFile)(make_audio)
tenant_object_factory(TtsScript)(make_script)


@tenant_object_factory(CallerList)
def make_caller_list(tenant):
    with tenant_scope(tenant):
        return CallerList.objects.create(tenant=tenant, name="VIP", numbers=["+819012345678"])


@tenant_object_factory(ClosedDate)
def make_closed_date(tenant):
    with tenant_scope(tenant):
        return ClosedDate.objects.create(tenant=tenant, date="2026-12-29", note="Year end")
