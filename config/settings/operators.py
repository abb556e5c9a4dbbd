"""Settings: Platform operators."""

from config.settings.deployment import env

# Trouble of the whole installation (carrier credentials, scheduled work not running, tasks
# piling up, call-log rows dropped) is e-mailed here, once per kind and hour, and listed on the
# operators' page (portal/platform.py).
OPERATOR_ALERT_EMAILS = env.list("OPERATOR_ALERT_EMAILS", default=[])
# Tasks waiting in the broker beyond this count raise an operators' alert.
OPERATOR_QUEUE_BACKLOG = env.int("OPERATOR_QUEUE_BACKLOG", default=500)
# /healthz/platform and /metrics answer clients from these networks, or with
# "Authorization: Bearer <MONITORING_TOKEN>" when a token is set.
MONITORING_NETWORKS = env.list("MONITORING_NETWORKS", default=["127.0.0.0/8", "::1/128"])
MONITORING_TOKEN = env.str("MONITORING_TOKEN", default="")
