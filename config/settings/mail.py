"""Settings: Outgoing e-mail."""

from config.settings.deployment import env

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="DIN Portal <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
