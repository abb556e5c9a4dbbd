"""Caller lists (numbers normalised to E.164, errors by line) and closed dates."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from callflows.assets import caller_lists as caller_list_services
from callflows.assets import library as asset_library
from callflows.assets.caller_lists import CallerNumbersInvalid, caller_numbers_parse
from callflows.flows import publishing
from callflows.models import CallerList, CallFlow, ClosedDate, TtsScript
from callflows.tests.factories import published_compiled
from dins.tests.factories import SubscriptionFactory
from portal.models import AuditEvent
from portal.scoping import scopes_disabled, tenant_scope

NEXT_YEAR = timezone.localdate().year + 1


def give_flow(subscription, document):
    with tenant_scope(subscription.tenant):
        return CallFlow.objects.create(
            tenant=subscription.tenant, subscription=subscription, document=document
        )


def list_flow(caller_list) -> dict:
    return {
        "rules": [
            {
                "label": "VIP",
                "when": {"type": "caller_list", "list": str(caller_list.code)},
                "then": {"type": "transfer", "number": "+81312345678"},
            }
        ],
        "default": {"type": "voicemail", "greeting": None},
    }


def make_list(tenant, *, name="VIP", numbers=("+819012345678",)) -> CallerList:
    with tenant_scope(tenant):
        return CallerList.objects.create(tenant=tenant, name=name, numbers=list(numbers))


def audit_actions(tenant) -> list[str]:
    with tenant_scope(tenant):
        return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


@pytest.fixture
def invalidated(monkeypatch):
    """Tokens of the numbers whose flows were published again (in the change's transaction)."""
    tokens: list[str] = []
    publish = publishing.flow_publish

    def recording(*, subscription):
        tokens.append(subscription.action_token)
        return publish(subscription=subscription)

    monkeypatch.setattr(publishing, "flow_publish", recording)
    return tokens


# --- Caller lists ---------------------------------------------------------------------------


def test_it_normalises_numbers_to_e164_in_order_without_duplicates():
    text = "090-1234-5678\n\n  +81 3-1234-5678 \n03 1234 5678\n+1 (415) 555-0123\n09012345678\n"

    assert caller_numbers_parse(text) == ["+819012345678", "+81312345678", "+14155550123"]


def test_it_reports_every_bad_line_by_its_number():
    with pytest.raises(CallerNumbersInvalid) as raised:
        caller_numbers_parse("090-1234-5678\nTanaka\n\n12\n+81 3-1234-5678\n+999 123\n")

    assert [message.split(":")[0] for message in raised.value.messages] == [
        "Line 2",
        "Line 4",
        "Line 6",
    ]
    assert "“Tanaka” is not a valid phone number" in raised.value.messages[0]


def test_it_saves_a_caller_list_from_the_form(client, personas):
    client.force_login(personas.staff_a)

    response = client.post(
        reverse("caller_list_create"), {"name": "VIP", "numbers": "090-1234-5678\n+14155550123"}
    )

    assert response.status_code == 302
    with tenant_scope(personas.tenant_a):
        caller_list = CallerList.objects.get()
    assert caller_list.numbers == ["+819012345678", "+14155550123"]
    assert audit_actions(personas.tenant_a) == ["callerlist.create"]


def test_it_shows_line_numbered_errors_and_keeps_the_text(client, personas):
    client.force_login(personas.staff_a)

    response = client.post(
        reverse("caller_list_create"), {"name": "VIP", "numbers": "090-1234-5678\n0901234\n"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 2: “0901234” is not a valid phone number." in page
    assert "090-1234-5678\n0901234" in page  # what was typed is still there to fix
    with tenant_scope(personas.tenant_a):
        assert not CallerList.objects.exists()
    assert audit_actions(personas.tenant_a) == []


def test_it_recompiles_the_flows_of_a_changed_list(
    client, personas, invalidated, django_capture_on_commit_callbacks
):
    caller_list = make_list(personas.tenant_a)
    number = SubscriptionFactory(tenant=personas.tenant_a)
    give_flow(number, list_flow(caller_list))
    SubscriptionFactory(tenant=personas.tenant_a)  # a number without a flow: untouched
    client.force_login(personas.staff_a)

    invalidated.clear()  # what setting up published
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("caller_list_edit", args=[caller_list.code]),
            {"name": "VIP", "numbers": "080-9999-0000"},
        )

    assert response.status_code == 302
    assert invalidated == [number.action_token]
    compiled = published_compiled(number.action_token)
    assert compiled["rules"][0]["when"]["numbers"] == ["818099990000"]
    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get(action="callerlist.update")
    assert event.before["numbers"] == ["+819012345678"]
    assert event.after["numbers"] == ["+818099990000"]


def test_it_refuses_to_delete_a_list_in_use_and_names_the_number(client, personas):
    caller_list = make_list(personas.tenant_a, name="Blocked")
    give_flow(
        SubscriptionFactory(tenant=personas.tenant_a, din="815055550000"), list_flow(caller_list)
    )
    client.force_login(personas.staff_a)

    response = client.post(reverse("caller_list_delete", args=[caller_list.code]), follow=True)

    assert (
        "“Blocked” cannot be deleted: the call flow of 050-5555-0000 uses it."
        in response.content.decode()
    )
    with tenant_scope(personas.tenant_a):
        assert CallerList.objects.filter(pk=caller_list.pk).exists()


def test_it_deletes_an_unused_list(client, personas):
    caller_list = make_list(personas.tenant_a, name="Old")
    client.force_login(personas.staff_a)

    client.post(reverse("caller_list_delete", args=[caller_list.code]))

    with tenant_scope(personas.tenant_a):
        assert not CallerList.objects.exists()
    assert audit_actions(personas.tenant_a) == ["callerlist.delete"]


def test_it_lists_caller_lists_with_their_size_and_users(client, personas):
    caller_list = make_list(personas.tenant_a, numbers=["+819012345678", "+819012345679"])
    give_flow(
        SubscriptionFactory(tenant=personas.tenant_a, din="815066660000"), list_flow(caller_list)
    )
    make_list(personas.tenant_b, name="Beta secret")
    client.force_login(personas.viewer_a)

    page = client.get(reverse("caller_lists")).content.decode()

    row = page.split('data-list="VIP"')[1].split("</tr>")[0]
    assert ">2</td>" in row and "050-6666-0000" in row
    assert "Beta secret" not in page
    assert reverse("caller_list_create") not in page


# --- Closed dates ---------------------------------------------------------------------------


def test_it_adds_a_closed_date_and_recompiles_every_flow(
    client, personas, invalidated, django_capture_on_commit_callbacks
):
    with_flows = [SubscriptionFactory(tenant=personas.tenant_a) for _ in range(2)]
    closed_on_holidays = {
        "rules": [{"label": "Closed", "when": {"type": "holiday"}, "then": {"type": "voicemail"}}],
        "default": {"type": "voicemail", "greeting": None},
    }
    for number in with_flows:
        give_flow(number, closed_on_holidays)
    SubscriptionFactory(tenant=personas.tenant_a)  # no flow of its own
    give_flow(
        SubscriptionFactory(tenant=personas.tenant_b),
        {"rules": [], "default": {"type": "voicemail"}},
    )
    client.force_login(personas.staff_a)

    invalidated.clear()  # what setting up published
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("closed_date_add"), {"date": f"{NEXT_YEAR}-08-13", "note": "Obon"}
        )

    assert response.status_code == 302
    assert sorted(invalidated) == sorted(number.action_token for number in with_flows)
    with tenant_scope(personas.tenant_a):
        closed = ClosedDate.objects.get()
    assert (closed.date, closed.note) == (datetime.date(NEXT_YEAR, 8, 13), "Obon")
    assert audit_actions(personas.tenant_a) == ["closeddate.create"]
    compiled = published_compiled(with_flows[0].action_token)
    assert f"{NEXT_YEAR}-08-13" in compiled["rules"][0]["when"]["dates"]


@pytest.mark.parametrize(
    "date,message",
    [(f"{NEXT_YEAR}-12-29", "is already a closed date"), ("2001-01-01", "is in the past")],
)
def test_it_refuses_a_duplicate_or_past_closed_date(client, personas, date, message):
    with tenant_scope(personas.tenant_a):
        ClosedDate.objects.create(
            tenant=personas.tenant_a, date=datetime.date(NEXT_YEAR, 12, 29), note="Year end"
        )
    client.force_login(personas.staff_a)

    response = client.post(reverse("closed_date_add"), {"date": date, "note": "Again"})

    assert response.status_code == 400
    assert message in response.content.decode()
    with tenant_scope(personas.tenant_a):
        assert ClosedDate.objects.count() == 1
    assert audit_actions(personas.tenant_a) == []


def test_it_allows_the_same_date_in_another_company(client, personas):
    with tenant_scope(personas.tenant_b):
        ClosedDate.objects.create(tenant=personas.tenant_b, date=datetime.date(NEXT_YEAR, 5, 1))
    client.force_login(personas.staff_a)

    response = client.post(reverse("closed_date_add"), {"date": f"{NEXT_YEAR}-05-01"})

    assert response.status_code == 302
    with scopes_disabled():
        assert ClosedDate.objects.count() == 2


def test_it_removes_a_closed_date_and_recompiles_every_flow(
    client, personas, invalidated, django_capture_on_commit_callbacks
):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    give_flow(number, {"rules": [], "default": {"type": "voicemail", "greeting": None}})
    with tenant_scope(personas.tenant_a):
        closed = ClosedDate.objects.create(
            tenant=personas.tenant_a, date=datetime.date(NEXT_YEAR, 1, 2)
        )
    client.force_login(personas.staff_a)

    invalidated.clear()  # what setting up published
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("closed_date_delete", args=[closed.code]))

    with tenant_scope(personas.tenant_a):
        assert not ClosedDate.objects.exists()
    assert invalidated == [number.action_token]
    assert audit_actions(personas.tenant_a) == ["closeddate.delete"]


def test_it_shows_closed_dates_to_viewers_without_the_add_form(client, personas):
    with tenant_scope(personas.tenant_a):
        ClosedDate.objects.create(
            tenant=personas.tenant_a, date=datetime.date(NEXT_YEAR, 12, 30), note="Year end"
        )
    client.force_login(personas.viewer_a)

    page = client.get(reverse("closed_dates")).content.decode()
    refused = client.post(reverse("closed_date_add"), {"date": f"{NEXT_YEAR}-12-31"})

    assert "Year end" in page and f'data-date="{NEXT_YEAR}-12-30"' in page
    assert reverse("closed_date_add") not in page
    assert refused.status_code == 403
    with tenant_scope(personas.tenant_a):
        assert ClosedDate.objects.count() == 1


# --- Limits -----------------------------------------------------------------------------------


def test_it_refuses_more_lines_than_the_limit_before_parsing_any(monkeypatch):

    parsed = []
    monkeypatch.setattr(
        caller_list_services, "phone_parse_or_none", lambda *args: parsed.append(args) or None
    )
    text = "\n".join(
        f"090{index:08d}" for index in range(asset_library.MAX_CALLER_LIST_NUMBERS + 1)
    )

    with pytest.raises(CallerNumbersInvalid) as refused:
        caller_numbers_parse(text)

    assert "The list has 2001 lines; at most 2000 numbers are allowed." in refused.value.messages[0]
    assert parsed == []


def test_it_refuses_a_text_too_long_for_any_list_before_reading_it():
    with pytest.raises(CallerNumbersInvalid, match="at most 80000"):
        caller_numbers_parse("0" * 80_001)


def test_it_parses_a_full_list_with_duplicates_once_each():
    numbers = [f"+81901{index:07d}" for index in range(1000)]
    assert caller_numbers_parse("\n".join(numbers + numbers)) == numbers


def test_it_lists_the_first_twenty_bad_lines_and_counts_the_rest():
    with pytest.raises(CallerNumbersInvalid) as refused:
        caller_numbers_parse("\n".join(["nope"] * 500))
    assert len(refused.value.messages) == 21
    assert refused.value.messages[-1] == "…and 480 more lines are not phone numbers."


def test_the_form_shows_the_limit(client, personas):
    client.force_login(personas.staff_a)
    page = client.get(reverse("caller_list_create")).content.decode()
    assert "at most 2000 numbers" in page
    assert 'maxlength="80000"' in page


def test_it_refuses_a_list_past_the_library_limit_and_says_so(client, personas):

    limit = asset_library.LIBRARY_LIMITS["list"]
    for index in range(limit):
        make_list(personas.tenant_a, name=f"List {index}")
    client.force_login(personas.staff_a)

    response = client.post(reverse("caller_list_create"), {"name": "One more", "numbers": ""})

    assert response.status_code == 400
    assert f"Your company keeps {limit} caller lists, the most allowed." in (
        response.content.decode()
    )
    with tenant_scope(personas.tenant_a):
        assert CallerList.objects.count() == limit
    listing = client.get(reverse("caller_lists")).content.decode()
    assert f"{limit} of at most {limit}." in listing


def test_it_refuses_a_closed_date_beyond_the_planning_horizon(client, personas):
    from callflows.assets.closed_dates import closed_date_horizon

    client.force_login(personas.staff_a)
    horizon = closed_date_horizon()
    too_far = horizon + datetime.timedelta(days=1)

    response = client.post(reverse("closed_date_add"), {"date": too_far.isoformat()})

    assert response.status_code == 400
    assert f"closed dates can be set up to {horizon.isoformat()}" in response.content.decode()
    assert client.post(reverse("closed_date_add"), {"date": horizon.isoformat()}).status_code == 302
    page = client.get(reverse("closed_dates")).content.decode()
    assert f'max="{horizon.isoformat()}"' in page


def test_it_closes_a_whole_period_and_every_day_of_it_answers_as_a_holiday(
    client, personas, time_machine
):
    time_machine.move_to(datetime.datetime(NEXT_YEAR - 1, 12, 1, 12, 0, tzinfo=datetime.UTC))
    number = SubscriptionFactory(tenant=personas.tenant_a)
    give_flow(
        number,
        {
            "rules": [
                {"label": "Closed", "when": {"type": "holiday"}, "then": {"type": "voicemail"}}
            ],
            "default": {"type": "voicemail", "greeting": None},
        },
    )
    client.force_login(personas.staff_a)

    # when the New Year holidays are added as one period
    response = client.post(
        reverse("closed_date_add"),
        {"date": f"{NEXT_YEAR - 1}-12-29", "end_date": f"{NEXT_YEAR}-01-03", "note": "年末年始"},
    )

    # then every day of it is a closed day for the flows, and the page shows the period
    assert response.status_code == 302
    compiled = published_compiled(number.action_token)
    dates = set(compiled["rules"][0]["when"]["dates"])
    assert {f"{NEXT_YEAR - 1}-12-{day}" for day in (29, 30, 31)} <= dates
    assert {f"{NEXT_YEAR}-01-0{day}" for day in (2, 3)} <= dates
    page = client.get(reverse("closed_dates")).content.decode()
    assert "6 days" in page and "年末年始" in page

    # and a period overlapping it is refused, saying with what
    response = client.post(
        reverse("closed_date_add"),
        {"date": f"{NEXT_YEAR}-01-02", "end_date": f"{NEXT_YEAR}-01-05"},
    )
    assert response.status_code == 400
    assert "This overlaps closed dates already set" in response.content.decode()
    reversed_range = client.post(
        reverse("closed_date_add"),
        {"date": f"{NEXT_YEAR}-02-10", "end_date": f"{NEXT_YEAR}-02-01"},
    )
    assert "The last day is before the first day." in reversed_range.content.decode()


@pytest.mark.parametrize("typed", ["VIP", "vip", "\uff36\uff29\uff30", "VIP "])
def test_a_second_list_with_the_same_name_for_a_person_is_refused(client, personas, typed):
    # given a list named "VIP" (full-width, as a Japanese input method may type it, is VIP too)
    client.force_login(personas.staff_a)
    first = client.post(reverse("caller_list_create"), {"name": "VIP", "numbers": "090-1234-5678"})
    assert first.status_code == 302

    response = client.post(reverse("caller_list_create"), {"name": typed, "numbers": ""})

    assert response.status_code == 400
    assert "A caller list named “VIP” already exists" in response.content.decode()
    with scopes_disabled():
        assert list(CallerList.objects.values_list("name", flat=True)) == ["VIP"]


def test_a_list_renamed_to_another_lists_name_is_refused_and_scripts_too(client, personas):
    client.force_login(personas.staff_a)
    for name in ("VIP", "迷惑電話"):
        client.post(reverse("caller_list_create"), {"name": name, "numbers": ""})
    with scopes_disabled():
        other = CallerList.objects.get(name="迷惑電話")

    renamed = client.post(
        reverse("caller_list_edit", args=[other.code]), {"name": "vip", "numbers": ""}
    )
    for name in ("お知らせ", "おしらせ", "お知らせ"):
        last = client.post(
            reverse("script_create"), {"name": name, "language": "ja", "text": "本日は休診です。"}
        )

    assert renamed.status_code == 400
    other.refresh_from_db()
    assert other.name == "迷惑電話"
    assert last.status_code == 400  # the third, "お知らせ" again; "おしらせ" is another name
    with scopes_disabled():
        assert sorted(TtsScript.objects.values_list("name", flat=True)) == ["おしらせ", "お知らせ"]
