"""Django settings, all read from the environment (see README "Configuration").

Defaults are the safe production ones: DEBUG off, HTTPS enforced, secrets required. `make run`
writes a `.env` with DEBUG on and fresh development secrets, so the embedded demo needs nothing.
"""

from datetime import timedelta
from pathlib import Path

import environ
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The .env file (written by `make run`) only fills what the real environment leaves unset; the
# test suite turns it off so that a developer's demo settings never leak into it.
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# The embedded default's state (SQLite file, broker folders, beat files, demo emulator state).
# Movable so a test can run the embedded default in a temporary folder.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_htmx",
    "timesync",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages are compressed here: WhiteNoise compresses only static files (ahead of time), and a
    # week of 300 projects is ~500 KB of HTML, ~20 KB gzipped. BREACH (secrets guessed from
    # compressed sizes of pages that reflect input, like the search box) is mitigated: Django
    # masks the CSRF token afresh on every response and, since 4.2, this middleware pads each
    # response with random bytes ("Heal The Breach"). Below WhiteNoise so static files keep
    # WhiteNoise's precompressed copies; above everything that reads or writes the body.
    # Django's middleware at compression level 1 (config/middleware.py says why).
    "config.middleware.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as its documentation asks: it turns a sign-in that axes refused into the lockout
    # page (the API answers its own 429, see timesync/api/auth_views.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# The Sync Dashboard shows this many projects a page (its cost grows with its rows).
SYNC_DASHBOARD_PAGE_SIZE = env.int("SYNC_DASHBOARD_PAGE_SIZE", default=200)
WSGI_APPLICATION = "config.wsgi.application"

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
                "dashboard.context_processors.organization",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Embedded default: one SQLite file, so `make run` needs no server. Production and the test
# suite use PostgreSQL through DATABASE_URL (psycopg 3).
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'timesync.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the Celery worker write concurrently: WAL lets readers go on while
    # one writes, IMMEDIATE takes the write lock up front instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No transaction of ours waits on anything outside the database (remote calls happen
    # between transactions), so one idle this long belongs to a frozen or cut-off process: the
    # server ends it and frees its row locks, which would otherwise stall recovery and claims
    # of every run behind them (found by `make chaos`: a worker SIGSTOPped mid-transaction).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c idle_in_transaction_session_timeout="
        f"{env.int('DATABASE_IDLE_TRANSACTION_TIMEOUT_SECONDS', default=60) * 1000}"
    )
    # Parameters bound by the server, and a statement run five times on a connection prepared:
    # PostgreSQL then plans it once per connection, not on every page (planning was half of a
    # plain page's database CPU and 0.5 ms of the Sync Dashboard's cells statement). Off behind
    # a pooler in transaction mode that cannot follow prepared statements.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "timesync.User"
# Axes first: it refuses a locked-out account or address before any password is checked, so
# the right password after a run of wrong ones is refused too.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
# A sign-up is confirmed from the link emailed to its address within this time.
SIGN_UP_CONFIRMATION_MAX_AGE_SECONDS = 60 * 60 * 24

# --- Clients behind proxies -----------------------------------------------------------------
# How many reverse proxies in front of us append to X-Forwarded-For. 0 (the default) ignores
# the header: anyone can write it, so trusting it lets a guesser rotate addresses past every
# per-address limit. Behind one TLS proxy that appends the peer's address, 1. Sign-in lockout
# (axes) and the API's throttles (DRF) both read the client's address from this one setting.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Sign-in lockout (django-axes) ----------------------------------------------------------
# Locked by account and, separately, by address: the account limit stops guessing one
# password from many addresses, the address limit stops one address trying a common password
# on many accounts. The price: anyone can lock a known email for the cool-off; a password
# reset lifts it (timesync/api_tokens.py: password_changed).
AXES_FAILURE_LIMIT = env.int("SIGN_IN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIGN_IN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Emails are case-insensitive at sign-in: so is the count (else Admin@ and admin@ each get 10).
AXES_USERNAME_CALLABLE = "timesync.sign_in.attempted_email"
AXES_LOCKOUT_CALLABLE = "timesync.sign_in.lockout_response"
# The client's address by DRF's rule (NUM_PROXIES below), not django-ipware's: with one proxy,
# ipware's proxy_count took the left-most, client-written entry of "spoofed, client".
AXES_CLIENT_IP_CALLABLE = "timesync.sign_in.client_address"
# Failed attempts are kept (support looks at them in the admin); successful sign-ins are not.
AXES_DISABLE_ACCESS_LOG = True
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email ----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Timesync <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Integration credentials ----------------------------------------------------------------
# Fernet keys, newest first: the first encrypts, all decrypt (rotation without downtime).
CREDENTIALS_ENCRYPTION_KEYS = env.list("CREDENTIALS_ENCRYPTION_KEYS")

# --- HTTPS and cookies (on unless DEBUG) ----------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Content Security Policy (django-csp): our pages load scripts, styles, images and fonts from
# our own origin only, and no inline script or style: static/js/app.js and the vendored htmx
# are the only scripts (htmx's own indicator style is turned off in base.html). Frames are
# denied twice: frame-ancestors for browsers that read CSP, X-Frame-Options for the rest.
# The API docs pages (Swagger UI, ReDoc) carry an inline <style>: relaxed for them alone in
# timesync/api/urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Django REST framework ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "timesync.api.pagination.BoundedLimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [
        "timesync.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [],
    "EXCEPTION_HANDLER": "timesync.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # The throttles' client address: the same proxies trusted as for sign-in lockout. Unset,
    # DRF believed any X-Forwarded-For, and rotating it escaped the sign-in throttle.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# API tokens (django-rest-knox): only a digest is stored; a token dies after TTL without use
# (each use moves its expiry, at most once a minute), when its owner revokes it or signs it out,
# and with every change of its owner's password.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_IDLE_DAYS", default=30)),
    "AUTO_REFRESH": True,
    "MIN_REFRESH_INTERVAL": 60,
    "AUTH_HEADER_PREFIX": "Token",
    # Recognisable in logs and by secret scanners; also the start of its public id.
    "TOKEN_PREFIX": "tsk_",
}
# Tokens one person may hold; signing in past it revokes their least recently used one.
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=20)
SPECTACULAR_SETTINGS = {
    "TITLE": "Timesync API",
    "DESCRIPTION": (
        "Projects, workers, cost codes and shifts of one organization. Every path is scoped "
        "by the organization's slug; ids of another organization answer 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: the docs work offline and need no third-party CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents its error answers (problem details), not only its successes.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "timesync.api.schema.document_problems",
    ],
}
# A bulk approval of the documented 1,000 shift ids sent as a form (multipart or urlencoded)
# is 1,000 fields plus the reason; Django's default refuses past 1,000 fields.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1100

# --- Celery ---------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport, which needs no server (see README). Redis in
# production and in the test suite.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
# A message not acknowledged within the visibility timeout is delivered again: every retry
# delay and every task must stay well under it.
CELERY_VISIBILITY_TIMEOUT = 60 * 60
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(_BROKER_DIR / "control"),
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    # Threads, not prefork, on the embedded default. This transport deletes a message from disk
    # when a worker takes it: until it is acknowledged it lives only in the worker's memory.
    # Under prefork we saw pool children killed with SIGKILL lose their task (the run stayed
    # "running" for good), and a kill of the worker itself loses it for certain; beat, run
    # inside the worker, died with it and recovery with it. With threads the worker is one
    # process: any kill hits what run_local supervises and restarts, and recovery (beat, its own
    # process) sends the run again once its heartbeat is stale. Threads cannot enforce time
    # limits: acceptable for the demo, where every remote call has its own timeout.
    CELERY_WORKER_POOL = "threads"
    CELERY_WORKER_CONCURRENCY = 4
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
# acks_late alone acknowledges a task whose worker child was killed; this requeues it instead,
# so every task must be safe to run twice.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=10 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=12 * 60)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker restart must never end the worker: keep reconnecting for as long as it takes (by
# default Celery gives up after 100 attempts and the worker exits).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Said explicitly (Celery 5 warns until it is, and 6.0 flips the default). A sync that lost the
# broker keeps going: it needs only the database and the remote, and when its message comes back
# the run is already finished, so the late delivery does nothing. Cancelling it would throw the
# work away and leave the run to recovery once its heartbeat goes stale.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
# Queues by concern, so a slow remote never delays an invitation email and a catalog fetch never
# delays a payroll admin's sync. Every queue is declared, so a worker started without -Q consumes
# all of them (run_local, the test workers); docker-compose.yml runs a worker per queue.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name)
                      for name in ("sync", "reference", "mail")]
# An unrouted task still runs: the sync workers are always there.
CELERY_TASK_DEFAULT_QUEUE = "sync"
CELERY_TASK_ROUTES = {
    "timesync.tasks.execute_sync_run": {"queue": "sync"},
    "timesync.tasks.recover_sync_runs": {"queue": "sync"},
    "timesync.tasks.start_scheduled_syncs": {"queue": "sync"},
    "timesync.tasks.process_procore_event": {"queue": "sync"},
    "timesync.tasks.sweep_procore_integrations": {"queue": "sync"},
    "timesync.tasks.send_inbound_failure_email": {"queue": "mail"},
    "timesync.tasks.fetch_reference_catalog": {"queue": "reference"},
    "timesync.tasks.send_invitation_email": {"queue": "mail"},
    "timesync.tasks.send_sync_failure_email": {"queue": "mail"},
    "timesync.tasks.send_reconnect_needed_email": {"queue": "mail"},
    "timesync.tasks.send_sign_up_email": {"queue": "mail"},
}

# --- Sync engine ----------------------------------------------------------------------------
# A running run that has not beaten its heart for this long lost its worker: it is re-enqueued.
SYNC_RUN_STALE_SECONDS = env.int("SYNC_RUN_STALE_SECONDS", default=120)
SYNC_MAX_ATTEMPTS = env.int("SYNC_MAX_ATTEMPTS", default=8)
# How long a remote may still apply a write after it was sent (its longest request lifetime,
# well past our 30 s read timeout). A write whose answer was lost is looked up by its key only
# after this, so a late-applied write is adopted instead of being sent twice.
SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = env.float("SYNC_REMOTE_REQUEST_LIFETIME_SECONDS",
                                                 default=90.0)
# Runs of one integration executing at once: more workers do not make one remote faster.
SYNC_MAX_RUNS_PER_INTEGRATION = env.int("SYNC_MAX_RUNS_PER_INTEGRATION", default=2)
# A queued run whose message is this old without being claimed is sent to the broker again
# (at most once per this period): a broker restart may have lost it.
SYNC_RUN_LOST_SECONDS = env.int("SYNC_RUN_LOST_SECONDS", default=15 * 60)
SYNC_RETRY_BASE_SECONDS = env.float("SYNC_RETRY_BASE_SECONDS", default=5.0)
# Far below the broker's visibility timeout: a longer countdown would be delivered twice.
SYNC_RETRY_MAX_SECONDS = env.float("SYNC_RETRY_MAX_SECONDS", default=600.0)
# How long a Plexxis call may wait for an answer before its outcome counts as unknown. The chaos
# harness shortens it so that a write the remote holds (and applies late) outlives the client.
PLEXXIS_READ_TIMEOUT_SECONDS = env.float("PLEXXIS_READ_TIMEOUT_SECONDS", default=30.0)
# The same for Procore's API (the chaos harness shortens it for the same reason).
PROCORE_READ_TIMEOUT_SECONDS = env.float("PROCORE_READ_TIMEOUT_SECONDS", default=30.0)
# Hosts a connector's address may name although they are private (the local emulators).
# Empty in production: an admin-typed URL must not make our servers call our own network.
CONNECTOR_PRIVATE_HOSTS_ALLOWED = env.list(
    "CONNECTOR_PRIVATE_HOSTS_ALLOWED", default=["127.0.0.1", "localhost"] if DEBUG else []
)
# Ports a connector's public address may name: https's own unless a customer's remote answers
# elsewhere (every other port is a service of someone's network, ssh or a database).
CONNECTOR_ALLOWED_PORTS = env.list("CONNECTOR_ALLOWED_PORTS", cast=int, default=[443])
# Links in emails (the failure alert points at the run's log).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# How often beat asks for lost runs to be found and sent again (lowered by tests that kill workers).
SYNC_RECOVERY_INTERVAL_SECONDS = env.float("SYNC_RECOVERY_INTERVAL_SECONDS", default=60.0)
PROCORE_SWEEP_INTERVAL_SECONDS = env.int("PROCORE_SWEEP_INTERVAL_SECONDS", default=15 * 60)
# The QuickBooks Web Connector (timesync/sync/web_connector.py): how often the .qwc file asks it
# to run (0: only when someone clicks Update Selected), how long a ticket lives, and how long a
# session may stay silent before another Web Connector of the same integration is let in.
QBWC_RUN_EVERY_MINUTES = env.int("QBWC_RUN_EVERY_MINUTES", default=15)
QBWC_TICKET_MAX_AGE_SECONDS = env.int("QBWC_TICKET_MAX_AGE_SECONDS", default=60 * 60)
QBWC_SESSION_IDLE_SECONDS = env.int("QBWC_SESSION_IDLE_SECONDS", default=5 * 60)
# QuickBooks' lists (employees, customers and jobs, items, wage items) are read again in a session
# once the copy is older than this, or when someone asks ("Refresh from QuickBooks").
QBWC_CATALOG_MAX_AGE_SECONDS = env.int("QBWC_CATALOG_MAX_AGE_SECONDS", default=12 * 60 * 60)
CELERY_BEAT_SCHEDULE = {
    "recover-lost-sync-runs": {"task": "timesync.tasks.recover_sync_runs",
                               "schedule": SYNC_RECOVERY_INTERVAL_SECONDS},
    "start-scheduled-syncs": {"task": "timesync.tasks.start_scheduled_syncs", "schedule": 60.0},
    # Procore's webhooks are best effort: the sweep applies what they missed.
    "sweep-procore": {"task": "timesync.tasks.sweep_procore_integrations",
                      "schedule": PROCORE_SWEEP_INTERVAL_SECONDS},
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
