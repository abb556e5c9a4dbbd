"""Read side of the call-flow assets: MP3s, TTS scripts, caller lists, closed dates.

"Used by" is answered from the flows themselves: each number's ``CallFlow.document`` (and its
``override_document``, which holds one action) names assets by code. One query reads every
flow of the tenant, so the list pages cost the same whatever the number of assets or numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from callflows.models import AudioFile, CallerList, CallFlow, ClosedDate, TtsScript
from dins.models import LIVE_STATUSES, Subscription
from portal.scoping import scopes_disabled

# The kinds of reference a flow document makes, keyed as ``FlowReferences`` fields.
AUDIO, SCRIPT, CALLER_LIST = "audio", "script", "list"


@dataclass
class FlowReferences:
    """The asset codes one document names, and whether it asks about closed dates."""

    audio: set[str] = field(default_factory=set)
    script: set[str] = field(default_factory=set)
    list: set[str] = field(default_factory=set)
    holiday: bool = False

    def of_kind(self, kind: str) -> set[str]:
        return getattr(self, kind)


def flow_references(document) -> FlowReferences:
    """Every asset a flow document (or a lone override action) refers to.

    Deliberately lenient: a malformed document (it was saved by an older editor, or by hand)
    yields what can be read instead of failing, because deletion checks must not crash on it.
    """
    found = FlowReferences()

    def walk(node) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "playback" and node.get("audio"):
            found.audio.add(str(node["audio"]))
        elif kind == "say" and node.get("script"):
            found.script.add(str(node["script"]))
        elif kind == "caller_list" and node.get("list"):
            found.list.add(str(node["list"]))
        elif kind == "holiday":
            found.holiday = True
        for value in node.values():
            if isinstance(value, dict | list):
                walk(value)

    walk(document)
    return found


@dataclass(frozen=True)
class FlowOfNumber:
    subscription: Subscription
    references: FlowReferences


def flows_of_tenant(*, live_only: bool = False) -> list[FlowOfNumber]:
    """The active tenant's call flows with what each refers to (one query)."""
    flows = CallFlow.objects.select_related("subscription").order_by("subscription__din")
    if live_only:
        flows = flows.filter(subscription__status__in=LIVE_STATUSES)
    result = []
    for flow in flows:
        references = flow_references(flow.document)
        if flow.override_document:
            # An expired override is still compiled (callflows.flows.publishing.flow_build),
            # so it counts as a use until it is cleared.
            override = flow_references(flow.override_document)
            references.audio |= override.audio
            references.script |= override.script
            references.list |= override.list
            references.holiday |= override.holiday
        result.append(FlowOfNumber(subscription=flow.subscription, references=references))
    return result


def asset_users(*, kind: str, code, live_only: bool = True) -> list[Subscription]:
    """The numbers whose call flow refers to the asset ``code`` of ``kind`` (audio, script, list).

    ``live_only`` leaves out released and failed numbers: their flows answer no call any more,
    so they neither block a deletion nor appear as "used by".
    """
    code = str(code)
    return [
        flow.subscription
        for flow in flows_of_tenant(live_only=live_only)
        if code in flow.references.of_kind(kind)
    ]


def _users_by_code(kind: str) -> dict[str, list[Subscription]]:
    users = defaultdict(list)
    for flow in flows_of_tenant(live_only=True):
        for code in sorted(flow.references.of_kind(kind)):
            users[code].append(flow.subscription)
    return users


_Asset = TypeVar("_Asset", AudioFile, TtsScript, CallerList)


@dataclass(frozen=True)
class AssetRow(Generic[_Asset]):
    """One line of an asset list page: the asset and the live numbers whose flow uses it."""

    asset: _Asset
    used_by: list[Subscription]


def _rows(assets: Iterable[_Asset], kind: str) -> list[AssetRow[_Asset]]:
    users = _users_by_code(kind)
    return [AssetRow(asset=asset, used_by=users.get(str(asset.code), [])) for asset in assets]


def audio_list() -> list[AssetRow[AudioFile]]:
    return _rows(AudioFile.objects.select_related("uploaded_by"), AUDIO)


def script_list() -> list[AssetRow[TtsScript]]:
    return _rows(TtsScript.objects.all(), SCRIPT)


def caller_list_list() -> list[AssetRow[CallerList]]:
    return _rows(CallerList.objects.all(), CALLER_LIST)


def closed_date_list():
    return ClosedDate.objects.all()


def audio_by_public_id(public_id: str) -> AudioFile | None:
    """The audio row behind a public MP3 URL, across tenants (the URL names no tenant).

    The caller has already checked the shape of ``public_id``.
    """
    with scopes_disabled():
        return AudioFile.objects.filter(public_id=public_id).first()
