"""Hooks the numbers app offers to the apps above it (they connect in ``AppConfig.ready``).

A lower app never imports a higher one; where the higher one must react, the lower one sends
one of these, explicitly, from its service.
"""

from django.dispatch import Signal

# Sent inside the transaction that changed what a number answers, with ``subscriptions``: it
# became active, its action token was rotated, or it stopped answering (release). Call flows
# publish (or withdraw) its compiled flow in the same transaction.
subscription_answering_changed = Signal()

# The same for many numbers claimed at once by the trial sweep, with ``tokens``: they stop
# answering now.
numbers_stopped_answering = Signal()

# Sent after an outbound call reached its final status (answered, no_answer, failed), with
# ``call``; once per call (only the compare-and-set that settled it sends). Receivers run inside
# the transaction and defer their own work with ``on_commit``.
outbound_call_finished = Signal()
