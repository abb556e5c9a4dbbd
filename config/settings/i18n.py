"""Settings: Languages and time zones."""

from django.utils.translation import gettext_lazy as _

from config.settings.deployment import BASE_DIR

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True
