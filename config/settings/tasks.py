"""Settings: Celery: the broker, task behaviour and the scheduler's timetable."""

from config.settings.deployment import VAR_DIR, env
from config.settings.i18n import TIME_ZONE
from config.settings.subscriptions import RECONCILE_INTERVAL_MINUTES, TRIAL_SWEEP_INTERVAL_SECONDS
from config.var import BROKER_FOLDER

BROKER_DIR = VAR_DIR / BROKER_FOLDER  # its folders made by config/var.py:var_prepare
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # A broker that needs no server: queued messages are files under var/broker/.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # acks_late means an unacknowledged task comes back after the visibility timeout. It must
    # exceed the longest countdown a retry uses, or Redis would hand out the task twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 60 * 60),
        # A broker that accepts connections and never answers is given up on, not waited for
        # (clicks hand over with shorter ones of their own: portal/outbox.py).
        "socket_connect_timeout": env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=5),
        "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=10),
        "socket_keepalive": True,
        "health_check_interval": 25,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=5)
# An outbox message the broker did not take (it was down) is tried again by the outbox sweep
# once it is this old, and after each failed attempt this long later.
OUTBOX_RETRY_AFTER_SECONDS = env.int("OUTBOX_RETRY_AFTER_SECONDS", default=10)
# Messages handed over (or given up) are kept this long, for operators, then pruned.
OUTBOX_KEEP_DAYS = env.int("OUTBOX_KEEP_DAYS", default=7)
# How often the sweep looks (one indexed query when nothing waits): work a click saved while
# the broker was away goes ahead within this of the broker's return.
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=10)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often the call log's daily counts take in the calls logged meanwhile (the dashboard's
# "calls today" and the call log's chart are this much behind the log, plus 10 s).
CALL_DAYS_INTERVAL_SECONDS = env.int("CALL_DAYS_INTERVAL_SECONDS", default=15)
# How often the worker sums every company's month for the operators' costs page (dins/costs.py),
# and how old a kept sum may be before the page sums that company itself.
MONTH_COSTS_INTERVAL_SECONDS = env.int("MONTH_COSTS_INTERVAL_SECONDS", default=60)
MONTH_COSTS_FRESH_SECONDS = 3 * MONTH_COSTS_INTERVAL_SECONDS
CELERY_BEAT_SCHEDULE = {
    # Operators' checks: the scheduler's own heartbeats, the task queue (portal/platform.py).
    "portal-platform-check": {
        "task": "portal.platform_check",
        "schedule": 60,
    },
    # Work saved while the broker was down is handed over once it is back (portal/outbox.py).
    "portal-outbox-sweep": {
        "task": "portal.outbox_sweep",
        "schedule": OUTBOX_SWEEP_SECONDS,
    },
    "prune-expired-invitations": {
        "task": "portal.prune_invitations",
        "schedule": 60 * 60,
    },
    # The trial guard: releases due trials, re-drives stuck releases, sends reminders.
    "dins-trial-sweep": {
        "task": "dins.trial_sweep",
        "schedule": TRIAL_SWEEP_INTERVAL_SECONDS,
    },
    # Every company's month in totals, for the operators' costs page.
    "dins-month-costs": {
        "task": "dins.month_costs_refresh",
        "schedule": MONTH_COSTS_INTERVAL_SECONDS,
    },
    "dins-reconcile": {
        "task": "dins.reconcile",
        "schedule": 60 * RECONCILE_INTERVAL_MINUTES,
    },
    # Subscribes whose task stopped renewing its lease (the worker died): settled at once.
    "dins-settle-subscribes": {
        "task": "dins.settle_subscribes",
        "schedule": 60,
    },
    # Published flows are recompiled before they run out (holidays, closed dates).
    "callflows-republish": {
        "task": "callflows.republish_due",
        "schedule": 60 * 60,
    },
    # The call log's daily counts (the chart, today's calls): the calls logged since the last
    # run, and the last two days counted again from the log.
    "callflows-call-days": {
        "task": "callflows.call_days_catch_up",
        "schedule": CALL_DAYS_INTERVAL_SECONDS,
    },
    "callflows-call-days-recount": {
        "task": "callflows.call_days_recount",
        "schedule": 60 * 60,
    },
    # Outbound calls the carrier has not reported on: asked for, past OUTBOUND_POLL_AFTER_SECONDS.
    "callflows-poll-calls": {
        "task": "callflows.poll_calls",
        "schedule": 30,
    },
    # Recordings converted but never saved, and their files (callflows/assets/uploads.py).
    "callflows-prune-audio-uploads": {
        "task": "callflows.prune_audio_uploads",
        "schedule": 60 * 60,
    },
}
