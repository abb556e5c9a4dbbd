"""Settings: numbers: subscriptions, trials, reconciliation."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.deployment import env

# A trial is released this long before the carrier's 24-hour deadline (fractions allowed: the
# end-to-end suite releases its trials seconds after subscribing).
TRIAL_RELEASE_MARGIN_MINUTES = env.float("TRIAL_RELEASE_MARGIN_MINUTES", default=30)
if not 0 <= TRIAL_RELEASE_MARGIN_MINUTES < 24 * 60:
    raise ImproperlyConfigured("TRIAL_RELEASE_MARGIN_MINUTES must be from 0 to under 1440.")
# How often the scheduler runs the trial sweep (releases, reminders): every minute.
TRIAL_SWEEP_INTERVAL_SECONDS = env.int("TRIAL_SWEEP_INTERVAL_SECONDS", default=60)
if TRIAL_SWEEP_INTERVAL_SECONDS < 1:
    raise ImproperlyConfigured("TRIAL_SWEEP_INTERVAL_SECONDS must be at least 1.")
# Reminders to owners and admins, in minutes before the deadline; each goes once.
TRIAL_REMINDER_MINUTES = env.list("TRIAL_REMINDER_MINUTES", cast=int, default=[360, 60])
# Xoxzo's "discounted 24 hours price" is not published: shown as this fraction of
# the monthly cost. Keep it equal to what your Xoxzo contract says.
TRIAL_PRICE_RATIO = env.float("TRIAL_PRICE_RATIO", default=0.05)
# A release task that has not finished after this long (worker died) is enqueued again.
RELEASE_LEASE_MINUTES = env.int("RELEASE_LEASE_MINUTES", default=10)
# How often the carrier's subscription list is compared with ours.
RECONCILE_INTERVAL_MINUTES = env.int("RECONCILE_INTERVAL_MINUTES", default=10)
# A subscribe whose outcome is unknown is settled by reconciliation after this grace period.
SUBSCRIBE_SETTLE_AFTER_SECONDS = env.int("SUBSCRIBE_SETTLE_AFTER_SECONDS", default=60)
# The subscribe task owns its row while its lease runs: renewed every quarter of it while the
# task runs, and over the countdown of each retry it schedules. A worker that dies stops
# renewing it; the settle sweep (every minute) then settles the row from the carrier's list.
SUBSCRIBE_LEASE_SECONDS = env.int("SUBSCRIBE_LEASE_SECONDS", default=120)
# A subscribe click the task queue could not take within this long is given up, not sent late.
SUBSCRIBE_QUEUED_EXPIRY_MINUTES = env.int("SUBSCRIBE_QUEUED_EXPIRY_MINUTES", default=60)
RENEWAL_DAYS = 30
