"""Ledger's settings: everything that varies between deployments comes from the environment."""

import ipaddress
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from ledgerproject.env import (
    env_bool,
    env_choice,
    env_database_urls,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_secret,
    env_str,
    env_url,
)
from ledgerproject.ledger.validators import MAX_JSON_INT

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LEDGER_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        # A constant key in public source signs nobody's sessions: outside debug, no key, no start.
        # (`make run` generates a local key under var/ and passes it in DJANGO_SECRET_KEY_FILE.)
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set unless DJANGO_DEBUG=1; "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Debug only (the test settings set their own): sessions do not survive a change of this value.
    SECRET_KEY = "ledger-insecure-debug-only-key-never-used-without-DJANGO_DEBUG"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

LEDGER_APPS = ["enhancelog", "experience", "runs", "releases", "logchain"]

INSTALLED_APPS = [
    "ledgerproject.ledger",
    "csp",
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
    # An API answer, once rendered, lets go of the request's data (ledger/memory.py): outside every middleware.
    "ledgerproject.ledger.memory.ReleaseAnsweredDataMiddleware",
    # Outermost after security: compresses the finished page (HTML only; see ledger/compression.py).
    "ledgerproject.ledger.compression.HtmlGZipMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ledgerproject.ledger.outage.DatabaseUnavailableMiddleware",
    "ledgerproject.ledger.middleware.RequestSizeLimitMiddleware",
    # Chunked bodies (411), NUL in the address (400), values out of range (400): never a 500.
    "ledgerproject.ledger.middleware.UnreadableInputMiddleware",
    "ledgerproject.ledger.middleware.RenderedContentTypeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Authorization by construction: a route without a permission declaration answers 403.
    "ledgerproject.ledger.access.DeclaredRoutesMiddleware",
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
# A pooled connection is checked before a request reuses it: after a database restart the first
# request of each worker gets a fresh connection instead of "server closed the connection".
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
_engine = DATABASES["default"]["ENGINE"]
if _engine.endswith("postgresql"):
    # Fail fast (then 503 + Retry-After) rather than hold a worker while the server is unreachable.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
    )
# PostgreSQL's JIT pays off for long analytic scans, which pages never run (their aggregates are rollups):
# it compiled for ~200 ms inside a 120 ms releases index at 5M entries, misled by cost estimates of index
# probes. Off for Ledger's connections unless DATABASE_URL's own `options` say otherwise.
PG_SESSION_OPTIONS = "-c jit=off"
if _engine.endswith("postgresql"):
    DATABASES["default"]["OPTIONS"].setdefault("options", PG_SESSION_OPTIONS)
if _engine.endswith("sqlite3"):
    # IMMEDIATE takes SQLite's write lock at BEGIN: that is the per-ledger append lock there.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 30})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif not _engine.endswith("postgresql"):
    raise ImproperlyConfigured(f"DATABASE_URL names an unsupported engine ({_engine}); use sqlite or postgres")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Read replicas: PostgreSQL streaming standbys of DATABASE_URL, as aliases replica1, replica2, … Page,
# list, search and export reads go to one of them; appends, locks, checkpoints, verification, every read
# after a write in the same request, and a client's requests for LEDGER_REPLICA_STICKY_SECONDS after it
# wrote stay on the primary (ledger/routers.py). None configured: no router, no middleware, no change.
LEDGER_REPLICA_DATABASES = []
_replicas = env_database_urls("DATABASE_REPLICA_URLS", "postgresql", conn_max_age=DATABASES["default"]["CONN_MAX_AGE"])
if _replicas and not _engine.endswith("postgresql"):
    raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs DATABASE_URL on PostgreSQL: replicas are its standbys")
for _index, _replica in enumerate(_replicas, start=1):
    # An unreachable replica must cost a request little: it is then marked down and the primary answers.
    _replica.setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    _replica["OPTIONS"].setdefault("options", PG_SESSION_OPTIONS)
    # A test run never creates a database on a standby: the alias reads the primary's test database.
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica{_index}"] = _replica
    LEDGER_REPLICA_DATABASES.append(f"replica{_index}")
LEDGER_REPLICA_STICKY_SECONDS = env_int("LEDGER_REPLICA_STICKY_SECONDS", 5, minimum=0)
LEDGER_REPLICA_DOWN_SECONDS = env_int("LEDGER_REPLICA_DOWN_SECONDS", 5, minimum=1)
if LEDGER_REPLICA_DATABASES:
    DATABASE_ROUTERS = ["ledgerproject.ledger.routers.PrimaryReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
        "ledgerproject.ledger.routers.ReplicaRoutingMiddleware",
    )

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
    # Content-hashed names plus gzip/Brotli copies, written by `collectstatic` (`make run` runs it);
    # WhiteNoise serves hashed files with a year-long immutable cache. Without collectstatic a page
    # outside debug fails on its first {% static %}: deploy steps must run it (docs/deployment.md).
    "staticfiles": {"BACKEND": "ledgerproject.ledger.staticfiles.LedgerStaticFilesStorage"},
}
# Serving straight from the source folders (uncompressed, 60 s cache) is for debug only.
WHITENOISE_USE_FINDERS = DEBUG
# collectstatic keeps only the hashed copies and compresses them, not the source maps (large, and
# fetched only by a developer's tools): this keeps `make run`'s collectstatic step short.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
# Files served at the site root: /favicon.ico (browsers ask for it whatever the page links).
WHITENOISE_ROOT = BASE_DIR / "static_root"

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

# While the database is unavailable every request answers 503 with this Retry-After (seconds).
LEDGER_RETRY_AFTER_SECONDS = env_int("LEDGER_RETRY_AFTER_SECONDS", 5, minimum=1)
# /readyz gives the database this long (milliseconds) to answer.
LEDGER_READY_TIMEOUT_MS = env_int("LEDGER_READY_TIMEOUT_MS", 2000, minimum=100)

# --- HTTPS: one switch for a site served over HTTPS (directly or behind a TLS-terminating proxy) --
# Off (the default) keeps plain-HTTP local use working: `make run`, gunicorn on loopback.
LEDGER_HTTPS = env_bool("LEDGER_HTTPS", False)
SESSION_COOKIE_SECURE = LEDGER_HTTPS
CSRF_COOKIE_SECURE = LEDGER_HTTPS
SECURE_SSL_REDIRECT = LEDGER_HTTPS
SECURE_HSTS_SECONDS = env_int("LEDGER_HSTS_SECONDS", 31536000, minimum=0) if LEDGER_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = LEDGER_HTTPS and env_bool("LEDGER_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading asks browsers to ship the host in their HSTS list: a commitment, so its own opt-in.
SECURE_HSTS_PRELOAD = LEDGER_HTTPS and env_bool("LEDGER_HSTS_PRELOAD", False)
# Load balancers probe the app servers over plain HTTP: the health endpoints are never redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Behind a proxy that terminates TLS: trust its X-Forwarded-Proto. Only when that proxy sets (and
# overwrites) the header, otherwise a client could claim HTTPS; hence its own opt-in.
if env_bool("LEDGER_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Content-Security-Policy (django-csp): only this origin's files; no inline script or style --
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Pico CSS and Swagger UI draw their icons from data: URIs.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ledgerproject.ledger.auth.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["ledgerproject.ledger.permissions.LedgerRolePermission"],
    "DEFAULT_FILTER_BACKENDS": ["ledgerproject.ledger.filters.LedgerFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "ledgerproject.ledger.pagination.LedgerCursorPagination",
    "DEFAULT_RENDERER_CLASSES": [
        "ledgerproject.ledger.fastjson.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "ledgerproject.ledger.renderers.JSONLinesRenderer",
        "ledgerproject.ledger.renderers.CSVRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["ledgerproject.ledger.parsers.LedgerJSONParser"],
    # `?format=` wins over Accept (DRF would answer 406 to ?format=jsonl with Accept: application/json).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "ledgerproject.ledger.renderers.ExplicitFormatNegotiation",
    # Operations grouped by ledger in the docs, batch arrays and error statuses as served (ledger/schema.py).
    "DEFAULT_SCHEMA_CLASS": "ledgerproject.ledger.schema.LedgerAutoSchema",
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
    # One group per ledger in /api/docs/, in this order (ledger/schema.py tags each operation).
    "TAGS": [
        {
            "name": "Ledgers and verification",
            "description": "Every ledger's size and head, checkpoints, proofs, exports, verification.",
        },
        {"name": "Enhance log", "description": "Enhance attempts, blueprint traces and reviews."},
        {"name": "Experience events", "description": "Experience events, artifacts and their lifecycle, trace links."},
        {
            "name": "Runs, blobs and outputs",
            "description": "Runs and their events, content-addressed blobs, task outputs.",
        },
        {"name": "Releases", "description": "Promotions and rollbacks per agent name; the release as of a time."},
        {"name": "Node logs", "description": "Log records of every node and daemon."},
    ],
    # Error statuses with the kernel's error shape on every operation (ledgerproject/ledger/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ledgerproject.ledger.schema.document_errors",
    ],
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
LOGGING["handlers"]["logchain"] = {"class": "logchain.handler.LedgerLogHandler", "level": "WARNING"}
LOGGING["loggers"] = {
    **{name: {"handlers": ["logchain"]} for name in ["ledgerproject", *LEDGER_APPS]},
    "django.security": {"handlers": ["logchain"]},
    # Server errors (django.request: the URL a caller chose, the traceback) go to the console handler
    # only, where operators read them: a reader's request must not append to an audit ledger.
}

# --- Brute-force control, shared throttle counters, metrics -----------------------------------------
# How many proxies in front of the app append to X-Forwarded-For: 0 (default) trusts only REMOTE_ADDR,
# so a client cannot pick its own address (and its own throttle bucket) with a forged header.
LEDGER_NUM_PROXIES = env_int("LEDGER_NUM_PROXIES", 0, minimum=0)
REST_FRAMEWORK["NUM_PROXIES"] = LEDGER_NUM_PROXIES
# Failed `Authorization: Token` attempts per client address; past it, 429 before any token lookup.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["failed_token"] = env_rate("LEDGER_THROTTLE_FAILED_TOKEN", "10/min")

# The anonymous and failed-token counters live in the "shared" cache, which every worker and server
# shares: the database (table created by the kernel's migrations), or Redis when REDIS_URL is set; the
# per-user ones too under Redis (see ledger/limits.py). "default" stays a per-process memory cache for
# what the apps cache for speed (dashboard numbers).
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
LEDGER_CACHE_TABLE = "ledger_cache"
if REDIS_URL:
    _shared_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
else:
    _shared_cache = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": LEDGER_CACHE_TABLE,
        # Past MAX_ENTRIES Django culls a third of the keys, live ones too, which would reset clients'
        # counters: keep it well above the number of distinct clients and users per throttle window.
        "OPTIONS": {"MAX_ENTRIES": env_int("LEDGER_CACHE_MAX_ENTRIES", 100_000, minimum=1000)},
    }
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {**_shared_cache, "KEY_PREFIX": "ledger"},
}
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "ledgerproject.ledger.limits.AnonRateThrottle",
    "ledgerproject.ledger.limits.UserRateThrottle",
]
# Fast ingest: an API token, its user, permissions and tenant scope are remembered per worker for this many
# seconds (0: looked up on every request); revoking a token or a role takes effect within it (ledger/token_cache.py).
LEDGER_TOKEN_CACHE_SECONDS = env_int("LEDGER_TOKEN_CACHE_SECONDS", 5, minimum=0)

# Login lockout (django-axes): after LEDGER_LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused (429, registration/lockout.html) on /accounts/login/ and /admin/login/
# until the cool-off passes or `manage.py axes_reset` (or axes_reset_username …) clears it.
INSTALLED_APPS = [*INSTALLED_APPS, "axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before any password check
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE = [*MIDDLEWARE, "axes.middleware.AxesMiddleware"]  # last, as axes requires
AXES_FAILURE_LIMIT = env_int("LEDGER_LOGIN_FAILURE_LIMIT", 5, minimum=1)
# 0 minutes: locked until an operator runs axes_reset.
_cooloff_minutes = env_int("LEDGER_LOGIN_COOLOFF_MINUTES", 15, minimum=0)
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes) if _cooloff_minutes else None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_CLIENT_IP_CALLABLE = "ledgerproject.ledger.limits.client_ip"
AXES_VERBOSE = False

# Prometheus metrics at /metrics (ledgerproject/ledger/metrics.py): answered to these client addresses or
# networks (default loopback; empty: none) and to `Authorization: Bearer $LEDGER_METRICS_TOKEN`; else 403.
LEDGER_METRICS_ALLOWED_IPS = env_list("LEDGER_METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
for _net in LEDGER_METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_net, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"LEDGER_METRICS_ALLOWED_IPS: {_net!r} is not an address or network") from None
LEDGER_METRICS_TOKEN = env_secret("LEDGER_METRICS_TOKEN", "")
# Read by prometheus_client itself: several workers then keep their metrics in files there and /metrics sums them.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR!r} is not a directory")
# First, so the request metrics time everything below it.
MIDDLEWARE = ["ledgerproject.ledger.metrics.MetricsMiddleware", *MIDDLEWARE]

# What the application records about itself in logchain is rate-limited: a burst, then a steady rate.
LOGCHAIN_RATE_BURST = env_int("LOGCHAIN_RATE_BURST", 30, minimum=1)
LOGCHAIN_RATE_PER_MINUTE = env_int("LOGCHAIN_RATE_PER_MINUTE", 60, minimum=0)
# Where those records go (logchain/appender.py): the ledger through a background writer, an in-memory
# buffer, or nowhere; the buffer's size; this server's node id; the writer's flush interval in seconds.
LOGCHAIN_APPENDER = env_choice("LOGCHAIN_APPENDER", ("ledger", "buffer", "noop"), "ledger")
LOGCHAIN_APPENDER_CAPACITY = env_int("LOGCHAIN_APPENDER_CAPACITY", 16_384, minimum=1)
LOGCHAIN_NODE_ID = env_int("LOGCHAIN_NODE_ID", 0, minimum=0, maximum=MAX_JSON_INT)
LOGCHAIN_FLUSH_INTERVAL = env_float("LOGCHAIN_FLUSH_INTERVAL", 2.0, minimum=0.05)
