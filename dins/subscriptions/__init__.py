"""A subscription's life, one module per stage (see ``dins.models.SubscriptionStatus``).

``request`` (the pages: subscribe, edit, keep, rotate the token), ``subscribe`` (the task that
buys the number exactly once), ``release``, ``sweep`` (trials due, reminders, overdue) and
``reconcile`` (the carrier's list against ours). ``common`` holds what they share.

Every state change is a compare-and-set ``UPDATE … WHERE status = <from>``; only the caller
whose update changed a row does the follow-up (enqueue, audit, e-mail), so a redelivered task
or a second click finds nothing to do. Follow-up tasks go through the outbox
(``portal.outbox``): saved with the change, handed to the broker after commit. The carrier is
reached only through ``dins.xoxzo``.
"""
