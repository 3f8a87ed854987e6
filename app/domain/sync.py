"""Sync vocabulary and the pure decisions of an export: hashing, what changed, what to send (pure).

A product's export is split in parts: '' for the shared (non-localizable)
fields and one part per channel locale. Each part is hashed; a part whose
hash equals the one the channel last accepted is not sent again, so a sync
after a one-word change in French sends the French part only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

from app import json_codec
from app.channels.base import ChannelDocument, RemoteProduct
from app.domain.errors import ErrorCode, UserErrorItem
from app.domain.export_plan import Built, ProductExport
from app.domain.scopes import VALUES_HIDDEN

SHARED = ""
"""The part key of the shared (non-localizable) fields."""


class SyncJobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    RETRYING = "RETRYING"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in (SyncJobStatus.COMPLETED, SyncJobStatus.FAILED, SyncJobStatus.CANCELLED)


ACTIVE_STATUSES = (SyncJobStatus.PENDING, SyncJobStatus.RUNNING, SyncJobStatus.RETRYING)
"""A connector's job in one of these holds it: no other job may start (CHN-090)."""


class SyncPriority(IntEnum):
    """Stored as a number so the queue orders by it."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class ChunkStatus(StrEnum):
    PENDING = "PENDING"
    """Not taken by a worker: queued since its `enqueued_at`, or, with none, waiting its job's turn on the queue
    (planner; SyncJobRepository.waits_its_turn)."""
    RUNNING = "RUNNING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class ChangeAction(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    SKIP = "SKIP"
    CONFLICT = "CONFLICT"
    HOLD = "HOLD"
    DELETE = "DELETE"
    """The product was deleted in the PIM and is removed from the channel."""
    FAIL = "FAIL"
    """The product failed (its errors say why): refused whole, nothing was sent; or in part (a locale), and its
    change lists what its sound parts wrote."""


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def part_hash(fields: Mapping[str, Any]) -> str:
    """A stable digest of one part: key order and JSON spacing do not matter."""
    return hashlib.sha256(json_codec.canonical(fields, default=_canonical)).hexdigest()


@dataclass(slots=True)
class Outgoing:
    """What one product sends: the parts that changed, and the problems that keep parts back."""

    sku: str
    shared: dict[str, Any] | None
    """The shared fields when they changed (or must be sent in full); None: leave them alone."""
    locales: dict[str, dict[str, Any]]
    hashes: dict[str, str]
    """The hash of every part in `shared`/`locales`, to store once the channel accepts them."""
    errors: list[tuple[str | None, UserErrorItem]] = field(default_factory=list)
    """(channel locale or None, problem) that fail the product or one of its locales."""
    held: list[str] = field(default_factory=list)
    failed_whole: bool = False

    @property
    def empty(self) -> bool:
        return self.shared is None and not self.locales

    def document(self, external_id: str | None) -> ChannelDocument:
        return ChannelDocument(self.sku, external_id, dict(self.shared or {}), dict(self.locales))


def _blocking(problems: list[UserErrorItem]) -> list[UserErrorItem]:
    """Problems that keep data back; a broken mapping only drops its own field."""
    return [problem for problem in problems if problem.code is not ErrorCode.MAPPING_BROKEN]


def outgoing(export: ProductExport, previous: Mapping[str, str], *, force: bool, creating: bool) -> Outgoing:
    """Decide what of this product goes out.

    A problem in the shared fields fails the product; a problem in a locale
    fails that locale only. Held locales stay back. Unless `force` or
    `creating`, a part whose hash matches what the channel last accepted is
    left out.
    """
    result = Outgoing(export.sku, None, {}, {})
    shared_problems = _blocking(export.shared.problems)
    result.errors += [(None, problem) for problem in export.shared.problems]
    if shared_problems:
        result.failed_whole = True
        return result
    _take(result, SHARED, export.shared, previous, force or creating)
    for built in export.locales:
        locale = built.channel_locale or ""
        if not built.will_send:
            result.held.append(locale)
            continue
        problems = _blocking(built.problems)
        result.errors += [(locale, problem) for problem in built.problems]
        if problems:
            continue
        _take(result, locale, built, previous, force or creating)
    return result


def _take(result: Outgoing, part: str, built: Built, previous: Mapping[str, str], always: bool) -> None:
    digest = part_hash(built.fields)
    if not always and previous.get(part) == digest:
        return
    result.hashes[part] = digest
    if part == SHARED:
        result.shared = dict(built.fields)
    else:
        result.locales[part] = dict(built.fields)


def field_changes(before: Mapping[str, Any], sent: Outgoing) -> list[dict[str, Any]]:
    """Each field and channel locale whose value changes, with before and after.

    `before` is a stored document ({"fields": ..., "locales": ...}): the
    channel's current state when it was read, else what it last accepted.
    """
    changes: list[dict[str, Any]] = []
    old_fields = before.get("fields", {})
    for name, after in (sent.shared or {}).items():
        if old_fields.get(name) != after:
            changes.append({"field": name, "channelLocale": None, "before": old_fields.get(name), "after": after})
    old_locales = before.get("locales", {})
    for locale, values in sent.locales.items():
        old = old_locales.get(locale, {})
        for name, after in values.items():
            if old.get(name) != after:
                changes.append({"field": name, "channelLocale": locale, "before": old.get(name), "after": after})
    return changes


def remote_document(remote: RemoteProduct | None) -> dict[str, Any]:
    if remote is None:
        return {}
    return {"fields": dict(remote.fields), "locales": {k: dict(v) for k, v in remote.locales.items()}}


def merged_snapshot(previous: Mapping[str, Any], sent: Outgoing) -> dict[str, Any]:
    """What the channel holds after accepting `sent` on top of `previous` (absent keys were left alone)."""
    fields = {**previous.get("fields", {}), **(sent.shared or {})}
    locales = {k: dict(v) for k, v in previous.get("locales", {}).items()}
    for locale, values in sent.locales.items():
        locales[locale] = {**locales.get(locale, {}), **values}
    return {"fields": fields, "locales": locales}


def progress(done: int, total: int, *, completed: bool) -> float:
    """0.0 .. 1.0: the share of its products a job went through. A completed job is at 1.0 even when it had nothing
    to do; one cancelled or failed stays where it stopped, so a progress bar never shows a job cut short as done."""
    if completed:
        return 1.0
    return 0.0 if total <= 0 else min(1.0, done / total)


PRODUCT_DATA_CODES = frozenset({ErrorCode.MISSING_REQUIRED_FIELD.value, ErrorCode.FIELD_TYPE_MISMATCH.value})
"""Codes that blame a product's own values (a missing title, a price that is not a number), not the channel."""

REASON_MESSAGE_CHARS = 200
"""How much of an error's message a job's reason quotes; the job's errors carry each in full."""


@dataclass(frozen=True, slots=True)
class CodeTally:
    """One error code among a job's failed products: how many products it failed, and the first message it had."""

    code: str
    products: int
    message: str


def every_product_failed(*, synced: int, failed: int, skipped: int, conflicted: int, dry_run: bool) -> bool:
    """Whether a job went through products and failed every one (none synced, unchanged or held in a conflict): it
    failed, though no single error stopped it (a product failed in a locale may still have been written in others). A dry run sends nothing either
    way: its errors are what it found out, and it is not judged by them."""
    return not dry_run and failed > 0 and synced == skipped == conflicted == 0


ONLY_PRODUCT_FAILED = "the job's only product failed"

_QUOTING_FAILURE = re.compile(
    rf"^({re.escape(ONLY_PRODUCT_FAILED)}: \S+) "
    r"|^(all \d+ products failed; \S+ for \d+ of them(?: \(\d+ other codes? too\))?), first: "
)
"""The two shapes of every_product_failed_reason that quote a product's message, up to where the quote starts."""


def failure_without_values(failure: str) -> str:
    """A job's `failure` without the product message every_product_failed_reason quotes (VALUES_HIDDEN says where
    it went); a job that failed as a whole (credentials refused ...) quotes no product, and reads the same."""
    found = _QUOTING_FAILURE.match(failure)
    if found is None:
        return failure
    return f"{found.group(1) or found.group(2)} ({VALUES_HIDDEN})"


def every_product_failed_reason(products: int, tally: Sequence[CodeTally]) -> str:
    """A job's `failure` when every product failed: how many, the most common code and its first message."""
    if products == 1:
        head = ONLY_PRODUCT_FAILED
        return head if not tally else f"{head}: {tally[0].code} {_quoted(tally[0].message)}"
    head = f"all {products} products failed"
    if not tally:
        return head
    top, others = tally[0], len(tally) - 1
    also = "" if not others else f" ({others} other code{'s' if others > 1 else ''} too)"
    return f"{head}; {top.code} for {top.products} of them{also}, first: {_quoted(top.message)}"


def blames_the_channel(tally: Sequence[CodeTally]) -> bool:
    """Whether a job that failed every product counts toward its connector's run of failed jobs (three put it in
    ERROR and stop its schedule). Not when only the products' own values were refused: bad data fails only its
    product, and a quiet catalog whose one changed product lacks its title would stop every other's sync."""
    return not tally or any(entry.code not in PRODUCT_DATA_CODES for entry in tally)


def _quoted(message: str) -> str:
    return message if len(message) <= REASON_MESSAGE_CHARS else message[: REASON_MESSAGE_CHARS - 3] + "..."


@dataclass(slots=True)
class PagePace:
    """How many products the next page of a chunk loads, so that one page takes about `target` seconds.

    A chunk's pages share the connector's rate limit with every other running chunk of that connector, so a page
    of the configured size can take minutes (250 Shopify requests at one a second, among four chunks, take over
    15). A run of a chunk is an arq job with a timeout: a page longer than that is cut off before it is recorded.
    So a page slower than `target` shrinks the next to what fits, and quick pages grow back (doubling) to the
    configured size. A run's first page is the size the connector's pages last settled at (the runner keeps it in
    Redis for an hour), else the configured size: not smaller by default, since every extra page costs Shopify a
    look-up and a read-back, seconds each in its cost bucket. A page still being sent past `target` shrinks the
    limit already (`sending`), so a run cut off in the middle of that page leaves its retry a smaller one.
    """

    limit: int
    most: int
    target: float

    def sent(self, products: int, seconds: float) -> bool:
        """Learn from a page of `products` that took `seconds` to send; whether the limit changed (worth keeping)."""
        if products <= 0 or seconds <= 0:
            return self._set(min(self.most, self.limit * 2))
        fits = int(self.target * products / seconds)
        return self._set(max(1, min(self.most, self.limit * 2, fits)))

    def sending(self, products: int, seconds: float) -> bool:
        """Learn from a page of `products` still being sent after `seconds`, more than `target`: it will take longer
        yet, so what fits is at most what would have fitted had it ended now. Never grows the limit, and learns
        nothing before `target`: a quick page is no measure of the channel until it ends. Whether the limit changed."""
        if products <= 0 or seconds <= self.target:
            return False
        return self._set(max(1, min(self.limit, int(self.target * products / seconds))))

    def _set(self, limit: int) -> bool:
        changed, self.limit = limit != self.limit, limit
        return changed


@dataclass(frozen=True, slots=True)
class Selection:
    """Which products a job covers.

    everything: every live, enabled product (FULL, or an INCREMENTAL whose
    mappings changed since the last sync), and the deleted or disabled ones
    still listed on connector `listed_on`; otherwise products whose revision
    lies in (revision_from, revision_to], deletions included, and those whose
    last sync on connector `failed_on` failed; or exactly `skus`.
    """

    everything: bool = False
    revision_from: int = 0
    revision_to: int | None = None
    skus: tuple[str, ...] | None = None
    listed_on: int | None = None
    """With `everything`: the connector whose listed products are taken even when deleted or disabled, so the
    sync takes them off the channel. A covering sync moves the connector's cursor past their deletion: were
    they left out, no later INCREMENTAL would see it, and they would stay on the channel."""
    failed_on: int | None = None
    """With a revision range: the connector whose failed products (listing in error) are taken too. The
    INCREMENTAL sync that failed them, and completed as others went through, moved the cursor past their
    revision: were they left out, only a FULL sync would ever send them again."""
