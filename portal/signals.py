"""Hooks the portal offers to the apps above it (they connect in their ``AppConfig.ready``).

A lower app never imports a higher one; where the higher one must react, the lower one sends
one of these, explicitly, from its service.
"""

from django.dispatch import Signal

# Sent inside the transaction that changed a company's settings, with ``tenant`` and
# ``fields`` (the names that changed). Call flows republish on the ones that alter answers.
tenant_changed = Signal()
