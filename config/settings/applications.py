"""Settings: Installed apps, middleware, the root URLconf and templates."""

from config.settings.deployment import BASE_DIR

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    # The second factor (TOTP and recovery codes): portal/second_factor.py.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ninja",
    "portal",
    "dins",
    "callflows",
    "sandbox",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every error under /api/ in the API's JSON shape, Django's own 404/405/400/500 included.
    "api.middleware.ApiErrorShapeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # NUL bytes are refused here, once, before any view or the CSRF check reads the input.
    "portal.middleware.RefuseNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.TenantMiddleware",
    # After the tenant: a company that requires a second factor is read from the memberships.
    "portal.second_factor.SecondFactorMiddleware",
    "axes.middleware.AxesMiddleware",
    "dins.middleware.CarrierBudgetMiddleware",
    "sandbox.middleware.SandboxLocalOnlyMiddleware",
]

ROOT_URLCONF = "config.urls.portal"
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
WSGI_APPLICATION = "config.wsgi.portal.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.tenancy",
            ],
            # Numbers, money and call-flow answers as people read them, on every page and e-mail.
            "builtins": [
                "dins.templatetags.din_format",
                "callflows.templatetags.flow_words",
                "portal.templatetags.portal_words",
            ],
        },
    },
]
