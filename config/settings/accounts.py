"""Settings: Accounts, sessions, sign-in lockout and the second factor."""

from datetime import timedelta

from config.settings.deployment import IS_PRODUCTION, env

AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=7)

# The client's address: the connecting address, or, when that is one of these proxies (IP
# addresses or networks, e.g. "127.0.0.1,10.0.0.0/8"), the first address in X-Forwarded-For
# that is not (portal/client_address.py). Empty: X-Forwarded-For is ignored, since any client
# can write it. The sign-in lockout and the audit log both use this address.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Brute-force lockout: this many failures for one e-mail address from one client address lock
# that pair out for the cool-off period. Trade-off [choice]: keyed on the pair, a stranger's
# wrong passwords lock out only the stranger's own address, never the user signing in from
# elsewhere; the price is that guesses spread over many addresses are not stopped by the
# lockout (the password rules are what stands against them). Keyed on the e-mail address
# alone, anyone could lock any user out by typing wrong passwords for them.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The sign-in form posts the e-mail address as "username" (Django's AuthenticationForm).
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "portal.client_address.lockout_username"
AXES_CLIENT_IP_CALLABLE = "portal.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# The second factor (portal/second_factor.py): TOTP apps show this issuer beside the account;
# failed codes slow the next attempt down (1 s, 2 s, 4 s, …). Owners and admins need one when
# their company requires it (Settings); operators (superusers) need one in production.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="DIN Portal")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
SECOND_FACTOR_FOR_OPERATORS = env.bool("SECOND_FACTOR_FOR_OPERATORS", default=IS_PRODUCTION)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=IS_PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
