"""Settings of the interop test project, all taken from the environment.

Used only by logpipe's Go tests (internal/interop), which run this project's
management commands against the real Kafka broker, Kinesis emulator and
PostgreSQL database. Environment variables:

LOGPIPE_DJANGO_DATABASE
    a PostgreSQL DSN, as libpq takes it: "host=... port=... user=... dbname=..."
    or "postgresql://user@host:port/dbname"; or "sqlite:///path/to/file.db".
    Default: a SQLite file in the temporary directory.
LOGPIPE_DJANGO_BACKEND
    "kafka" (default) or "kinesis": which of the original's backends to use.
LOGPIPE_DJANGO_OFFSETS
    "database" (default: the original's ModelOffsetStore, tables
    logpipe_kafkaoffset / logpipe_kinesisoffset) or "kafka" (consumer-group
    offsets in the broker; Kafka only).
LOGPIPE_DJANGO_KAFKA_BROKERS
    comma-separated bootstrap servers (default 127.0.0.1:19092).
LOGPIPE_DJANGO_KAFKA_GROUP
    consumer group id, used with LOGPIPE_DJANGO_OFFSETS=kafka.
LOGPIPE_DJANGO_KINESIS_ENDPOINT
    URL of a Kinesis emulator. Copied into AWS_ENDPOINT_URL_KINESIS, which
    boto3 honours for every client it creates, so the original's own
    boto3.client("kinesis", region_name=...) call reaches the emulator.
LOGPIPE_DJANGO_KINESIS_REGION
    the region (default us-east-1); it is also the region column of
    logpipe_kinesisoffset.
LOGPIPE_DJANGO_FORMAT, LOGPIPE_DJANGO_PRODUCER_ID, LOGPIPE_DJANGO_MIN_LAG_MS
    LOGPIPE DEFAULT_FORMAT, PRODUCER_ID and MIN_MESSAGE_LAG_MS.
LOGPIPE_DJANGO_LOG_LEVEL
    level of the logs written to stderr (default WARNING).
LOGPIPE_DJANGO_TIME_ZONE
    Django's TIME_ZONE (default UTC; USE_TZ is True).
"""

import os
import tempfile

from psycopg2.extensions import parse_dsn


def _env(name, default=""):
    return os.environ.get(name, default).strip() or default


def _database(spec):
    if not spec:
        spec = "sqlite:///" + os.path.join(tempfile.gettempdir(), "logpipe-django-test.sqlite3")
    if spec.startswith("sqlite:///"):
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": spec[len("sqlite:///") :]}
    params = parse_dsn(spec)
    db = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.pop("dbname", "postgres"),
        "USER": params.pop("user", ""),
        "PASSWORD": params.pop("password", ""),
        "HOST": params.pop("host", ""),
        "PORT": params.pop("port", ""),
        "OPTIONS": params,
        "CONN_MAX_AGE": 0,
    }
    return db


BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "logpipe-interop-tests-only"
DEBUG = False
ALLOWED_HOSTS = []
USE_TZ = True
TIME_ZONE = _env("LOGPIPE_DJANGO_TIME_ZONE", "UTC")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "rest_framework",
    "logpipe",
    "people",
    "orders",
]

DATABASES = {"default": _database(_env("LOGPIPE_DJANGO_DATABASE"))}

BACKEND = _env("LOGPIPE_DJANGO_BACKEND", "kafka")
if BACKEND not in ("kafka", "kinesis"):
    raise ValueError("LOGPIPE_DJANGO_BACKEND must be kafka or kinesis, not %r" % BACKEND)
OFFSETS = _env("LOGPIPE_DJANGO_OFFSETS", "database")

LOGPIPE = {
    "CONSUMER_BACKEND": "logpipe.backend.%s.Consumer" % BACKEND,
    "PRODUCER_BACKEND": "logpipe.backend.%s.Producer" % BACKEND,
    "OFFSET_BACKEND": (
        "logpipe.backend.kafka.KafkaOffsetStore"
        if OFFSETS == "kafka"
        else "logpipe.backend.%s.ModelOffsetStore" % BACKEND
    ),
    "KAFKA_BOOTSTRAP_SERVERS": _env("LOGPIPE_DJANGO_KAFKA_BROKERS", "127.0.0.1:19092").split(","),
    "KAFKA_CONSUMER_KWARGS": {"group_id": _env("LOGPIPE_DJANGO_KAFKA_GROUP", "django-logpipe")},
    "KAFKA_SEND_TIMEOUT": 30,
    "KINESIS_REGION": _env("LOGPIPE_DJANGO_KINESIS_REGION", "us-east-1"),
    "DEFAULT_FORMAT": _env("LOGPIPE_DJANGO_FORMAT", "json"),
    "MIN_MESSAGE_LAG_MS": int(_env("LOGPIPE_DJANGO_MIN_LAG_MS", "0")),
}
if _env("LOGPIPE_DJANGO_PRODUCER_ID"):
    LOGPIPE["PRODUCER_ID"] = _env("LOGPIPE_DJANGO_PRODUCER_ID")

# The emulator: boto3 reads these when the original creates its client.
if _env("LOGPIPE_DJANGO_KINESIS_ENDPOINT"):
    os.environ["AWS_ENDPOINT_URL_KINESIS"] = _env("LOGPIPE_DJANGO_KINESIS_ENDPOINT")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", LOGPIPE["KINESIS_REGION"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
    "root": {"handlers": ["stderr"], "level": _env("LOGPIPE_DJANGO_LOG_LEVEL", "WARNING")},
}
