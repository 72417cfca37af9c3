"""Settings for every environment, read from the environment.

DJANGO_ENV=development (the default) gives embedded defaults: SQLite, a broker that needs no
server and a local mail catcher. DJANGO_ENV=production demands a secret key and allowed hosts and
turns on every HTTPS protection that `manage.py check --deploy` looks for. DATABASE_URL and
REDIS_URL switch any environment to PostgreSQL and Redis.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.conf.locale import LANG_INFO
from django.core.exceptions import ImproperlyConfigured

from mailboxes import jobs
from records import jobs as records_jobs

from .env import database_from_url, email_from_url, env_bool, env_int, env_list, env_str
from .heartbeats import HEARTBEAT

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CRM_VAR_DIR", str(BASE_DIR / "var")))

ENVIRONMENT = env_str("DJANGO_ENV", "development")
if ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured("DJANGO_ENV must be development or production")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required in production")
    SECRET_KEY = "development-only-secret-key-do-not-use-in-production-0123456789"
# Former keys, still accepted (sessions, signed links, SMTP token and API key hashes) while a
# rotation settles; the first key signs.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required in production")
# The account's tracking domain (Settings > Email > Sending), served like the hosts above: one
# variable for the app and for docker-compose's Caddy, which gets its certificate.
CRM_TRACKING_HOST = env_str("CRM_TRACKING_HOST").strip().lower().rstrip(".")
if CRM_TRACKING_HOST:
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", CRM_TRACKING_HOST):
        raise ImproperlyConfigured(
            f"CRM_TRACKING_HOST must be a host name like t.example.com, not {CRM_TRACKING_HOST!r}"
        )
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, CRM_TRACKING_HOST]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_htmx",
    "template_partials",
    "csp",
    "crm_mail",
    "records",
    "privacy",
    "mailboxes",
    "sequences",
    "transactional",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files need no policy; every page gets CONTENT_SECURITY_POLICY.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "records.middleware.UserTimezoneMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the login page's message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm_mail.urls"
WSGI_APPLICATION = "crm_mail.wsgi.application"

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
                "crm_mail.context.base",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), BASE_DIR
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool(
    "CRM_DB_PREPARED_STATEMENTS", True
):
    # A few hot statements are prepared once per connection (records/db.py); Django turns
    # prepared statements off (None) for poolers that cannot keep them. Django's own queries
    # bind client-side and are never prepared, whatever this number.
    DATABASES["default"]["OPTIONS"] = {"prepare_threshold": 5}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded database is shared by the web server and the worker: wait for locks, and
    # keep a write-ahead log so that a page never waits for a worker's commit (readers do
    # not wait for the one writer; a worker stopped mid-commit held every page before).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL",
    }
    # Tests on SQLite use a file, not the shared in-memory database: there two threads (the
    # browser tests' live server, the tests of concurrent workers) fail at once with "table is
    # locked" instead of waiting for the lock.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "records.User"
# Login throttling (django-axes): after CRM_LOGIN_FAILURE_LIMIT wrong passwords for one
# username, or from one client address, sign-in is refused for that username or address, the
# right password included, until CRM_LOGIN_LOCKOUT_MINUTES pass without another failure or an
# admin unlocks it (Settings > Users, /django-admin/, `manage.py axes_reset`). A successful
# sign-in clears the username's failures. The client address is REMOTE_ADDR, or behind the
# proxy (DJANGO_BEHIND_PROXY) the address the proxy put last in X-Forwarded-For.
# SMTP API tokens sign in through a backend of their own (never the web login's), after axes,
# so that their failures count and lock out the same way (transactional/credentials/).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "transactional.credentials.backends.SmtpTokenBackend",
]
AXES_FAILURE_LIMIT = env_int("CRM_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CRM_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "crm_mail.login.client_ip"
AXES_USERNAME_CALLABLE = "crm_mail.login.client_username"
AXES_LOCKOUT_CALLABLE = "crm_mail.login.locked_out"
# Failures are kept (that is the lockout); successful sign-ins are not logged by axes.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no banner on every manage.py command
# The SMTP API server (`manage.py smtp_api`, transactional/smtp/): STARTTLS on the submission
# port, implicit TLS on the other; the certificate and key as PEM files (none: a self-signed
# pair under var/, made for `make run` and tests, refused in production). Per token, at most
# so many messages a minute and an hour (0: no limit), counted in the cache (Redis: every
# server process together). A client address's failed logins are answered that many
# milliseconds later each time (up to ten times), before django-axes locks it out.
SMTP_API_HOST = env_str("CRM_SMTP_API_HOST", "127.0.0.1")
SMTP_API_PORT = env_int("CRM_SMTP_API_PORT", 2587)
SMTP_API_TLS_PORT = env_int("CRM_SMTP_API_TLS_PORT", 2465)
SMTP_API_CERT_FILE = env_str("CRM_SMTP_API_CERT_FILE")
SMTP_API_KEY_FILE = env_str("CRM_SMTP_API_KEY_FILE")
SMTP_API_HOSTNAME = env_str("CRM_SMTP_API_HOSTNAME", "localhost")
SMTP_API_MAX_MESSAGE_BYTES = env_int("CRM_SMTP_API_MAX_MESSAGE_BYTES", 10 * 1024 * 1024)
SMTP_API_MINUTE_LIMIT = env_int("CRM_SMTP_API_MINUTE_LIMIT", 600)
SMTP_API_HOUR_LIMIT = env_int("CRM_SMTP_API_HOUR_LIMIT", 10_000)
SMTP_API_FAILURE_DELAY_MS = env_int("CRM_SMTP_API_FAILURE_DELAY_MS", 1000)
# Server processes sharing the ports (manage.py smtp_api --processes).
SMTP_API_PROCESSES = env_int("CRM_SMTP_API_PROCESSES", 1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "records:home"
LOGOUT_REDIRECT_URL = "login"

# The UI's language; a catalogue for it goes in locale/<code>/LC_MESSAGES/ (makemessages).
LANGUAGE_CODE = env_str("CRM_LANGUAGE", "en-us").strip().lower()
if LANGUAGE_CODE not in LANG_INFO and LANGUAGE_CODE.partition("-")[0] not in LANG_INFO:
    raise ImproperlyConfigured(
        f"CRM_LANGUAGE must be a language code like en-us or it, not {LANGUAGE_CODE!r}"
    )
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
# Dates as the product writes them (crm_mail/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["crm_mail.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production, serve static files straight from the source folders, no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
MEDIA_ROOT = VAR_DIR / "media"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis when REDIS_URL is set, otherwise kombu's SQLAlchemy transport on a SQLite file
# under var/, so that `make run` needs no server. Chosen by measure: web, worker and beat on
# one embedded broker, five starts of 600 jobs each. kombu's filesystem transport killed the
# worker in one start of five ("Unrecoverable error: JSONDecodeError": a reader may open a
# message or exchange file before its writer has written it); SQLite's transactions lost,
# doubled and crashed nothing, once its tables and queues exist before the processes start
# (crm_mail/broker.py, called by the dev runner).
BROKER_FILE = VAR_DIR / "broker.sqlite3"
CELERY_BROKER_URL = REDIS_URL or f"sqla+sqlite:///{BROKER_FILE}"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    # No wait on Redis is endless: one that accepts connections and never answers (hung, or
    # gone behind a firewall) fails a publish of beat or of a task after these seconds, and a
    # worker reconnects. Well above BRPOP's 1 s wait, so an idle worker never times out. A job
    # queued by the web waits far less (mailboxes/jobs.py, ENQUEUE_TIMEOUT).
    {"socket_connect_timeout": 5, "socket_timeout": 5}
    if REDIS_URL
    # Passed to SQLAlchemy's create_engine: wait this many seconds for SQLite's write lock,
    # which the worker takes for a moment on each poll of each queue.
    else {"connect_args": {"timeout": 20}}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connections before and after every task; with
# this set, only once this many tasks have run. Set out of reach: a worker keeps its
# connections as a web process does (crm_mail/celery.py, keep_connections).
CELERY_DB_REUSE_MAX = 2**62
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# One queue per job, each with workers of its own (docker-compose.yml, README "Scaling"), so
# a long initial sync never holds the worker slot an email is waiting for. Routes apply to
# beat's tasks too. Anything not routed goes to the default queue, which every worker setup
# also consumes.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    # sync: reading inboxes (a first sync of a large inbox runs for minutes)
    jobs.SYNC_MAILBOX: {"queue": "sync"},
    jobs.SYNC_ALL: {"queue": "sync"},
    jobs.RECONCILE_ALL: {"queue": "sync"},
    # send: outgoing email, its periodic pass and the Sent-folder copies
    jobs.SEND_OUTBOUND: {"queue": "send"},
    jobs.SEND_DUE: {"queue": "send"},
    jobs.FILE_SENT_COPIES: {"queue": "send"},
    jobs.FILE_OWED_COPIES: {"queue": "send"},
    # bodies: parsing the bodies of logged messages, and CSV imports (long batched work
    # that must not hold a housekeeping slot for minutes)
    jobs.FILL_BODIES: {"queue": "bodies"},
    records_jobs.IMPORT_RUN: {"queue": "bodies"},
    # housekeeping: short periodic or one-off chores
    jobs.TRACKING_FLUSH: {"queue": "housekeeping"},
    jobs.REVOKE_GOOGLE_TOKEN: {"queue": "housekeeping"},
    jobs.CONVERSATIONS_WAKE: {"queue": "housekeeping"},
    jobs.REPORTS_REFRESH: {"queue": "housekeeping"},
    records_jobs.NOTIFY: {"queue": "housekeeping"},
    # sequences: the tick that runs due sequence steps (a pass of a few seconds, every few
    # seconds; a queue of its own so it never holds a send or housekeeping slot, and its
    # workers scale apart: two ticks at once each run different enrollments)
    jobs.SEQUENCE_TICK: {"queue": "sequences"},
    # transactional: email through the sending pool (transactional/pool/), never waiting
    # behind an inbox's sequence or one-to-one mail on "send"
    jobs.SEND_TRANSACTIONAL: {"queue": "transactional"},
    jobs.SEND_TRANSACTIONAL_DUE: {"queue": "transactional"},
    jobs.SINGLE_SEND: {"queue": "transactional"},
    jobs.SINGLE_SEND_DUE: {"queue": "transactional"},
    # and its webhooks (transactional/events/): short POSTs with short timeouts
    jobs.DELIVER_WEBHOOK: {"queue": "transactional"},
    jobs.DELIVER_WEBHOOKS_DUE: {"queue": "transactional"},
}
# How often every inbox is synced; /health/ measures how late the most belated sync is by it.
CRM_SYNC_SECONDS = env_int("CRM_SYNC_SECONDS", 120)
# How often an open conversations inbox asks whether anything changed (a 304 when not).
CRM_CONVERSATIONS_POLL_SECONDS = env_int("CRM_CONVERSATIONS_POLL_SECONDS", 10)
# How often beat runs the sequence tick (due steps wait at most about this long).
SEQUENCE_TICK_SECONDS = 5
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sync-inboxes": {"task": jobs.SYNC_ALL, "schedule": float(CRM_SYNC_SECONDS)},
    "parse-bodies": {"task": jobs.FILL_BODIES, "schedule": 60.0},
    "reconcile-inboxes": {"task": jobs.RECONCILE_ALL, "schedule": 6 * 3600.0},
    # Scheduled email, retries and mail held back by an inbox's sending limits.
    "send-due-email": {"task": jobs.SEND_DUE, "schedule": 30.0},
    # Sent-folder copies a crashed worker or an unreachable server left owed.
    "file-owed-copies": {"task": jobs.FILE_OWED_COPIES, "schedule": 60.0},
    "tracking-flush": {"task": jobs.TRACKING_FLUSH, "schedule": 5.0},
    # Snoozed conversations whose time came (mailboxes/conversations/).
    "conversations-wake": {
        "task": jobs.CONVERSATIONS_WAKE,
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Emails whose report counts changed: rolled up again (mailboxes/reports/).
    "reports-refresh": {
        "task": jobs.REPORTS_REFRESH,
        "schedule": 15.0,
        "options": {"expires": 15.0},
    },
    # Transactional email whose domain's deferral is over, scheduled, or whose job was lost.
    "send-transactional-due": {
        "task": jobs.SEND_TRANSACTIONAL_DUE,
        "schedule": 15.0,
        "options": {"expires": 15.0},
    },
    # Single-send API requests whose job was lost (transactional/api/process.py).
    "single-send-due": {
        "task": jobs.SINGLE_SEND_DUE,
        "schedule": 15.0,
        "options": {"expires": 15.0},
    },
    # Webhook deliveries whose retry is due, or whose job was lost.
    "deliver-webhooks-due": {
        "task": jobs.DELIVER_WEBHOOKS_DUE,
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
    # Due sequence steps; a tick not started within its period is dropped, not piled up.
    "sequence-tick": {
        "task": jobs.SEQUENCE_TICK,
        "schedule": float(SEQUENCE_TICK_SECONDS),
        "options": {"expires": float(SEQUENCE_TICK_SECONDS)},
    },
}
# Every queue some worker must consume: each routed one, then the default.
CRM_QUEUES = list(
    dict.fromkeys([*(r["queue"] for r in CELERY_TASK_ROUTES.values()), CELERY_TASK_DEFAULT_QUEUE])
)
# Beat queues a heartbeat job to each queue this often; the worker that runs it records that
# the queue moves, and beat records its own tick as it queues them (crm_mail/heartbeats.py).
# /health/ reports a part whose last heartbeat is four of these old.
CRM_HEARTBEAT_SECONDS = env_int("CRM_HEARTBEAT_SECONDS", 15)
CELERY_BEAT_SCHEDULE.update(
    {
        f"heartbeat-{queue}": {
            "task": HEARTBEAT,
            "schedule": float(CRM_HEARTBEAT_SECONDS),
            "args": (queue,),
            # One that waited longer than /health/ allows proves nothing: dropped unrun.
            "options": {"queue": queue, "expires": 4 * CRM_HEARTBEAT_SECONDS},
        }
        for queue in CRM_QUEUES
    }
)

# Secrets at rest (inbox passwords, OAuth tokens): Fernet keys, the first one encrypts.
# Required in production; development derives one from SECRET_KEY.
CRM_ENCRYPTION_KEYS = env_list("CRM_ENCRYPTION_KEYS")
if PRODUCTION and not CRM_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("CRM_ENCRYPTION_KEYS is required in production")

# Absolute links in email (unsubscribe, tracking) and OAuth callbacks start with this.
CRM_BASE_URL = env_str("CRM_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# OAuth apps for Gmail / Google Workspace and Office 365 (see README, "Connecting inboxes").
# The endpoint overrides exist for local fakes and sovereign clouds.
GOOGLE_CLIENT_ID = env_str("GOOGLE_CLIENT_ID")
GOOGLE_CLIENT_SECRET = env_str("GOOGLE_CLIENT_SECRET")
GOOGLE_AUTH_URI = env_str("GOOGLE_AUTH_URI", "https://accounts.google.com/o/oauth2/v2/auth")
GOOGLE_TOKEN_URI = env_str("GOOGLE_TOKEN_URI", "https://oauth2.googleapis.com/token")
GOOGLE_REVOKE_URI = env_str("GOOGLE_REVOKE_URI", "https://oauth2.googleapis.com/revoke")
GMAIL_API_BASE = env_str("GMAIL_API_BASE", "https://gmail.googleapis.com/")
MICROSOFT_CLIENT_ID = env_str("MICROSOFT_CLIENT_ID")
MICROSOFT_CLIENT_SECRET = env_str("MICROSOFT_CLIENT_SECRET")
MICROSOFT_AUTHORITY = env_str("MICROSOFT_AUTHORITY", "https://login.microsoftonline.com/common")
MICROSOFT_GRAPH_BASE = env_str("MICROSOFT_GRAPH_BASE", "https://graph.microsoft.com/v1.0")
# TLS verification for the two OAuth providers: true, or a CA bundle path (local fakes).
OAUTH_VERIFY = env_str("CRM_OAUTH_CA_BUNDLE") or True

# The one HTML sanitizer's engine: nh3 (default, maintained) or bleach (kept as an engine).
CRM_HTML_SANITIZER = env_str("CRM_HTML_SANITIZER", "nh3")
if CRM_HTML_SANITIZER not in ("nh3", "bleach"):
    raise ImproperlyConfigured("CRM_HTML_SANITIZER must be nh3 or bleach")

# Servers users name (IMAP/SMTP hosts, EWS and Autodiscover URLs) must have public addresses;
# these networks (CIDR or single addresses) and host names are allowed as well: a self-hosted
# mail server on the LAN. Loopback, private, link-local (cloud metadata) and the like are
# refused otherwise (mailboxes/providers/network.py).
CRM_MAIL_SERVER_ALLOWLIST = env_list("CRM_MAIL_SERVER_ALLOWLIST")

# `make run` sends the demo inboxes' mail to a local catcher shown at /dev/mail/.
CRM_MAIL_CATCHER_DIR = None if PRODUCTION else VAR_DIR / "catcher"
CRM_MAIL_CATCHER_PORT = env_int("CRM_MAIL_CATCHER_PORT", 1025)

# System email: what the product itself sends a user (records/notifications.py: sequence task
# reminders), not users' own mail, which leaves through their connected inboxes. Development
# sends it to the catcher above; production sends none until it is set (each skipped
# notification logs a line, and Settings > System health says so).
CRM_SYSTEM_EMAIL_URL = env_str(
    "CRM_SYSTEM_EMAIL_URL", "" if PRODUCTION else f"smtp://127.0.0.1:{CRM_MAIL_CATCHER_PORT}"
)
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
globals().update(email_from_url(CRM_SYSTEM_EMAIL_URL))  # EMAIL_HOST, EMAIL_PORT, ...
EMAIL_TIMEOUT = 10  # seconds: a server that never answers does not hold a worker
DEFAULT_FROM_EMAIL = (
    env_str("CRM_SYSTEM_EMAIL_FROM") or f"CRM <notifications@{urlparse(CRM_BASE_URL).hostname}>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The composer's limits, checked on the server.
CRM_ATTACHMENTS_MAX_BYTES = env_int("CRM_ATTACHMENTS_MAX_MB", 20) * 1024 * 1024
CRM_MAX_RECIPIENTS = env_int("CRM_MAX_RECIPIENTS", 100)
DATA_UPLOAD_MAX_MEMORY_SIZE = CRM_ATTACHMENTS_MAX_BYTES + 5 * 1024 * 1024

# The largest CSV file Settings > Import accepts (records/imports/).
CRM_IMPORT_MAX_MB = env_int("CRM_IMPORT_MAX_MB", 50)

# Unsubscribe / manage-preferences links in email stay valid this long.
PRIVACY_LINK_MAX_AGE_DAYS = env_int("CRM_PRIVACY_LINK_MAX_AGE_DAYS", 400)

# Record lists and timelines.
RECORDS_PAGE_SIZE = env_int("CRM_RECORDS_PAGE_SIZE", 25)
TIMELINE_PAGE_SIZE = env_int("CRM_TIMELINE_PAGE_SIZE", 20)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie; the token travels in hx-headers on <body>.
X_FRAME_OPTIONS = "DENY"
# The Content-Security-Policy of every page (django-csp). Script only from the app's own static
# files: no inline <script>, no on*= attributes, no javascript: URLs, no eval (htmx runs with
# allowEval off, see base.html), so HTML that slips into a page runs nothing. Nothing loads from
# other hosts either: pasted images are data: URLs, and a remote image in a snippet or a quoted
# email is not fetched in the app's pages (it is in the email as sent). A view with its own
# stricter policy sets the header itself (the email body frame: mailboxes/timeline/views/
# threads.py, no script at all), which django-csp leaves alone; no view adds a nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        # style="" attributes, not <style> elements: the composer's editor shows email HTML,
        # whose layout lives in inline styles (signatures, quoted replies, the editor's own
        # alignment and fonts). They cannot run script, and the sanitizer keeps only a list of
        # layout properties without url() (no position, so no overlays).
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],  # the sandboxed email body frame
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # load-balancer probes speak plain HTTP
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Behind the reverse proxy that terminates TLS (Caddy in docker-compose.yml), and only then:
# trust its X-Forwarded-Proto for "is this request HTTPS" and its X-Forwarded-For for the
# client's address (login throttling). A server reached directly must not, or any client
# could claim HTTPS or another address with a header.
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"library_noise": {"()": "crm_mail.log_filters.LibraryNoise"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["library_noise"]}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}
