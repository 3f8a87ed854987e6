"""SQLAlchemy models: every row a tenant owns carries `tenant_id`.

Table names are plural. "No locale" and "no scope" on a product value are the
empty string, so the value's unique key works the same on SQLite and
PostgreSQL (both treat NULLs in a unique index as distinct).

A NOT NULL column a migration added to a table that already held rows has the
server default it filled them with (every installation's database has it); the
model declares it too, so the models describe the migrated schema exactly.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JSONType, utcnow

NO_LOCALE = ""
NO_SCOPE = ""

NEVER_REUSED_IDS: dict[str, Any] = {"sqlite_autoincrement": True}
"""Table options of the tables whose rows are deleted while their ids are known outside (node ids, the CLI): SQLite
without AUTOINCREMENT gives a new row the id of a deleted newest one, and a client holding that id reached the new
object with it. PostgreSQL's sequences never go back (migration 0012)."""

TOMBSTONE = "deleted_at IS NOT NULL"
"""A deleted product (ix_products_tombstones' condition)."""


class Tenant(Base):
    """A catalog team: the unit of isolation. `product_revision` orders every product change."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    product_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token: shown once, stored as a SHA-256 digest, scoped to one tenant."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Locale(Base):
    """A catalog locale; `position` 0 among the enabled ones is the default locale."""

    __tablename__ = "locales"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(35))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Scope(Base):
    """A value scope (Akeneo's "channel": ecommerce, print ...), never a sales channel."""

    __tablename__ = "scopes"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(100))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Currency(Base):
    """A catalog currency; `position` 0 among the enabled ones is the default currency."""

    __tablename__ = "currencies"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(3))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Attribute(Base):
    """What a product value means: its type and whether it varies by locale and by scope."""

    __tablename__ = "attributes"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    localizable: Mapped[bool] = mapped_column(Boolean)
    scopable: Mapped[bool] = mapped_column(Boolean)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(Base):
    """A product; `revision` is the tenant revision of its last change (incremental sync cursor).

    Deleted products stay as tombstones (`deleted_at`, with a new revision) so
    that syncs can propagate the deletion to channels; the history purge
    deletes one no channel and no conflict needs any more (app.services.retention).
    """

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        Index("ix_products_tenant_revision", "tenant_id", "revision"),
        Index("ix_products_tenant_updated_at", "tenant_id", "updated_at"),
        Index("ix_products_tenant_id_id", "tenant_id", "id"),
        # The retention purge walks the tombstones oldest deletion first: not the whole catalog each hour.
        Index(
            "ix_products_tombstones",
            "deleted_at",
            "id",
            sqlite_where=text(TOMBSTONE),
            postgresql_where=text(TOMBSTONE),
        ),
        # Purged tombstones are the products' node ids clients held: SQLite must not give them to new products.
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    family: Mapped[str | None] = mapped_column(String(100), default=None)
    parent: Mapped[str | None] = mapped_column(String(255), default=None)
    revision: Mapped[int] = mapped_column(BigInteger)
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class ProductValue(Base):
    """One value of one product for one attribute, locale ('' = none) and scope ('' = none)."""

    __tablename__ = "product_values"
    __table_args__ = (
        UniqueConstraint("product_id", "attribute_id", "locale", "scope"),
        Index("ix_product_values_attribute_id", "attribute_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    attribute_id: Mapped[int] = mapped_column(ForeignKey("attributes.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(35), default=NO_LOCALE)
    scope: Mapped[str] = mapped_column(String(100), default=NO_SCOPE)
    data: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200), default=None)
    """Who wrote the value: "token:<name>", "import", or "channel:<connector code>" when taken from a channel."""


def new_public_id() -> str:
    return str(uuid.uuid4())


class Connector(Base):
    """One store or account on a sales channel; `public_id` is stable and names its webhook path."""

    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("tenant_id", "code"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    channel_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    credentials_encrypted: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))  # not "": alembic
    # would compare that as unlike the '' SQLite reports
    """A MultiFernet token of the credentials' JSON; decrypted only where an adapter is built."""
    scope: Mapped[str | None] = mapped_column(String(100), default=None)
    locale_mapping: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list, server_default="[]")
    default_sync_type: Mapped[str] = mapped_column(String(20), default="INCREMENTAL", server_default="INCREMENTAL")
    conflict_strategy: Mapped[str] = mapped_column(String(20), default="MANUAL", server_default="MANUAL")
    tax_config: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    sync_interval_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    fallback_policy: Mapped[str] = mapped_column(String(10), default="OMIT", server_default="OMIT")
    hold_incomplete_locales: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    requests_per_second: Mapped[float | None] = mapped_column(Double, default=None)
    """This connector's own rate limit; None: the channel type's default."""
    store_name: Mapped[str | None] = mapped_column(String(255), default=None)
    supported_locales: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    """Channel locales the store reported at its last successful connection test."""
    primary_locale: Mapped[str | None] = mapped_column(String(35), default=None)
    last_tested_at: Mapped[datetime | None] = mapped_column(default=None)
    mappings_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Bumped whenever what the mappings send changes (saveMappings, a deleted attribute, a setting the export plan
    reads, the catalog's default locale): an incremental sync re-exports everything when it moved."""
    sync_cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The product revision the last completed FULL or INCREMENTAL sync covered."""
    synced_mappings_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_job_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_scheduled_at: Mapped[datetime | None] = mapped_column(default=None)


class FieldMapping(Base):
    """PIM attribute -> channel field on one connector.

    `attribute_id` becomes NULL when the attribute is deleted; the mapping is
    then broken (CHN-061) and exports skip it. `attribute_code` keeps the name
    so the broken mapping can still be shown.
    """

    __tablename__ = "field_mappings"
    __table_args__ = (Index("ix_field_mappings_connector_id", "connector_id"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    attribute_id: Mapped[int | None] = mapped_column(
        ForeignKey("attributes.id", ondelete="SET NULL"), index=True, default=None
    )
    attribute_code: Mapped[str] = mapped_column(String(100))
    channel_field: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(10))
    transformation: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    locale_mapping: Mapped[list[dict[str, str]] | None] = mapped_column(JSONType, default=None)
    when_empty: Mapped[str] = mapped_column(String(10), default="CLEAR")
    position: Mapped[int] = mapped_column(Integer)


class Listing(Base):
    """The binder: a product on one connector, with its external id and last sync."""

    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("connector_id", "product_id"),
        Index("ix_listings_product_id", "product_id"),
        # Webhooks name the channel's product by its id: finding the listing must not scan the connector's.
        Index("ix_listings_connector_external_id", "connector_id", "external_id"),
        # An INCREMENTAL sync takes the connector's failed products again, whatever their revision.
        Index("ix_listings_connector_status", "connector_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    status: Mapped[str] = mapped_column(String(20), default="never")
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    document_hashes: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict, server_default="{}")
    """Per channel locale ('' for the shared fields), the hash of the document last accepted: unchanged ones are skipped."""
    sent: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    """What the PIM last agreed with the channel, per field and locale ({"fields": ..., "locales": ...}):
    a PIM value that differs from it changed since the last sync."""
    base: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    """What the channel stored, read back after the write (same shape): a channel value that differs from it,
    under the channel's normalisation, changed on the channel since the last sync."""
    channel_updated_at: Mapped[datetime | None] = mapped_column(default=None)
    """The channel's own modification time of the state `base` was read from, on the clock its webhook
    deliveries carry (RemoteProduct.delivery_time): older news is stale."""
    excluded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The channel deleted the product and the team chose to leave it off this channel: syncs skip it."""
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    synced_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class SyncJob(Base):
    """One sync of one connector: what to select, how far it got, and how it ended.

    At most one job per connector is active (PENDING, RUNNING, or RETRYING the
    chunks of a dead worker): the partial unique index enforces it in the
    database, whatever the queue does.
    """

    __tablename__ = "sync_jobs"
    __table_args__ = (
        Index(
            "uq_sync_jobs_one_active_per_connector",
            "connector_id",
            unique=True,
            sqlite_where=text("status IN ('PENDING', 'RUNNING', 'RETRYING')"),
            postgresql_where=text("status IN ('PENDING', 'RUNNING', 'RETRYING')"),
        ),
        Index("ix_sync_jobs_tenant_created", "tenant_id", "created_at"),
        Index("ix_sync_jobs_status_priority", "status", "priority", "id"),
        # Job lists are read newest first (by id), a tenant's, one connector's, or one connector's of one status:
        # without these, a page walked the primary key or all the tenant's jobs to find its rows.
        Index("ix_sync_jobs_tenant_id", "tenant_id", "id"),
        Index("ix_sync_jobs_tenant_connector", "tenant_id", "connector_id", "id"),
        Index("ix_sync_jobs_tenant_connector_status", "tenant_id", "connector_id", "status", "id"),
        # Deleting a job makes the database find its retries (retry_of SET NULL): without this, a scan of the table
        # for each job a deleted connector takes with it, so deleting one with a year of scheduled syncs took minutes.
        Index(
            "ix_sync_jobs_retry_of",
            "retry_of",
            sqlite_where=text("retry_of IS NOT NULL"),
            postgresql_where=text("retry_of IS NOT NULL"),
        ),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    sync_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=1)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    force_resync: Mapped[bool] = mapped_column(Boolean, default=False)
    locales: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    product_skus: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    retry_of: Mapped[int | None] = mapped_column(ForeignKey("sync_jobs.id", ondelete="SET NULL"), default=None)
    select_all: Mapped[bool] = mapped_column(Boolean, default=False)
    """Set when planned: the job covers every live product (FULL, or mappings changed since the last sync)."""
    revision_from: Mapped[int] = mapped_column(BigInteger, default=0)
    """Products changed after this revision are selected (INCREMENTAL)."""
    revision_to: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """The tenant's revision when the job was planned: the connector's cursor once it completes."""
    mappings_version: Mapped[int] = mapped_column(Integer, default=0)
    total_products: Mapped[int] = mapped_column(Integer, default=0)
    synced_products: Mapped[int] = mapped_column(Integer, default=0)
    failed_products: Mapped[int] = mapped_column(Integer, default=0)
    skipped_products: Mapped[int] = mapped_column(Integer, default=0)
    conflicted_products: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    failure: Mapped[str | None] = mapped_column(Text, default=None)
    """Why the job failed: as a whole (credentials rejected, connector paused ...), or on every product it went
    through (set as it ends: sync.finish)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)
    """When its planning message was last queued: the stamp in that message's id (app.services.sync.queue).
    Always set by the service (nullable only as migration 0005 added it)."""


LEASE_OWNER_LENGTH = 100
"""Room for the worker's name (host and pid) and the run's own token after it."""


class SyncChunk(Base):
    """A slice of a job's products (by product id range) that one worker runs under a lease.

    A worker that dies leaves its lease to expire; recovery hands the chunk
    to another worker, which resumes after `cursor`.
    """

    __tablename__ = "sync_chunks"
    __table_args__ = (
        Index("ix_sync_chunks_job_id", "job_id"),
        Index("ix_sync_chunks_status_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"))
    first_product_id: Mapped[int] = mapped_column(Integer)
    last_product_id: Mapped[int] = mapped_column(Integer)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    """The last product id this chunk has recorded; work resumes after it."""
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Claims since the chunk last recorded a page (runner.MAX_CHUNK_ATTEMPTS)."""
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_LENGTH), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)
    """When its message was last queued: the stamp in that message's id (app.services.sync.queue)."""


class SyncJobError(Base):
    """A product (and channel locale, when it concerns one) that failed in a job, with its CHN code."""

    __tablename__ = "sync_errors"
    __table_args__ = (Index("ix_sync_errors_job_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"))
    product_sku: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(35), default=None)
    error_code: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncJobChange(Base):
    """What a job did (or, in a dry run, would do) to one product: the job's audit trail."""

    __tablename__ = "sync_changes"
    __table_args__ = (
        UniqueConstraint("job_id", "product_sku"),
        # A job's changes are paged in the order recorded, of one action or of any: each page read in index order.
        Index("ix_sync_changes_job_action", "job_id", "action", "id"),
        Index("ix_sync_changes_job_id", "job_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"))
    product_sku: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(10))
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class DomainEvent(Base):
    """Something that happened, written in the same transaction as the change it records."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_tenant_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


UNAPPLIED = "applied_at IS NULL AND apply_error IS NULL AND resolution_status != 'PENDING'"
DECIDED = "resolution_status != 'PENDING'"


class Conflict(Base):
    """The same product changed on both sides since the last sync, per field and locale.

    At most one PENDING conflict per (connector, product): later detections
    update it and bump `version`, so a resolution made against an older
    version is refused (CHN-041). The partial unique index enforces it.
    """

    __tablename__ = "conflicts"
    __table_args__ = (
        Index(
            "uq_conflicts_one_pending_per_product",
            "connector_id",
            "product_id",
            unique=True,
            sqlite_where=text("resolution_status = 'PENDING'"),
            postgresql_where=text("resolution_status = 'PENDING'"),
        ),
        Index("ix_conflicts_tenant_status", "tenant_id", "resolution_status", "id"),
        Index("ix_conflicts_connector_status", "connector_id", "resolution_status"),
        # conflicts(connectorCode:) and a connector's nested conflicts page one connector's, newest first, of any
        # status or of one: the page is read in index order, and counted without reading the rows.
        Index("ix_conflicts_tenant_connector", "tenant_id", "connector_id", "id"),
        Index("ix_conflicts_tenant_connector_status", "tenant_id", "connector_id", "resolution_status", "id"),
        # conflicts(productSku:) pages a tenant's conflicts of one SKU, newest first, whatever their status.
        Index("ix_conflicts_tenant_product_sku", "tenant_id", "product_sku", "id"),
        # A product deleted (a tombstone purged) finds the conflicts naming it, for its ON DELETE, without a scan.
        Index("ix_conflicts_product_id", "product_id"),
        # The sweep that re-queues resolutions no worker carried out reads only these few rows.
        Index(
            "ix_conflicts_unapplied",
            "resolved_at",
            sqlite_where=text(UNAPPLIED),
            postgresql_where=text(UNAPPLIED),
        ),
        # A connector's resolutions taking turns on the queue: those holding one counted, the next waiting one found.
        Index(
            "ix_conflicts_unapplied_per_connector",
            "connector_id",
            "resolved_at",
            "id",
            sqlite_where=text(UNAPPLIED),
            postgresql_where=text(UNAPPLIED),
        ),
        # The retention purge walks the decisions oldest first (resolved_at, id): not the whole table each hour.
        Index(
            "ix_conflicts_decided",
            "resolved_at",
            "id",
            sqlite_where=text(DECIDED),
            postgresql_where=text(DECIDED),
        ),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    product_sku: Mapped[str] = mapped_column(String(255))
    conflict_type: Mapped[str] = mapped_column(String(30))
    resolution_status: Mapped[str] = mapped_column(String(20), default="PENDING")
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    """[{field, attributeCode, isLocaleSpecific, direction, diffs: [{pimLocale, channelLocale, baseValue,
    pimValue, channelValue}]}]"""
    version: Mapped[int] = mapped_column(Integer, default=1)
    pim_modified_at: Mapped[datetime | None] = mapped_column(default=None)
    channel_modified_at: Mapped[datetime | None] = mapped_column(default=None)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(200), default=None)
    """"strategy" when the connector's strategy decided, else "token:<name>"."""
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    """The person's choice: {"resolution": PIM_WINS | CHANNEL_WINS | DISMISSED, "overrides": [{"field",
    "resolution", "locales": [PIM locale, ...] or null for all}]} (app.domain.conflicts.choice_for reads it)."""
    applied_at: Mapped[datetime | None] = mapped_column(default=None)
    """When a worker carried the resolution out on the channel and in the PIM; NULL while it is queued."""
    apply_error: Mapped[str | None] = mapped_column(Text, default=None)
    """Why it was carried out only in part (values that moved on since) or not at all (the channel refused)."""
    apply_queued_at: Mapped[datetime | None] = mapped_column(default=None)
    """When its resolution was given one of its connector's turns on the queue (conflicts.queue.take_apply_turns),
    or last queued again by the recovery sweep; NULL while a decided conflict waits for one, as a chunk waits its
    job's turn."""


PENDING_DELIVERY = "status = 'PENDING'"


class WebhookDelivery(Base):
    """One accepted webhook, stored before it is answered so nothing is lost if no worker is up.

    The channel's delivery id is unique per connector: a replay is answered
    202 and not processed twice.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("connector_id", "delivery_id"),
        Index("ix_webhook_deliveries_status_received", "status", "received_at"),
        # A connector's deliveries taking turns on the queue: those holding one counted, the next waiting one found.
        Index(
            "ix_webhook_deliveries_pending_per_connector",
            "connector_id",
            "received_at",
            "id",
            sqlite_where=text(PENDING_DELIVERY),
            postgresql_where=text(PENDING_DELIVERY),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[Any] = mapped_column(JSONType)
    occurred_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the channel says the event happened (its own clock), when it says so."""
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="PENDING")
    """PENDING, PROCESSED, IGNORED (stale or an echo) or FAILED."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(Text, default=None)
    """What processing concluded, or why it failed."""
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    """When it was given one of its connector's turns on the queue (app.services.turns), or last queued again by
    the recovery sweep; NULL while a PENDING delivery waits for one."""
    product_ref: Mapped[str | None] = mapped_column(String(300), default=None)
    """The product it is about as the channel names it ("id:<external id>", else "sku:<SKU>"; "" when its payload
    names none), read from the payload when a paused connector's deliveries are collapsed; NULL until then."""
