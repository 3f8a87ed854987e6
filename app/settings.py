"""Service settings, read once from the environment at start-up and passed in."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DATABASE_CONNECT_TIMEOUT_SECONDS = 10.0
"""How long a new PostgreSQL connection may take by default: asyncpg's own minute left a process starting against a
host that never answers silent for that long, and a request waiting as long."""
GRAPHQL_MAX_NODES = 50_000
"""Most nodes one GraphQL request may return at worst (its page sizes multiplied along each path, summed): a page of
100 connectors with 100 jobs each fits (10,100), the same jobs each with a default page of 50 errors does not."""
GRAPHQL_MAX_BODY_BYTES = 32 * 1_048_576
"""Largest /graphql request body: the largest upsertProducts batch (1,000 products, MAX_PRODUCTS_PER_CALL) at 32 KiB
a product, over one and a half times the richest product of Akeneo's demo catalog (20 KB as JSON with every locale
and scope filled)."""
GRAPHQL_MAX_INPUT_VALUES = 250_000
"""Most JSON values (objects, arrays and scalars) one GraphQL request may hold, its variables above all: strawberry
turns each input object into its class before any resolver can count them, some 130 microseconds each on the API's
one event loop, so the bytes alone bounded nothing (200,000 one-SKU products, 7 MB, took half a minute only to be
refused). The richest 1,000 products of Akeneo's demo catalog hold 43,516; this takes about 50 values a product."""
CHANNEL_MAX_RESPONSE_BYTES = 32 * 1_048_576
"""Largest channel answer read: the largest a channel's batch calls for is a CUSTOM_HTTP page of 100 products
(MAX_BATCH_SIZE), 3.2 MiB at 32 KiB a product; ten times that leaves room for a shop's extra fields."""

MAX_SUBSCRIPTIONS_PER_TENANT = 100
"""Open subscriptions of one tenant in one API process: a frontend follows a few jobs and the conflicts of a few
tabs; a hundred Redis connections per tenant leave Redis's 10,000 to many tenants and the workers."""

WEBHOOK_SECRET_MAX_GRACE_HOURS = 168
"""A week: the longest services that keep a rotated-out webhook signing secret valid allow (Revolut's expiration
period); a secret a user replaced should not sign deliveries for longer."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_SCHEMES = ("redis", "rediss", "unix")
"""What arq's RedisSettings.from_dsn opens."""


class Environment(StrEnum):
    """`production` turns hardening on: masked errors, no GraphiQL, no introspection."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class Settings(BaseSettings):
    """Everything the service reads from its environment, with embedded defaults.

    Unset `DATABASE_URL`, `REDIS_URL` and `SECRET_KEYS` mean "run on one machine
    with no set-up": a SQLite file, an embedded Redis server and a key file,
    all under `var_dir`.
    """

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", frozen=True, validate_by_name=True, validate_by_alias=True
    )

    environment: Environment = Environment.DEVELOPMENT
    var_dir: Path = Field(default=Path("var"), validation_alias="PIMSYNC_VAR_DIR")
    database_url: str | None = None
    redis_url: str | None = None
    secret_keys: str | None = None
    host: str = Field(default="127.0.0.1", validation_alias="PIMSYNC_HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="PIMSYNC_PORT")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=False, validation_alias="LOG_JSON")
    graphql_max_depth: int = Field(default=12, ge=1)
    graphql_max_aliases: int = Field(default=30, ge=0)
    graphql_max_tokens: int = Field(default=5000, ge=1)
    graphql_max_nodes: int = Field(default=GRAPHQL_MAX_NODES, gt=0)
    graphql_max_input_values: int = Field(default=GRAPHQL_MAX_INPUT_VALUES, gt=0)
    graphql_introspection: bool | None = None
    demo_tenant: str = Field(default="demo", validation_alias="PIMSYNC_DEMO_TENANT")
    """The tenant `pimsync run` creates on first start, with the admin token it prints."""
    allow_private_urls: bool = Field(default=False, validation_alias="PIMSYNC_ALLOW_PRIVATE_URLS")
    """Let connectors reach loopback and private addresses (tests, a shop on the same network)."""
    database_connect_timeout_seconds: float = Field(
        default=DATABASE_CONNECT_TIMEOUT_SECONDS,
        gt=0,
        le=300,
        validation_alias="PIMSYNC_DATABASE_CONNECT_TIMEOUT_SECONDS",
    )
    """How long a new PostgreSQL connection may take before the database counts as not answering."""
    http_timeout_seconds: float = 30.0
    """The longest one request to a channel may take, from connecting to the last byte of its answer."""
    channel_max_response_bytes: int = Field(
        default=CHANNEL_MAX_RESPONSE_BYTES, gt=0, validation_alias="PIMSYNC_CHANNEL_MAX_RESPONSE_BYTES"
    )
    """Largest answer (decoded) read from a channel; reading stops there and the request fails (CHN-022)."""
    shopify_admin_url: str | None = Field(default=None, validation_alias="PIMSYNC_SHOPIFY_ADMIN_URL")
    """Where Shopify's Admin GraphQL API is reached instead of https://{shop}/admin/api/2026-04/graphql.json
    (an egress proxy, or a test emulator); `{shop}` is replaced by the connector's shop domain."""
    queue_name: str = Field(default="pimsync:queue", validation_alias="PIMSYNC_QUEUE")
    """The arq queue; services sharing one Redis keep apart by naming their own."""
    sync_chunk_size: int | None = Field(default=None, ge=1, validation_alias="PIMSYNC_SYNC_CHUNK_SIZE")
    """Products per chunk of a sync job; unset: twenty of the channel's batches (2,000 for channels taking 100
    a request, 50 for Shopify)."""
    sync_page_size: int = Field(default=100, ge=1, le=1000, validation_alias="PIMSYNC_SYNC_PAGE_SIZE")
    """Products a chunk loads, checks and records at a time: the unit of the pipeline and of the work a killed
    worker's successor redoes."""
    sync_run_seconds: float = Field(default=240.0, gt=0, le=480, validation_alias="PIMSYNC_SYNC_RUN_SECONDS")
    """How long one run of a chunk (one arq job) sends pages before it hands the chunk back to the queue: well
    inside the chunk task's 600 s timeout, so a chunk slowed by its channel's rate goes on over several runs
    instead of being cut off mid-page on every one. Its pages aim at a quarter of this each (PagePace)."""
    sync_chunks_per_job: int = Field(default=4, ge=1, le=1000, validation_alias="PIMSYNC_SYNC_CHUNKS_PER_JOB")
    """How many chunks of one job may be queued or running at a time; the rest wait their turn and are queued, each
    behind what other jobs queued meanwhile, as the job's earlier ones end. Four: one worker's slots (max_jobs),
    so a fast channel's job still runs on several workers at once, while a job of a slow channel (whose chunks
    share one rate, so more of them only make each slower) leaves every other slot to other jobs."""
    checks_per_connector: int = Field(default=2, ge=1, le=1000, validation_alias="PIMSYNC_CHECKS_PER_CONNECTOR")
    """How many of one connector's conflict resolutions, and as many of its webhook deliveries, may be queued or
    being carried out at a time (each checks one product on the channel); the rest wait their turn and are queued
    one by one as those end, each behind what was queued meanwhile, so one connector's bulk of thousands of
    decisions, or a burst of its deliveries, on a slow or rate-limited shop does not hold every worker while other
    connectors' work waits behind it. Two: half of one worker's slots, while a rate-limited connector (whose checks
    share one rate) gains nothing from more."""
    sync_lease_seconds: float = Field(default=30.0, ge=1, validation_alias="PIMSYNC_SYNC_LEASE_SECONDS")
    """How long a worker's claim on a chunk lasts without a heartbeat; a dead worker's chunk moves on after it."""
    channel_retry_seconds: float = Field(default=0.5, ge=0, validation_alias="PIMSYNC_CHANNEL_RETRY_SECONDS")
    """The first wait (with full jitter) before a channel request that failed for now (5xx, timeout) is sent
    again; it doubles with each retry, within the retry policy's limits."""
    background_retry_seconds: float = Field(default=5.0, gt=0, validation_alias="PIMSYNC_BACKGROUND_RETRY_SECONDS")
    """The first wait before a webhook delivery or a person's conflict resolution that could not be carried out
    (the channel busy, a sync racing it) runs again; it doubles with each attempt."""
    worker_poll_seconds: float = Field(default=0.5, gt=0, validation_alias="PIMSYNC_WORKER_POLL_SECONDS")
    """How often an idle worker looks for queued work (arq's poll delay): the longest a new job waits for it."""
    worker_stop_seconds: float = Field(default=20.0, gt=0, validation_alias="PIMSYNC_WORKER_STOP_SECONDS")
    """How long a stopped worker (SIGTERM) has to end before it is killed: what `pimsync run` gives its worker, and
    what a deployment should give it too (its grace period). Half of it goes to waiting for a write the shop has not
    answered yet (stop_wait_seconds), the rest to recording, handing back what the worker held, and closing."""
    webhook_max_bytes: int = Field(default=1_048_576, gt=0, validation_alias="PIMSYNC_WEBHOOK_MAX_BYTES")
    """Largest webhook body accepted (413 beyond it); reading stops there, so a huge body never fills memory."""
    webhook_secret_grace_hours: float = Field(
        default=24.0, ge=0, le=WEBHOOK_SECRET_MAX_GRACE_HOURS, validation_alias="PIMSYNC_WEBHOOK_SECRET_GRACE_HOURS"
    )
    """How long a webhook secret replaced through updateConnector still verifies deliveries (signed before the
    change, retried by the channel since, or sent before the secret changed at the channel too); 0: not at all.
    A day covers Shopify's retries (8 over 4 hours) and its "up to a day late" deliveries."""
    webhook_retention_days: float = Field(default=7.0, ge=1, le=3650, validation_alias="PIMSYNC_WEBHOOK_RETENTION_DAYS")
    """How long a webhook delivery that was dealt with (processed, ignored or given up on) is kept, counted from its
    arrival, before the workers delete it: its delivery id answers a replay of it as a duplicate until then. At
    least a day, past Shopify's retries (8 over 4 hours) and its "up to a day late" deliveries; a PENDING delivery is
    work still to do and is never deleted."""
    history_retention_days: float = Field(
        default=90.0, ge=0, le=36500, validation_alias="PIMSYNC_HISTORY_RETENTION_DAYS"
    )
    """How long a finished sync job (with the per-product changes and errors it recorded) and a domain event are
    kept before the workers delete them; 0: for ever. A full sync records a change for every product it went
    through, so a connector synced daily adds its catalog's size to the history each day. Each connector's newest
    job is kept whatever its age: it is the connector's lastJob and its localeSyncStatus. A conflict the service
    decided itself (the connector's strategy, or a sync that found it settled) goes with this history too, and a
    deleted product's tombstone once no channel still has the product and no conflict names it."""
    conflict_retention_days: float = Field(
        default=365.0, ge=0, le=36500, validation_alias="PIMSYNC_CONFLICT_RETENTION_DAYS"
    )
    """How long a conflict a person decided (resolved or dismissed) is kept, counted from the decision, before the
    workers delete it; 0: for ever. Longer than the sync history, as it is the record of people's decisions and grows
    only as fast as they make them. A PENDING conflict, and a decision not yet carried out, are never deleted."""
    graphql_max_body_bytes: int = Field(
        default=GRAPHQL_MAX_BODY_BYTES, gt=0, validation_alias="PIMSYNC_GRAPHQL_MAX_BODY_BYTES"
    )
    """Largest /graphql request body accepted (413 beyond it), read no further than that."""
    max_subscriptions_per_tenant: int = Field(
        default=MAX_SUBSCRIPTIONS_PER_TENANT, ge=1, validation_alias="PIMSYNC_MAX_SUBSCRIPTIONS_PER_TENANT"
    )
    """Subscriptions one tenant may hold open at a time in one API process, over all its sockets: each holds a Redis
    connection of its own, and Redis takes a bounded number of clients (10,000 by default), the workers' included."""
    public_url: str | None = Field(default=None, validation_alias="PIMSYNC_PUBLIC_URL")
    """Where channels reach this service (https://pim.my-company.test): Shopify connectors subscribe their
    product webhooks at {public_url}/webhooks/{connector}; unset, nothing is subscribed."""

    @field_validator("var_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        """Checked here, so a misspelt level is a setting to fix, not a traceback of configure_logging."""
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("database_url")
    @classmethod
    def _async_database(cls, value: str | None) -> str | None:
        """A URL SQLAlchemy's async engine can open with an installed driver, checked at start-up rather than at
        the first query (`postgresql://` alone names psycopg, which is not installed)."""
        if value is None or not value.strip():
            return None
        try:
            url = make_url(value.strip())
            dialect = url.get_dialect().get_async_dialect_cls(url)
            opens = dialect.is_async and dialect.import_dbapi() is not None
        except (ArgumentError, ImportError):  # unparsable, a dialect SQLAlchemy does not know, a driver not installed
            opens = False
        if not opens:
            raise ValueError(
                "DATABASE_URL must be postgresql+asyncpg://user:pass@host/db or sqlite+aiosqlite:///path/file.sqlite3"
            )
        return value.strip()

    @field_validator("redis_url")
    @classmethod
    def _redis_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if urlsplit(value.strip()).scheme not in REDIS_SCHEMES:
            raise ValueError("REDIS_URL must be redis://host:6379/0, rediss://... (TLS) or unix:///path/redis.sock")
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _public_origin(cls, value: str | None) -> str | None:
        """An http(s) address with a host, kept without its trailing slash so paths append cleanly."""
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("PIMSYNC_PUBLIC_URL must be an http(s) address such as https://pim.my-company.test")
        return value.strip().rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql_introspection is not None:
            return self.graphql_introspection
        return not self.is_production

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file under `var_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_dir / 'pimsync.sqlite3'}"

    @property
    def stop_wait_seconds(self) -> float:
        """How long a stop waits for a write in flight (app.stops): half the worker's grace period. A shop holding a
        write longer (up to http_timeout_seconds) is given up on, and its chunk or product kept from the next worker
        until that write's deadline has passed, so it cannot be created twice."""
        return self.worker_stop_seconds / 2

    @property
    def webhook_secret_grace(self) -> timedelta:
        return timedelta(hours=self.webhook_secret_grace_hours)

    @property
    def webhook_retention(self) -> timedelta:
        return timedelta(days=self.webhook_retention_days)

    @property
    def history_retention(self) -> timedelta | None:
        return timedelta(days=self.history_retention_days) if self.history_retention_days else None

    @property
    def conflict_retention(self) -> timedelta | None:
        return timedelta(days=self.conflict_retention_days) if self.conflict_retention_days else None

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def embedded_redis_socket(self) -> Path:
        return self.var_dir / "redis.sock"

    @property
    def secret_key_file(self) -> Path:
        return self.var_dir / "secret.key"


def load_settings() -> Settings:
    """Read the environment; the one place that does."""
    return Settings()
