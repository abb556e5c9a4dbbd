"""Starting points for a call flow: one click fills the editor with rules the user then edits.

A starting point only fills the editor (nothing is saved): rules come as the editor's initial
data (``flow_forms.editor_state`` shape), with the company's own MP3s, scripts and lists chosen
where one obviously fits and left to choose otherwise. Rules that must answer first (a VIP list,
holidays) go to the top; business hours go after what is already there.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from callflows.models import CallerList

STARTING_POINTS = [
    ("clinic", gettext_lazy("Clinic hours with a lunch break")),
    ("holidays", gettext_lazy("Closed on holidays")),
    ("vip", gettext_lazy("VIP transfer")),
]
WEEKDAYS_MON_FRI = ["0", "1", "2", "3", "4"]


def _rule(label: str, when: str, action: str, **fields) -> dict:
    rule = {
        "label": label,
        "when": when,
        "weekdays": [],
        "start": "",
        "end": "",
        "caller_list": "",
        "action": action,
        "audio": "",
        "script": "",
        "number": "",
        "greeting": "",
    }
    rule.update(fields)
    return rule


def _is_blank(rule: dict) -> bool:
    return not any(rule.get(key) for key in ("label", "when", "action"))


def apply_starting_point(key: str, rules: list[dict], default: dict) -> tuple[list, dict]:
    """The editor's rules and default after loading starting point ``key``."""
    rules = [rule for rule in rules if not _is_blank(rule)]
    default = dict(default)
    if key == "clinic":
        clinic = [
            _rule(
                _("Lunch break"),
                "hours",
                "voicemail",
                weekdays=WEEKDAYS_MON_FRI,
                start="12:00",
                end="13:00",
            ),
            _rule(
                _("Clinic hours"),
                "hours",
                "transfer",
                weekdays=WEEKDAYS_MON_FRI,
                start="09:00",
                end="18:00",
            ),
            _rule(
                _("Saturday morning"),
                "hours",
                "transfer",
                weekdays=["5"],
                start="09:00",
                end="12:00",
            ),
        ]
        rules = rules + clinic
        if not default.get("action"):
            default["action"] = "voicemail"
    elif key == "holidays":
        rules = [_rule(_("Holidays and closed dates"), "holiday", "voicemail"), *rules]
    elif key == "vip":
        lists = list(CallerList.objects.all())
        vip = next((item for item in lists if "vip" in item.name.lower()), None)
        chosen = vip or (lists[0] if len(lists) == 1 else None)
        rules = [
            _rule(
                _("VIP callers"),
                "caller_list",
                "transfer",
                caller_list=str(chosen.code) if chosen else "",
            ),
            *rules,
        ]
    return rules, default
