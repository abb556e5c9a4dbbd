"""Pages of the call log: the tenant's calls, one number's calls, the CSV export.

Read-only, for every member (viewers included). Times are shown in the tenant's time zone,
which ``portal.middleware.TenantMiddleware`` activates for templates.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import ChoiceField
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from callflows.calllog import selectors as calllog
from callflows.calllog.export import call_log_csv_lines
from callflows.flows import words
from dins.models import Subscription, SubscriptionStatus
from portal.access import get_tenant_object, member_required
from portal.fields import BoundedDateField
from portal.phone import compact, display
from portal.scoping import current_tenant

PAGE_SIZE = 50


class CallFilterForm(forms.Form):
    number = forms.ChoiceField(label=gettext_lazy("Number"), required=False)
    since = BoundedDateField(label=gettext_lazy("From"), required=False)
    until = BoundedDateField(label=gettext_lazy("To"), required=False)
    caller = forms.CharField(
        label=gettext_lazy("Caller contains"),
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

    def __init__(self, *args, numbers: list[Subscription] | None, rules: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        if numbers is None:  # one number's page: the number is in the URL
            del self.fields["number"]
            self.numbers = {}
        else:
            self.numbers = {str(s.code): s for s in numbers}
            cast(ChoiceField, self.fields["number"]).choices = everything + [
                (code, _number_choice_label(s)) for code, s in self.numbers.items()
            ]
        # A bookmarked rule that has not answered lately stays selectable.
        wanted = self.data.get("rule", "") if self.is_bound else ""
        labels = sorted({*rules, wanted} - {""})
        cast(ChoiceField, self.fields["rule"]).choices = everything + [
            (label, words.rule_name(label)) for label in labels
        ]
        cast(ChoiceField, self.fields["source"]).choices = everything + list(calllog.SOURCE_CHOICES)

    def clean_caller(self) -> str:
        # The log stores callers as E.164 digits ("+81 90-1234…" was logged as "8190 1234…");
        # people type Japanese numbers as they dial them (090-1234…), full-width digits too.
        text = compact(self.cleaned_data["caller"])
        digits = "".join(ch for ch in text if ch.isdigit())
        if text and not digits:
            raise ValidationError(_("Enter digits of a phone number."))
        if digits.startswith("0") and not digits.startswith("00"):
            digits = "81" + digits[1:]  # the trunk 0 of a Japanese number
        return digits

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
            "caller": data.get("caller", ""),
            "anonymous": data.get("anonymous", False),
            "rule": data.get("rule", ""),
            "source": data.get("source", ""),
            "kind": data.get("kind", ""),
        }
        if data.get("number"):
            filters["subscription"] = self.numbers[data["number"]]
        return filters


def _number_choice_label(subscription: Subscription) -> str:
    label = display(subscription.e164)
    if subscription.label:
        label += f" · {subscription.label}"
    if subscription.status == SubscriptionStatus.RELEASED:
        label += " " + _("(released)")
    return label


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
    form = CallFilterForm(
        request.GET or None,
        numbers=None if subscription is not None else calllog.call_log_numbers(),
        rules=calllog.call_rule_labels(subscription=subscription),
    )
    filters = form.filters()
    if subscription is not None:
        filters["subscription"] = subscription
    calls = calllog.call_log_list(**filters)
    # The chart shows the last 30 days whatever the date fields say; the other filters apply.
    chart_filters = {k: v for k, v in filters.items() if k not in ("since", "until")}
    per_day = calllog.call_counts_per_day(calllog.call_log_list(**chart_filters))
    page = Paginator(calls, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = words.annotate_calls(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    export_query = query.copy()
    if subscription is not None:
        export_query["number"] = str(subscription.code)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "export_query": export_query.urlencode(),
        "subscription": subscription,
        "show_number": subscription is None,
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


# --- CSV export -------------------------------------------------------------------------------


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection, OWASP);
# rule labels, number labels and the recipient the carrier passes on are text others chose.
@require_GET
@member_required
def call_log_export(request):
    form = CallFilterForm(
        request.GET or None, numbers=calllog.call_log_numbers(), rules=calllog.call_rule_labels()
    )
    calls = calllog.call_log_list(**form.filters())
    tenant = current_tenant()
    filename = f"calls-{calllog.tenant_today():%Y%m%d}.csv"
    response = StreamingHttpResponse(
        (line.encode() for line in call_log_csv_lines(calls, tenant=tenant)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
