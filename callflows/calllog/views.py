"""Pages of the call log: the tenant's calls, one number's calls, the CSV export.

Read-only, for every member (viewers included). Times are shown in the tenant's time zone,
which ``portal.middleware.TenantMiddleware`` activates for templates.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.forms import ChoiceField
from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from callflows.calllog import selectors as calllog
from callflows.calllog.export import call_log_csv_chunks
from callflows.flows import words
from dins.models import Subscription, SubscriptionStatus
from portal.access import get_tenant_object, member_required
from portal.fields import BoundedDateField
from portal.paging import BadCursor, KeysetPage, keyset_page
from portal.phone import display
from portal.scoping import current_tenant

PAGE_SIZE = 50
NUMBER_OPTIONS_ID = "call-number-options"


class CallFilterForm(forms.Form):
    # A search box with suggestions (a company may hold 10,000 numbers): what was typed is
    # read as people write numbers; a number's code (its page's links) works too.
    number = forms.CharField(
        label=gettext_lazy("Number"),
        required=False,
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "inputmode": "tel",
                "autocomplete": "off",
                "list": NUMBER_OPTIONS_ID,
                "placeholder": "050-1234-5678",
                "hx-get": reverse_lazy("call_log_number_options"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": f"#{NUMBER_OPTIONS_ID}",
                "hx-swap": "innerHTML",
                "hx-push-url": "false",
            }
        ),
    )
    since = BoundedDateField(label=gettext_lazy("From"), required=False)
    until = BoundedDateField(label=gettext_lazy("To"), required=False)
    caller = forms.CharField(
        label=gettext_lazy("Caller"),
        help_text=gettext_lazy("The last digits, or the number from its start (090-1234…)."),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    anonymous = forms.BooleanField(label=gettext_lazy("Anonymous only"), required=False)
    rule = forms.ChoiceField(label=gettext_lazy("Rule"), required=False)
    source = forms.ChoiceField(label=gettext_lazy("Answered by"), required=False)
    kind = forms.ChoiceField(
        label=gettext_lazy("Calls"), required=False, choices=calllog.KIND_CHOICES
    )

    def __init__(self, *args, number_box: bool, rules: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        if not number_box:  # one number's page: the number is in the URL
            del self.fields["number"]
        # A bookmarked rule that has not answered lately stays selectable.
        wanted = self.data.get("rule", "") if self.is_bound else ""
        labels = sorted({*rules, wanted} - {""})
        cast(ChoiceField, self.fields["rule"]).choices = everything + [
            (label, words.rule_name(label)) for label in labels
        ]
        cast(ChoiceField, self.fields["source"]).choices = everything + list(calllog.SOURCE_CHOICES)

    def clean_number(self) -> list[Subscription] | None:
        text = self.cleaned_data["number"].strip()
        if not text:
            return None
        try:
            code = uuid.UUID(text)
        except ValueError:
            found = calllog.call_log_numbers_for(text)
        else:
            found = list(
                Subscription.objects.filter(code=code).exclude(status=SubscriptionStatus.FAILED)
            )
        if not found:
            raise ValidationError(_("None of your numbers is %(number)s.") % {"number": text})
        return found

    def clean_caller(self) -> calllog.CallerSearch | None:
        # The log stores callers as E.164 digits ("+81 90-1234…" was logged as "8190 1234…");
        # people type Japanese numbers as they dial them (090-1234…), full-width digits too.
        text = self.cleaned_data["caller"]
        if not text.strip():
            return None
        search = calllog.caller_search(text)
        if search is None:
            raise ValidationError(_("Enter digits of a phone number."))
        if len(search.digits) < calllog.CALLER_SEARCH_MIN_DIGITS:
            raise ValidationError(
                _("Enter at least %(count)d digits.") % {"count": calllog.CALLER_SEARCH_MIN_DIGITS}
            )
        return search

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise ValidationError(_("The start date is after the end date."))
        return cleaned

    def filters(self) -> dict:
        """Keyword arguments for ``calllog.call_log_list`` from the valid fields."""
        if not self.is_bound:
            return {}
        self.is_valid()  # fields that failed are left out; the form shows why
        data = self.cleaned_data
        filters = {
            "since": data.get("since"),
            "until": data.get("until"),
            "caller": data.get("caller"),
            "anonymous": data.get("anonymous", False),
            "rule": data.get("rule", ""),
            "source": data.get("source", ""),
            "kind": data.get("kind", ""),
        }
        if data.get("number"):
            filters["subscriptions"] = data["number"]
            # The box shows the number as people write it, also when a link gave its code.
            shown = QueryDict(mutable=True)
            shown.update(self.data)
            shown["number"] = display(data["number"][0].e164)
            self.data = shown
        return filters


# --- The chart --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBar:
    day: datetime.date
    count: int
    x: float
    y: float
    height: float
    is_labelled: bool  # a date label under every 7th bar, counted back from today


CHART_WIDTH = 600
CHART_HEIGHT = 120
CHART_SLOT = CHART_WIDTH / calllog.CHART_DAYS
CHART_BAR = CHART_SLOT * 0.7


def _chart(per_day: list[calllog.DayCount]) -> dict:
    """Geometry of the inline SVG bar chart (drawn by the template, no script, no style=)."""
    peak = max((d.count for d in per_day), default=0)
    bars = []
    for index, d in enumerate(per_day):
        height = round(CHART_HEIGHT * d.count / peak, 1) if peak else 0
        bars.append(
            ChartBar(
                day=d.day,
                count=d.count,
                x=round(index * CHART_SLOT + (CHART_SLOT - CHART_BAR) / 2, 1),
                y=round(CHART_HEIGHT - height, 1),
                height=height,
                is_labelled=(len(per_day) - 1 - index) % 7 == 0,
            )
        )
    return {
        "bars": bars,
        "peak": peak,
        "total": sum(d.count for d in per_day),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "slot": round(CHART_SLOT, 1),
        "bar_width": round(CHART_BAR, 1),
        "first": per_day[0].day if per_day else None,
        "last": per_day[-1].day if per_day else None,
    }


# --- Pages ------------------------------------------------------------------------------------


def _call_log_page(request, *, subscription: Subscription | None):
    numbers = None if subscription is None else [subscription]
    form = CallFilterForm(
        request.GET or None,
        number_box=subscription is None,
        rules=calllog.call_rule_labels(subscriptions=numbers),
    )
    filters = form.filters()
    if subscription is not None:
        filters["subscriptions"] = numbers
    calls = calllog.call_log_list(**filters)
    per_day = calllog.call_counts_per_day(**filters)
    # Paged by where the last page ended, never by counting rows (a company's log holds
    # millions): no total, a link to the newer and the older page.
    bad_cursor = False
    try:
        page = keyset_page(
            calls,
            field="at",
            size=PAGE_SIZE,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
        )
    except BadCursor:
        bad_cursor = True
        page = keyset_page(calls, field="at", size=PAGE_SIZE)
    page = KeysetPage(words.annotate_calls(page.items), page.next_cursor, page.previous_cursor)
    query = request.GET.copy()
    for name in ("after", "before", "page"):
        query.pop(name, None)
    export_query = query.copy()
    if subscription is not None:
        export_query["number"] = str(subscription.code)
    context = {
        "form": form,
        "page": page,
        "bad_cursor": bad_cursor,
        "query": query.urlencode(),
        "export_query": export_query.urlencode(),
        "subscription": subscription,
        "show_number": subscription is None,
        "number_options_id": NUMBER_OPTIONS_ID,
        "chart": _chart(per_day),
    }
    template = (
        "callflows/calls/_rows.html"
        if request.headers.get("HX-Request")
        else "callflows/calls/list.html"
    )
    return render(request, template, context)


@require_GET
@member_required
def call_log(request):
    return _call_log_page(request, subscription=None)


@require_GET
@member_required
def number_calls(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    return _call_log_page(request, subscription=subscription)


@require_GET
@member_required
def call_log_number_options(request):
    """The number box's suggestions (htmx swaps them into its ``<datalist>``)."""
    found = calllog.call_log_number_suggestions(text=request.GET.get("number", ""))
    return render(request, "callflows/calls/_number_options.html", {"numbers": found})


# --- CSV export -------------------------------------------------------------------------------


@require_GET
@member_required
def call_log_export(request):
    form = CallFilterForm(request.GET or None, number_box=True, rules=[])
    calls = calllog.call_log_list(**form.filters())
    tenant = current_tenant()
    filename = f"calls-{calllog.tenant_today():%Y%m%d}.csv"
    response = StreamingHttpResponse(
        call_log_csv_chunks(calls, tenant=tenant), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
