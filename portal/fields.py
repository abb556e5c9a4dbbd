"""Form fields with the limits every date the portal accepts must keep.

A date picker never sends 0001-01-01 or 9999-12-31, but a hand-made request does, and such a
date cannot be turned into the start of a day in Tokyo (or one day later) without overflowing.
Every date and time field of the portal is one of these: outside ``DATE_MIN``..``DATE_MAX`` it
says which dates it takes, and the browser's picker shows the same range (``min``/``max``).
``choice_field`` reaches a form's menu to fill it as the form is built.
"""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# [choice] Nothing the portal records predates 2000, and nothing is planned past 2099.
DATE_MIN = datetime.date(2000, 1, 1)
DATE_MAX = datetime.date(2099, 12, 31)


def _out_of_range(low: datetime.date, high: datetime.date) -> ValidationError:
    return ValidationError(
        _("Enter a date from %(min)s to %(max)s.")
        % {"min": low.isoformat(), "max": high.isoformat()},
        code="out_of_range",
    )


def datetime_range_problem(value: datetime.datetime) -> str | None:
    """Why ``value`` is not a moment the portal takes (its date, read in its own offset, outside
    ``DATE_MIN``..``DATE_MAX``); None when it is. Never converted first: 9999-12-31T23:59-14:00
    has no UTC. The pages' date-time fields and the API's schemas (``api/schemas.py``) ask this."""
    if DATE_MIN <= value.date() <= DATE_MAX:
        return None
    return str(_out_of_range(DATE_MIN, DATE_MAX).message)


class BoundedDateField(forms.DateField):
    """A date within ``min_date``..``max_date`` (by default the portal's whole range)."""

    widget = forms.DateInput(attrs={"type": "date"})

    def __init__(self, *, min_date=DATE_MIN, max_date=DATE_MAX, **kwargs):
        self.min_date, self.max_date = min_date, max_date
        super().__init__(**kwargs)

    def get_bound_field(self, form, field_name):
        # Per form (each form has its own copy of the field): a bound like "today" moves.
        self.widget.attrs.update(
            min=self._bound(self.min_date).isoformat(), max=self._bound(self.max_date).isoformat()
        )
        return super().get_bound_field(form, field_name)

    @staticmethod
    def _bound(value):
        return value() if callable(value) else value

    def to_python(self, value):
        try:
            return super().to_python(value)
        except (OverflowError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None

    def validate(self, value):
        """Outside the range: the ``too_early`` / ``too_late`` message if the field was given
        one (``%(date)s``, ``%(min)s``, ``%(max)s``), else which dates it takes."""
        super().validate(value)
        low, high = self._bound(self.min_date), self._bound(self.max_date)
        if value is None or low <= value <= high:
            return
        code = "too_early" if value < low else "too_late"
        if code not in self.error_messages:
            raise _out_of_range(low, high)
        params = {"date": value.isoformat(), "min": low.isoformat(), "max": high.isoformat()}
        raise ValidationError(self.error_messages[code], code=code, params=params)


class BoundedDateTimeField(forms.DateTimeField):
    """A date and time whose date lies in the portal's range (``DATE_MIN``..``DATE_MAX``)."""

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update(min=f"{DATE_MIN.isoformat()}T00:00", max=f"{DATE_MAX.isoformat()}T23:59")
        return attrs

    def to_python(self, value):
        try:
            value = super().to_python(value)
        except (OverflowError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        # Refused before anything converts it to UTC: 0001-01-01 00:00 in Tokyo has no UTC.
        if value is not None and datetime_range_problem(value):
            raise _out_of_range(DATE_MIN, DATE_MAX)
        return value


# --- Menus filled when a form is built --------------------------------------------------------


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """``form``'s menu ``name``, to set its choices (the company's own, the reader's words)."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField), f"{name} is not a menu"
    return field
