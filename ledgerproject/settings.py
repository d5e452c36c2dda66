"""Ledger's settings: everything that varies between deployments comes from the environment."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ledgerproject.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LEDGER_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("LEDGER_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set")
    # Only good for a local, embedded run: sessions do not survive a change of this value.
    SECRET_KEY = "ledger-insecure-local-only-key-change-me-in-any-deployment"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

LEDGER_APPS = ["enhancelog", "experience", "runs", "releases", "logchain"]

INSTALLED_APPS = [
    "ledgerproject.ledger",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    *LEDGER_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ledgerproject.ledger.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ledgerproject.urls"
WSGI_APPLICATION = "ledgerproject.wsgi.application"
ASGI_APPLICATION = "ledgerproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default is a SQLite file under var/; production points DATABASE_URL at PostgreSQL.
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'ledger.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
    )
}
_engine = DATABASES["default"]["ENGINE"]
if _engine.endswith("sqlite3"):
    # IMMEDIATE takes SQLite's write lock at BEGIN: that is the per-ledger append lock there.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 30})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif not _engine.endswith("postgresql"):
    raise ImproperlyConfigured(f"DATABASE_URL names an unsupported engine ({_engine}); use sqlite or postgres")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = Path(env_str("LEDGER_MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Bodies above this are refused with 413 before they are read (blob uploads have their own limit).
LEDGER_MAX_REQUEST_BYTES = env_int("LEDGER_MAX_REQUEST_BYTES", 10 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = LEDGER_MAX_REQUEST_BYTES
LEDGER_MAX_BLOB_BYTES = env_int("LEDGER_MAX_BLOB_BYTES", 1024 * 1024 * 1024, minimum=1)
# Deleting ledger rows exists only for throwaway test databases; never set this in a deployment.
LEDGER_ALLOW_TEST_RESET = False
# Where the checkpoint signing key lives: a file path, or the key itself (base64) in the environment.
LEDGER_SIGNING_KEY_FILE = env_str("LEDGER_SIGNING_KEY_FILE", str(VAR_DIR / "signing-key.pem"))
LEDGER_SIGNING_KEY = env_secret("LEDGER_SIGNING_KEY")
LEDGER_CHECKPOINT_ORIGIN = env_str("LEDGER_CHECKPOINT_ORIGIN", "ledger.local")
# Off: the Merkle tree is brought up to date by checkpoint_ledgers (and before each checkpoint or
# export), keeping that work off the append path. On: after every committed append.
LEDGER_MERKLE_INTEGRATE_ON_APPEND = env_bool("LEDGER_MERKLE_INTEGRATE_ON_APPEND", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ledgerproject.ledger.auth.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["ledgerproject.ledger.permissions.LedgerRolePermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "ledgerproject.ledger.pagination.LedgerCursorPagination",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "ledgerproject.ledger.renderers.JSONLinesRenderer",
        "ledgerproject.ledger.renderers.CSVRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["ledgerproject.ledger.parsers.LedgerJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ledgerproject.ledger.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("LEDGER_THROTTLE_ANON", "120/min"),
        "user": env_str("LEDGER_THROTTLE_USER", "100000/min"),
    },
    "PAGE_SIZE": 100,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Ledger API",
    "DESCRIPTION": "Append-only, tamper-evident audit ledgers for AI-agent systems.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LEDGER_LOG_LEVEL", "WARNING")},
}
# The application's own warnings and errors also go to the node-log ledger, through an appender that
# buffers in memory and never raises into (or blocks) the caller.
LOGGING["handlers"]["logchain"] = {"class": "logchain.appender.LedgerLogHandler", "level": "WARNING"}
LOGGING["loggers"] = {
    **{name: {"handlers": ["logchain"]} for name in ["ledgerproject", *LEDGER_APPS]},
    "django.security": {"handlers": ["logchain"]},
    # Server errors (django.request: the URL a caller chose, the traceback) go to the console handler
    # only, where operators read them: a reader's request must not append to an audit ledger.
}
# What the application records about itself in logchain is rate-limited: a burst, then a steady rate.
LOGCHAIN_RATE_BURST = env_int("LOGCHAIN_RATE_BURST", 30, minimum=1)
LOGCHAIN_RATE_PER_MINUTE = env_int("LOGCHAIN_RATE_PER_MINUTE", 60, minimum=0)
