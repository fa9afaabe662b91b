"""Propylon's one settings module.

Everything comes from environment variables with safe defaults, so the quick start needs none
and production sets what it must. ``PROPYLON_ENV=production`` switches on the hardening that
``propylon check --deploy`` looks for and refuses to start without a real secret key and hosts.
``DEBUG`` is on only when ``PROPYLON_ENV=development`` says so (the quick start sets it): a start
that names no environment gets local defaults but never Django's debug pages, which list every
URL and setting to whoever asks. See docs/deployment.md for the full list of variables.
"""

import importlib.util
import ipaddress
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Unset (empty) is neither: local defaults (SQLite, eager jobs, a generated key) with DEBUG off.
PROPYLON_ENV = env.str("PROPYLON_ENV", default="").strip().lower()
if PROPYLON_ENV not in {"", "development", "production"}:
    raise ImproperlyConfigured(
        f"PROPYLON_ENV must be 'development' or 'production' (or unset), not {PROPYLON_ENV!r}."
    )
IS_PRODUCTION = PROPYLON_ENV == "production"
IS_DEVELOPMENT = PROPYLON_ENV == "development"

# Local state (SQLite database, the development secret key, uploads) lives in one git-ignored
# directory so that a fresh clone starts clean and `rm -r var/` resets a development install.
DATA_DIR = Path(env.str("PROPYLON_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
if not IS_PRODUCTION:
    DATA_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret_key() -> str:
    """Generate the development key once and keep it, so sessions survive restarts."""
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


if IS_PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random string of at least 50 characters in production "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()

DEBUG = env.bool("DEBUG", default=IS_DEVELOPMENT)

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
if IS_PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names Propylon is served under.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_celery_beat",
    "guardian",
    "portal.apps.PortalConfig",
    "inventory.apps.InventoryConfig",
    "approvals.apps.ApprovalsConfig",
    "costs.apps.CostsConfig",
    "operations.apps.OperationsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "portal.middleware.SecurityHeadersMiddleware",
    "portal.middleware.RejectNullCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After sign-in (the 413 page shows who is signed in); still before the CSRF check reads
    # the body, which happens in process_view, after every middleware's __call__.
    "portal.middleware.RequestTooLargeMiddleware",
    "portal.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "portal.context_processors.portal",
            ],
        },
    },
]

#
# Database
#

# An empty DATABASE_URL counts as unset, so `DATABASE_URL= propylon ...` gives the default.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'propylon.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the quick start serve pages while an eager job writes; IMMEDIATE transactions
    # take the write lock up front so concurrent writers queue instead of failing mid-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portal.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
    "portal.backends.RolePermissionBackend",
]
# Propylon never grants anything to anonymous visitors; no guardian anonymous user is needed.
ANONYMOUS_USER_NAME = None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

#
# Single sign-on (OpenID Connect). Off unless OIDC_CLIENT_ID is set; local accounts keep working.
# Endpoints are discovered from OIDC_ISSUER unless given one by one. See docs/deployment.md.
#

OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
PROPYLON_OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
PROPYLON_OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
PROPYLON_OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
OIDC_RP_SIGN_ALGO = env.str("OIDC_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", default="openid email profile")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_USERINFO_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_JWKS_ENDPOINT", default="")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=10.0)
OIDC_CREATE_USER = env.bool("OIDC_CREATE_USER", default=True)
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"
# The claim that lists the person's directory groups, and which Propylon role each group grants:
# OIDC_ROLE_MAP="ai-coe:coe-reviewer,ai-coe-leads:coe-lead,audit:auditor". When the claim is
# present the directory is the source of truth: roles it does not grant are removed at sign-in.
PROPYLON_OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
PROPYLON_OIDC_ROLE_MAP = dict(
    pair.split(":", 1) for pair in env.list("OIDC_ROLE_MAP", default=[]) if ":" in pair
)
if PROPYLON_OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.insert(0, "portal.sso.PortalOIDCBackend")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

#
# Internationalisation and time: aware UTC everywhere, local display is the browser's business.
#

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

#
# Static and uploaded files
#

STATIC_URL = "/static/"
# Plotly's bundle ships inside the plotly wheel (no CDN: DESIGN.md §2): served as
# vendor/plotly/plotly.min.js.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/plotly", Path(importlib.util.find_spec("plotly").origin).parent / "package_data"),
]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production static files come straight from the finders, so the quick start needs no
# collectstatic; autorefresh goes with it, or WhiteNoise would scan (and warn about) a missing
# STATIC_ROOT at start-up now that DEBUG is off unless the environment says development.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = not IS_PRODUCTION

#
# Email: console in development, any backend through EMAIL_URL, e.g.
# smtp+tls://user:password@smtp.example.com:587 (STARTTLS) or smtp+ssl://...:465.
#

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
# django-environ puts query-string extras in OPTIONS, which is not a Django email setting.
EMAIL_CONFIG.pop("OPTIONS", None)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Propylon <propylon@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

#
# Celery: a broker URL means real workers; no broker URL means tasks run eagerly in-process.
#

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# An eager job that fails is recorded on its JobRun; it must not turn the request into a 500.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# JobRun rows are the record of every job; Celery's own result store is not needed.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Django's LOGGING (below) decides where worker logs go, as it does for web processes.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="propylon")
# Redis redelivers a message a worker took but never acknowledged (acks_late jobs) after this many
# seconds: it is how a job whose whole worker was killed comes back. Kept short so that happens
# within minutes; a job still running when its message comes back is not started twice, because
# the redelivered copy sees the run's fresh heartbeat and is dropped (portal.jobs).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600)}
# A running job's worker touches its JobRun this often; a run silent for STALE_AFTER seconds is
# ended as failed by the portal.fail_stale_job_runs sweep. The default leaves the redelivery
# above five minutes to restart it first.
PROPYLON_JOB_HEARTBEAT_SECONDS = env.int("PROPYLON_JOB_HEARTBEAT_SECONDS", default=30)
PROPYLON_JOB_STALE_AFTER_SECONDS = env.int(
    "PROPYLON_JOB_STALE_AFTER_SECONDS", default=CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] + 300
)
if PROPYLON_JOB_STALE_AFTER_SECONDS < 3 * PROPYLON_JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "PROPYLON_JOB_STALE_AFTER_SECONDS must be at least three PROPYLON_JOB_HEARTBEAT_SECONDS, "
        "or live jobs would be ended as failed between two heartbeats."
    )

#
# REST API
#

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "portal.api.permissions.TokenScopePermission",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "portal.api.exceptions.api_exception_handler",
    # DRF's parsers, refusing text no database can store (NUL, unpaired surrogates).
    "DEFAULT_PARSER_CLASSES": [
        "portal.api.parsers.JSONParser",
        "portal.api.parsers.FormParser",
        "portal.api.parsers.MultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Propylon API",
    "DESCRIPTION": (
        "The AI portfolio: use cases, ownership, gates, maturity, cost and audit. "
        "Authenticate with a session or with `Authorization: Token <key>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes internal systems; only signed-in people and tokens may read it.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.document_error_responses",
    ],
    "SCHEMA_PATH_PREFIX": "/api/",
    # Several models have a "kind" or "status"; name each enum after what it means.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "portal.choices.JobStatusChoices.pairs",
        "TokenKindEnum": "portal.models.TokenKind.pairs",
        "AuditChainStatusEnum": ["intact", "broken"],
        "DataSensitivityEnum": "inventory.choices.DataSensitivityChoices.pairs",
        "RiskTierEnum": "inventory.choices.RiskTierChoices.pairs",
        "RiskLevelEnum": "approvals.choices.RiskLevelChoices.pairs",
        "MaturityCheckStatusEnum": "approvals.choices.CheckStatusChoices.pairs",
        "NotificationChannelEnum": "portal.choices.NotificationChannelChoices.pairs",
        "ChannelEnum": "portal.choices.ChannelChoices.pairs",
        "ApprovalStatusEnum": "approvals.choices.ApprovalStatusChoices.pairs",
        "DeploymentStatusEnum": "operations.choices.DeploymentStatusChoices.pairs",
        "DeploymentReportedStatusEnum": ["running", "succeeded", "failed"],
        "DeploymentEventKindEnum": "operations.choices.DeploymentEventKindChoices.pairs",
        "HealthMetricEnum": "operations.choices.HealthMetricChoices.pairs",
    },
}

#
# Security. Production turns on every transport protection `check --deploy` asks for; each one
# can be relaxed by its own variable where a proxy terminates TLS differently.
#

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# htmx sends the token from the hx-headers attribute on <body>, so scripts never read the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)

if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # Load balancers probe over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("USE_X_FORWARDED_PROTO", default=True):
        # gunicorn sits behind a TLS-terminating proxy that sets this header (docs/deployment.md).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy sent by portal.middleware.SecurityHeadersMiddleware. Our pages run no
# inline script. Inline *styles* stay allowed because the Django admin and Plotly set them.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
)

#
# Logging: one line per event on stderr; the process manager decides where it goes.
#

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "filters": {
        "permission_denied_one_line": {"()": "portal.log_filters.PermissionDeniedOneLine"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Records logged by django.request itself pass this logger's filters before any handler.
        "django.request": {"level": "INFO", "filters": ["permission_denied_one_line"]},
        "portal": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "inventory": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "approvals": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "costs": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "celery": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Propylon's own knobs.
# Signed checkpoints of the audit trail's head (portal/audit.py) go to a directory the database's
# users cannot write, so deleting the newest entries in the database is detected. The key signs
# them; without one it is derived from SECRET_KEY (docs/audit-trail.md: better set your own).
PROPYLON_AUDIT_CHECKPOINT_DIR = Path(
    env.str("PROPYLON_AUDIT_CHECKPOINT_DIR", default=str(DATA_DIR / "audit-checkpoints"))
)
PROPYLON_AUDIT_CHECKPOINT_KEY = env.str("PROPYLON_AUDIT_CHECKPOINT_KEY", default="")
PROPYLON_JOB_RETENTION_DAYS = env.int("PROPYLON_JOB_RETENTION_DAYS", default=90)
PROPYLON_READYZ_BROKER_TIMEOUT = env.float("PROPYLON_READYZ_BROKER_TIMEOUT", default=2.0)
# Behind a proxy REMOTE_ADDR is the proxy. X-Forwarded-For is believed only from these addresses
# or networks (e.g. "10.0.0.5,10.1.0.0/16"); anyone else could write whatever they like in it.
if env.bool("PROPYLON_USE_X_FORWARDED_FOR", default=False):
    raise ImproperlyConfigured(
        "PROPYLON_USE_X_FORWARDED_FOR is replaced by PROPYLON_TRUSTED_PROXIES: list the proxy "
        "addresses or networks whose X-Forwarded-For header may be believed (docs/deployment.md)."
    )


def _trusted_proxies(values: list[str]) -> tuple:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"PROPYLON_TRUSTED_PROXIES: {value.strip()!r} is not an IP address or network "
                "(examples: 10.0.0.5, 10.1.0.0/16, fd00::/8)."
            ) from None
    return tuple(networks)


PROPYLON_TRUSTED_PROXIES = _trusted_proxies(env.list("PROPYLON_TRUSTED_PROXIES", default=[]))
# Sign-in throttling (portal/throttling.py): a doubling delay per (account, address) pair after a
# few failures, and a looser limit per address across accounts. No per-account lock.
PROPYLON_LOGIN_FAILURES_BEFORE_DELAY = env.int("PROPYLON_LOGIN_FAILURES_BEFORE_DELAY", default=5)
PROPYLON_LOGIN_DELAY_SECONDS = env.int("PROPYLON_LOGIN_DELAY_SECONDS", default=30)
PROPYLON_LOGIN_MAX_DELAY_MINUTES = env.int("PROPYLON_LOGIN_MAX_DELAY_MINUTES", default=15)
PROPYLON_LOGIN_PAIR_WINDOW_HOURS = env.int("PROPYLON_LOGIN_PAIR_WINDOW_HOURS", default=24)
PROPYLON_LOGIN_MAX_FAILURES_PER_ADDRESS = env.int("PROPYLON_LOGIN_MAX_FAILURES_PER_ADDRESS", default=20)
PROPYLON_LOGIN_LOCKOUT_MINUTES = env.int("PROPYLON_LOGIN_LOCKOUT_MINUTES", default=15)

# Notifications (portal.notifications): links in emails and chat messages start with the
# portal's public address; chat notifications go to incoming webhooks when their URL is set.
PROPYLON_BASE_URL = env.str("PROPYLON_BASE_URL", default="http://127.0.0.1:8000")
PROPYLON_SLACK_WEBHOOK_URL = env.str("PROPYLON_SLACK_WEBHOOK_URL", default="")
PROPYLON_TEAMS_WEBHOOK_URL = env.str("PROPYLON_TEAMS_WEBHOOK_URL", default="")
PROPYLON_WEBHOOK_TIMEOUT = env.float("PROPYLON_WEBHOOK_TIMEOUT", default=5.0)
# A failed delivery is retried: by a worker with minutes of backoff, and in eager mode (the quick
# start, no broker) a few times in-process right away, each after a short pause (base * 2^n s).
PROPYLON_NOTIFICATION_EAGER_RETRIES = env.int("PROPYLON_NOTIFICATION_EAGER_RETRIES", default=2)
PROPYLON_NOTIFICATION_RETRY_BASE_SECONDS = env.float("PROPYLON_NOTIFICATION_RETRY_BASE_SECONDS", default=0.5)
# Audits (operations.signal_checks): a use case in production without thresholds counts as
# unmonitored when no production environment reported any health signal for this many hours.
PROPYLON_AUDIT_SIGNAL_STALE_HOURS = env.int("PROPYLON_AUDIT_SIGNAL_STALE_HOURS", default=48)
# Cost imports (docs/deployment.md): local files are read only below this folder, and a running
# import silent for this many minutes is taken as abandoned (its process died) and cleaned up.
# Empty: DATA_DIR/cost-imports (costs.models.cost_import_root).
PROPYLON_COST_IMPORT_ROOT = env.str("PROPYLON_COST_IMPORT_ROOT", default="")
PROPYLON_COST_IMPORT_ABANDONED_MINUTES = env.int("PROPYLON_COST_IMPORT_ABANDONED_MINUTES", default=15)
# Rows a billing file is read and written in at a time: memory grows with it, not with the file.
PROPYLON_COST_IMPORT_BATCH_ROWS = env.int("PROPYLON_COST_IMPORT_BATCH_ROWS", default=100_000)
# Value (KPI readings) is in this currency and ROI compares it with cost billed in it; other
# currencies are never converted (docs/costs.md, "Value and ROI").
PROPYLON_REPORTING_CURRENCY = env.str("PROPYLON_REPORTING_CURRENCY", default="USD").upper()
# Audit findings (approvals.services.findings): a finding's risk is accepted for at most this
# many days; then the finding opens again and someone decides anew.
PROPYLON_FINDING_MAX_ACCEPTANCE_DAYS = env.int("PROPYLON_FINDING_MAX_ACCEPTANCE_DAYS", default=365)

# Secrets Propylon keeps for outgoing calls (deployment targets' tokens and signing secrets) are
# encrypted at rest with Fernet. The first key encrypts, every key decrypts: to rotate, put a new
# key first, run `propylon rotate_secrets`, then drop the old key (docs/deployments.md). Without
# keys the one key is derived from SECRET_KEY (fine for the quick start, not for production).
PROPYLON_SECRET_KEYS = env.list("PROPYLON_SECRET_KEYS", default=[])

# Deployments (operations.tasks): a transient target failure (timeout, 5xx, 429) is retried up to
# MAX_ATTEMPTS dispatches in all, waiting RETRY_BASE_SECONDS * 2**(attempt-1) between them (capped
# at RETRY_MAX_WAIT_SECONDS; eager mode, where the request waits, caps each wait at one second).
# A signed status callback older or newer than REPLAY_SECONDS is refused.
PROPYLON_DEPLOY_MAX_ATTEMPTS = env.int("PROPYLON_DEPLOY_MAX_ATTEMPTS", default=5)
PROPYLON_DEPLOY_RETRY_BASE_SECONDS = env.float("PROPYLON_DEPLOY_RETRY_BASE_SECONDS", default=2.0)
PROPYLON_DEPLOY_RETRY_MAX_WAIT_SECONDS = env.float("PROPYLON_DEPLOY_RETRY_MAX_WAIT_SECONDS", default=60.0)
PROPYLON_CALLBACK_REPLAY_SECONDS = env.int("PROPYLON_CALLBACK_REPLAY_SECONDS", default=300)
# A deployment still in flight this long after its request is ended as failed by the poll job, so
# a lost callback never blocks its environment for good.
PROPYLON_DEPLOY_OUTCOME_HOURS = env.int("PROPYLON_DEPLOY_OUTCOME_HOURS", default=24)

# Audit checks (approvals/audit_checks/, costs/audit_checks.py, operations/audit_checks.py):
# an approval to production expiring within EXPIRY_WARNING_DAYS without a re-certification is a
# finding; so is a maturity assessment older than MATURITY_STALE_DAYS, a use case in a pilot
# (active) stage for longer than PILOT_STALLED_DAYS, and a cost source whose latest billing month
# leaves more than UNALLOCATED_SHARE of its cost unallocated (a fraction: 0.05 is 5 %).
PROPYLON_AUDIT_EXPIRY_WARNING_DAYS = env.int("PROPYLON_AUDIT_EXPIRY_WARNING_DAYS", default=30)
PROPYLON_AUDIT_MATURITY_STALE_DAYS = env.int("PROPYLON_AUDIT_MATURITY_STALE_DAYS", default=180)
PROPYLON_AUDIT_PILOT_STALLED_DAYS = env.int("PROPYLON_AUDIT_PILOT_STALLED_DAYS", default=120)


def _share(name: str, default: str) -> Decimal:
    value = env.str(name, default=default)
    try:
        share = Decimal(value)
    except InvalidOperation:
        share = None
    if share is None or not share.is_finite() or not Decimal(0) <= share <= Decimal(1):
        raise ImproperlyConfigured(f"{name}: {value!r} is not a fraction between 0 and 1 (0.05 is 5 %).")
    return share


PROPYLON_AUDIT_UNALLOCATED_SHARE = _share("PROPYLON_AUDIT_UNALLOCATED_SHARE", "0.05")
