"""What the API reads and answers (pydantic, published in the OpenAPI document)."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field


class Error(Schema):
    detail: str
    code: str
    errors: list[FieldError] | None = None


class FieldError(Schema):
    field: str | None
    message: str


Error.model_rebuild()


class Number(Schema):
    code: UUID
    number: str = Field(description="E.164, e.g. +815012345678")
    label: str
    description: str
    status: str
    is_trial: bool
    trial_deadline: datetime.datetime | None
    release_at: datetime.datetime | None
    monthly_cost: str
    minute_cost: str
    trial_price: str
    next_renewal: datetime.datetime | None
    created_at: datetime.datetime


class NumberList(Schema):
    items: list[Number]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: none")


class Release(Schema):
    typed_number: str = Field(
        description="The number, typed again to confirm (+81 50…, 050-…: any spacing)",
        max_length=30,
    )


class Playback(Schema):
    type: Literal["playback"]
    audio: UUID


class Say(Schema):
    type: Literal["say"]
    script: UUID


class Transfer(Schema):
    type: Literal["transfer"]
    number: str = Field(max_length=30)


class Voicemail(Schema):
    type: Literal["voicemail"]
    greeting: Annotated[Playback | Say, Field(discriminator="type")] | None = None


Action = Annotated[Playback | Say | Transfer | Voicemail, Field(discriminator="type")]


class OverrideIn(Schema):
    until: datetime.datetime | None = Field(
        None,
        description="When the override ends (ISO 8601 with offset). Without it: the flow's "
        "next opening, as the one-tap day/night switch.",
    )
    action: Action | None = Field(
        None, description="What callers hear meanwhile. Without it: the flow's default."
    )


class OverrideState(Schema):
    active: bool
    until: datetime.datetime | None
    words: str | None = Field(None, description="What callers hear while it lasts")
    closed_until: datetime.datetime | None = Field(
        None, description="When off: until when the one-tap switch would close the number"
    )


class Flow(Schema):
    number: UUID
    version: int
    document: dict
    description: list[str] = Field(description="The rules in words, in the key's language")
    override: OverrideState
    answers_calls: bool = Field(
        description="False for a released, releasing or failed number: its flow answers no "
        "call, and replacing it or its override is refused (409)"
    )
    not_answering: str | None = Field(description="Why it answers no calls, in words")


class Preview(Schema):
    at: datetime.datetime
    caller: str
    rule: str
    words: str
    command: str
    source: str


class Call(Schema):
    code: UUID
    number: UUID
    at: datetime.datetime
    caller: str = Field(description="Digits; empty for a withheld number")
    recipient: str
    rule: str
    command: str
    source: Literal["flow", "override", "stale", "fallback"] | str
    latency_ms: float
    test: bool = Field(description="A test call from the flow page, not a caller's")


class CallPage(Schema):
    items: list[Call]
    next_cursor: str | None


class Alert(Schema):
    code: UUID
    kind: str
    title: str
    number: UUID | None
    context: dict
    created_at: datetime.datetime
    acknowledged_at: datetime.datetime | None


class AlertList(Schema):
    items: list[Alert]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: none")


class Acknowledged(Schema):
    code: UUID
    acknowledged_at: datetime.datetime | None
    changed: bool


class AudioAsset(Schema):
    code: UUID
    label: str
    duration_seconds: float
    size_bytes: int
    used_by: list[UUID]


class ScriptAsset(Schema):
    code: UUID
    name: str
    language: str
    text: str
    used_by: list[UUID]


class CallerListAsset(Schema):
    code: UUID
    name: str
    count: int
    used_by: list[UUID]


class Assets(Schema):
    audio: list[AudioAsset]
    scripts: list[ScriptAsset]
    caller_lists: list[CallerListAsset]


class OutboundCallIn(Schema):
    recipient: str = Field(max_length=30, description="E.164 or as dialled in Japan")
    message_kind: Literal["audio", "script", "text"]
    audio: UUID | None = None
    script: UUID | None = None
    text: str = Field("", max_length=500)
    tts_lang: Literal["ja", "en", ""] = ""
    local_caller_id: bool = False


class OutboundCall(Schema):
    code: UUID
    number: UUID
    recipient: str
    caller_id: str
    message_kind: str
    status: str
    duration: int | None
    cost: str | None
    failure_reason: str
    created_at: datetime.datetime
    ended_at: datetime.datetime | None


class Offer(Schema):
    din_uid: str = Field(description="What to subscribe to (POST /numbers)")
    number: str = Field(description="E.164, e.g. +815012345678")
    country_code: str
    prefix: str
    monthly_cost: str
    minute_cost: str
    trial_price: str = Field(description="What the 24-hour trial costs")


class OfferList(Schema):
    items: list[Offer]
    count: int = Field(description="Offers found (items holds at most `limit` of them)")


class SubscribeIn(Schema):
    din_uid: str = Field(max_length=100, description="An offer's din_uid")
    mode: Literal["trial", "keep"] = Field(
        description="trial: 24 hours at the trial price, released in time unless kept; "
        "keep: a normal subscription"
    )


class FlowIn(Schema):
    document: dict = Field(description="The flow document, as GET …/flow answers it")
    note: str = Field("", max_length=1000, description="What changed, for the history")


class FlowCheckIn(Schema):
    document: dict


class FlowProblem(Schema):
    where: str = Field(description="Where in the document, e.g. rules[2].then")
    why: str


class FlowCheck(Schema):
    valid: bool
    problems: list[FlowProblem]


class ScriptIn(Schema):
    name: str = Field(max_length=100)
    language: str = Field(max_length=10, description="ja or en")
    text: str = Field(max_length=5000, description="Read aloud; at most 500 characters")


class ScriptList(Schema):
    items: list[ScriptAsset]
