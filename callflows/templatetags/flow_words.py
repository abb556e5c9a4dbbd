"""Call-flow answers in words for templates (loaded for every template).

``{{ line|command_words }}`` names what a line plays (one or two queries: for lists, views set
``words`` on each row with ``callflows.flows.words.command_names_for`` instead);
``{{ label|rule_name }}`` names the rule that answered.
"""

from django import template

from callflows.flows import words

register = template.Library()


@register.filter
def command_words(command) -> str:
    return words.describe_command(str(command or ""))


@register.filter
def rule_name(label) -> str:
    return words.rule_name(str(label or ""))
