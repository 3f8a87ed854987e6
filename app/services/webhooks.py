"""Inbound webhooks: receive (verify, store, answer at once), process in a worker, recover what no worker took.

A delivery is stored before it is answered and processed only afterwards, by
a worker: the channel gets its 202 in milliseconds whatever processing
costs, and a delivery that arrives while no worker runs (or while Redis is
down) waits in the database until one does. Each step is safe to repeat:

- a replayed delivery id is answered 202 and neither stored nor queued again
  (the unique (connector, delivery id) decides, not a read-then-write);
- a delivery's queue job id is fixed, so queueing it twice runs it once;
- processing takes only a PENDING delivery, so a delivery that was finished
  is never processed again, however often its job runs.

A connector's deliveries take turns on the queue (app.services.turns): a few
are queued or being processed (`queued_at` set), the rest of a burst wait
theirs, oldest first, so they do not hold every worker ahead of other
connectors' work.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

import structlog
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.base import WebhookEvent
from app.channels.webhooks import (
    Delivery,
    SignatureInvalid,
    Topic,
    WebhookProtocol,
    WebhookRefused,
    webhook_protocol,
)
from app.container import Container
from app.db.base import utcnow
from app.db.models import Connector, WebhookDelivery
from app.domain.channels import ChannelType
from app.domain.errors import NotFound
from app.domain.webhooks import DeliveryStatus
from app.repositories.webhooks import NewDelivery, QueuedDelivery, UnreadDelivery, WebhookRepository
from app.secrets import CredentialsUnreadable, Unsealed
from app.services.sync.queue import Queue, message_id, ms, waited_on_start
from app.services.turns import TurnKey, requeue_lost, take_connector_turns

log = structlog.get_logger(__name__)

PROCESS_TASK = "process_webhook_delivery"
MAX_ATTEMPTS = 5
"""Failed attempts before a delivery is given up as FAILED."""
RECOVER_AFTER = timedelta(seconds=10)
"""A PENDING delivery holding its connector's turn for longer than this may have lost its queue message (or never
had one): queue it again (one still queued, or waiting to be tried again, keeps its message: arq drops the second
under the same id)."""
RECOVERY_BATCH = 1000
"""Lost deliveries one read of a recovery sweep queues again; the sweep goes on to the next until none is left.
Each read sorts every lost one: larger batches read a backlog of 20,000 in fewer passes."""
ENQUEUE_TIMEOUT_SECONDS = 2.0
"""An unreachable Redis must not hold up the channel's answer; recovery queues the delivery later."""
MAX_OUTCOME_LENGTH = 1000
CONCLUSIONS = frozenset({DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED, DeliveryStatus.PENDING})
"""What the conflict checker may conclude (PENDING: not yet, its connector is paused); anything else is a failed
attempt."""


class BodyTooLarge(WebhookRefused):
    """The body is larger than its endpoint allows (`webhook_max_bytes`, `graphql_max_body_bytes`); reading
    stopped at the limit."""

    status = 413
    code = "PAYLOAD_TOO_LARGE"


class SecretUnreadable(WebhookRefused):
    """The connector's stored credentials cannot be decrypted (a key retired before `pimsync keys rotate`), so the
    delivery cannot be verified: 503, which channels answer by sending it again later, once an operator has
    put the key back."""

    status = 503
    code = "CREDENTIALS_UNREADABLE"


@dataclass(frozen=True, slots=True)
class Receipt:
    """How a delivery was taken: "accepted" (stored and queued), "duplicate" (a replay) or "ping"."""

    status: str
    delivery_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProcessingResult:
    """What one run of a delivery concluded; `retry_in` set: it failed and should run again after that many seconds."""

    status: str
    outcome: str
    retry_in: float | None = None


def job_id(queue_name: str, delivery_pk: int, received_at: datetime) -> str:
    """Fixed per delivery, so duplicates collapse; the queue and the receive time keep ids apart across services and
    databases on one Redis."""
    return message_id(queue_name, "webhook-delivery", delivery_pk, ms(received_at))


async def enqueue_delivery(queue: Queue, *, delivery_pk: int, received_at: datetime) -> bool:
    """Queue the delivery's processing; False when Redis could not be reached (recovery will queue it)."""
    try:
        async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):  # not wait_for: pubsub.announce
            await queue.enqueue_job(
                PROCESS_TASK,
                delivery_pk=delivery_pk,
                received_at_ms=ms(received_at),
                _job_id=job_id(queue.default_queue_name, delivery_pk, received_at),
                _defer_until=waited_on_start(),
            )
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("webhook.enqueue_failed", delivery=delivery_pk, error=f"{type(exc).__name__}: {exc}")
        return False
    return True


# -- receiving -------------------------------------------------------------------------------------------


async def read_limited(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it passes `limit` bytes (nothing more is read)."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"the body is larger than {limit} bytes")
    return bytes(body)


def refuse_declared_length(headers: Mapping[str, str], limit: int) -> None:
    """Refuse at once a body whose Content-Length already says it is too large."""
    declared = headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")


async def _connector(container: Container, public_id: str) -> Connector:
    async with container.db.reader() as session:
        connector = await WebhookRepository(session).connector_by_public_id(public_id)
    if connector is None:
        raise NotFound(f"no connector has the webhook path /webhooks/{public_id[:64]}")
    return connector


async def _store(container: Container, connector: Connector, delivery: Delivery) -> tuple[int, datetime] | None:
    received_at = utcnow()
    new = NewDelivery(
        tenant_id=connector.tenant_id,
        connector_id=connector.id,
        delivery_id=delivery.delivery_id,
        topic=delivery.topic.value,
        payload=delivery.payload,
        occurred_at=delivery.occurred_at,
        received_at=received_at,
    )
    async with container.db.transaction() as session:
        delivery_pk = await WebhookRepository(session).insert_once(new)
    return None if delivery_pk is None else (delivery_pk, received_at)


async def receive(
    container: Container, *, public_id: str, headers: Mapping[str, str], body: AsyncIterable[bytes]
) -> Receipt:
    """Take one webhook delivery for the connector whose webhook path is /webhooks/{public_id}.

    Raises NotFound for an unknown connector, BodyTooLarge past
    `webhook_max_bytes`, SecretUnreadable when the connector's credentials
    cannot be decrypted, and the channel's WebhookRefused errors: CHN-050 when
    no secret is configured, the signature fails (checked over the raw bytes
    before anything is parsed, with the secret, or within its grace the one
    it replaced) or the delivery is for another store, CHN-051
    for a body that cannot be read, CHN-052 for a topic that is not handled.
    Nothing is stored in any of those cases. The delivery is committed before
    it is queued.
    """
    connector = await _connector(container, public_id)
    try:
        return await _receive(container, connector, {name.lower(): value for name, value in headers.items()}, body)
    except WebhookRefused as refused:
        log.info("webhook.refused", connector=connector.id, status=refused.status, code=str(refused.code))
        raise


def _credentials(container: Container, connector: Connector) -> Unsealed:
    """The connector's decrypted credentials; SecretUnreadable, logged for an operator, when no key opens them."""
    try:
        return container.vault.unseal(connector.credentials_encrypted)
    except CredentialsUnreadable:
        log.error("webhook.credentials_unreadable", connector=connector.id, hint="is a retired key still needed?")
        raise SecretUnreadable(
            "the service cannot read this connector's credentials right now; the delivery was not stored, "
            "send it again later"
        ) from None


def _signed_with(protocol: WebhookProtocol, secret: str, raw: bytes, names: Mapping[str, str], now: float) -> bool:
    try:
        protocol.verify(secret, raw, names, now=now)
    except SignatureInvalid:
        return False
    return True


def _verify(
    container: Container,
    connector: Connector,
    protocol: WebhookProtocol,
    sealed: Unsealed,
    raw: bytes,
    names: Mapping[str, str],
) -> None:
    """Verify with the current secret, else with the one it replaced while that one's grace lasts.

    The refusal is the current secret's: a delivery the retired secret does
    not verify either (a wrong signature, or a CUSTOM_HTTP timestamp outside
    the tolerance whatever the secret) is refused as it always was. One the
    retired secret verifies is logged, so an operator sees what still comes
    signed with it before the grace ends.
    """
    secret = protocol.secret(sealed.credentials)
    if secret is None:
        raise SignatureInvalid("a webhook secret must be set in this connector's credentials before it takes webhooks")
    now = container.clock()
    try:
        protocol.verify(secret, raw, names, now=now)
    except SignatureInvalid:
        retired, grace = sealed.retired_webhook_secret, container.settings.webhook_secret_grace
        if retired is None or not retired.verifies_at(datetime.fromtimestamp(now, UTC), grace):
            raise
        if not _signed_with(protocol, retired.secret, raw, names, now):
            raise
        log.info("webhook.signed_with_previous_secret", connector=connector.id, until=retired.ends(grace).isoformat())


async def _receive(
    container: Container, connector: Connector, names: Mapping[str, str], body: AsyncIterable[bytes]
) -> Receipt:
    limit = container.settings.webhook_max_bytes
    refuse_declared_length(names, limit)
    raw = await read_limited(body, limit)
    protocol = webhook_protocol(ChannelType(connector.channel_type))
    if protocol.is_ping(names, raw):
        return Receipt("ping")
    sealed = _credentials(container, connector)
    _verify(container, connector, protocol, sealed, raw, names)
    protocol.check_store(sealed.credentials, names)
    delivery = protocol.parse(raw, names)
    stored = await _store(container, connector, delivery)
    if stored is None:
        log.info("webhook.duplicate", connector=connector.id, delivery_id=delivery.delivery_id)
        return Receipt("duplicate", delivery.delivery_id)
    await take_delivery_turns(container, connector.id)
    return Receipt("accepted", delivery.delivery_id)


# -- processing ------------------------------------------------------------------------------------------


def _reason(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    prefix = f"{code}: " if isinstance(code, str) else f"{type(exc).__name__}: "
    return (prefix + message)[:MAX_OUTCOME_LENGTH]


def _where(exc: BaseException) -> str | None:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else None


def _retry_delay(attempt: int, asked: float | None, first: float) -> float:
    """Growing back-off from `first` seconds; a channel that said how long to wait (`asked`) is waited for."""
    if asked is not None:
        return max(1.0, asked)
    return float(min(300.0, first * 2 ** (attempt - 1)))


def _channel_said(exc: Exception) -> tuple[bool, float | None]:
    """Whether the channel said "not now" (a 429) and how long to wait, if it said so: the conflict checker's
    ChannelBusy carries both. Imported here, not at the top, as in `_check`: the checker imports the sync engine,
    which the API does not load (and a check that raised has imported it)."""
    from app.services.conflicts.check import ChannelBusy

    if isinstance(exc, ChannelBusy):
        return exc.throttled, exc.retry_after
    return False, None


async def _record(container: Container, delivery_pk: int, status: DeliveryStatus, outcome: str) -> ProcessingResult:
    async with container.db.transaction() as session:
        attempts = await WebhookRepository(session).record_attempt(
            delivery_pk, status=status, outcome=outcome[:MAX_OUTCOME_LENGTH], now=utcnow()
        )
    if attempts is None:
        return ProcessingResult("SKIPPED", "finished by another run meanwhile")
    return ProcessingResult(status.value, outcome)


async def _wait(container: Container, delivery_pk: int, reason: str) -> ProcessingResult:
    """Leave the delivery PENDING with `reason`, no attempt counted: waiting is not failing. For a paused connector
    there is no retry either, since retrying cannot end a pause: resuming it queues the delivery again
    (`queue_waiting_deliveries`)."""
    async with container.db.transaction() as session:
        await WebhookRepository(session).note_waiting(delivery_pk, outcome=reason[:MAX_OUTCOME_LENGTH])
    return ProcessingResult(DeliveryStatus.PENDING.value, reason)


async def _failed(container: Container, row: WebhookDelivery, exc: Exception) -> ProcessingResult:
    attempt = row.attempts + 1
    reason = _reason(exc)
    first = container.settings.background_retry_seconds
    throttled, asked = _channel_said(exc)
    if throttled:
        # "Not now" is no failure (DESIGN: waiting out a 429 uses up no retry): a shop asking for ten minutes
        # counted five attempts in seconds and the delivery was FAILED, its change never checked.
        log.info("webhook.throttled", delivery=row.id, reason=reason)
        waiting = await _wait(container, row.id, reason)
        return replace(waiting, retry_in=_retry_delay(attempt, asked, first))
    # Where it failed, not a traceback: a rendered traceback shows each frame's locals, credentials included.
    log.warning("webhook.attempt_failed", delivery=row.id, attempt=attempt, reason=reason, at=_where(exc))
    if attempt >= MAX_ATTEMPTS:
        return await _record(container, row.id, DeliveryStatus.FAILED, f"gave up after {attempt} attempts: {reason}")
    result = await _record(container, row.id, DeliveryStatus.PENDING, reason)
    if result.status == "SKIPPED":
        return result
    return ProcessingResult(result.status, reason, retry_in=_retry_delay(attempt, asked, first))


async def _check(container: Container, connector_id: int, event: WebhookEvent) -> tuple[DeliveryStatus, str]:
    # Imported when first needed: the conflict checker imports the sync engine, which the API does not load.
    from app.services.conflicts.check import check_webhook_event

    check = await check_webhook_event(container, connector_id, event)
    status = DeliveryStatus(check.status)
    if status not in CONCLUSIONS:
        raise ValueError(f"the conflict checker concluded {check.status!r}, not PROCESSED, IGNORED or PENDING")
    return status, check.outcome


async def process_delivery(
    container: Container, delivery_pk: int, *, received_at_ms: int | None = None
) -> ProcessingResult:
    """Process one stored delivery: build its event, let the conflict checker act on it, store what it concluded;
    unless it is to be tried again later, hand its connector's turn on to the next delivery waiting for one.

    Only a PENDING delivery is processed, so running this twice is harmless.
    A failure is counted and given back with `retry_in`; after MAX_ATTEMPTS
    the delivery is FAILED with the reason. A payload that no longer builds
    an event fails at once (retrying cannot help). A delivery for a paused
    connector stays PENDING, uncounted, until the connector is resumed: the
    channel's change would otherwise be lost, since only a FULL sync reads
    products the PIM did not change.
    """
    async with container.db.reader() as session:
        found = await WebhookRepository(session).get(delivery_pk)
    if found is None:
        return ProcessingResult("MISSING", "no such delivery (its connector was deleted)")
    row, channel_type = found
    if received_at_ms is not None and ms(row.received_at) != received_at_ms:
        # A message that outlived its delivery (deleted with its connector) must not process another that took the
        # same id since (SQLite reuses a deleted row's id): it raced the new one's own message on one product.
        return ProcessingResult("SKIPPED", "queued for another delivery under this id")
    result = await _process(container, row, channel_type)
    if result.retry_in is None:
        await take_delivery_turns(container, row.connector_id)
    return result


async def _process(container: Container, row: WebhookDelivery, channel_type: str) -> ProcessingResult:
    if row.status != DeliveryStatus.PENDING:
        return ProcessingResult("SKIPPED", f"already {row.status}")
    try:
        protocol = webhook_protocol(ChannelType(channel_type))
        event = protocol.event(Topic(row.topic), row.payload, row.occurred_at)
    except (WebhookRefused, ValueError) as exc:
        return await _record(container, row.id, DeliveryStatus.FAILED, _reason(exc))
    try:
        status, outcome = await _check(container, row.connector_id, event)
    except Exception as exc:
        return await _failed(container, row, exc)
    if status is DeliveryStatus.PENDING:
        return await _wait(container, row.id, outcome)
    return await _record(container, row.id, status, outcome)


# -- recovery --------------------------------------------------------------------------------------------


async def recover_webhook_deliveries(container: Container) -> int:
    """Queue every PENDING delivery holding its connector's turn for more than RECOVER_AFTER, RECOVERY_BATCH at a
    time until none is left (app.services.turns.requeue_lost), then hand out the turns of connectors left with fewer
    than they may have; returns how many of each.

    Their job ids are fixed, so one still queued (or running, or waiting for
    a retry) is not queued twice. A paused connector's deliveries are left to
    wait for resumeConnector (`queue_waiting_deliveries`), not queued again
    every time this runs.
    """
    cutoff, batch = utcnow() - RECOVER_AFTER, RECOVERY_BATCH

    async def read(after: TurnKey | None) -> list[QueuedDelivery]:
        async with container.db.reader() as session:
            return await WebhookRepository(session).queued_before(cutoff, after=after, limit=batch)

    async def requeued(deliveries: Sequence[QueuedDelivery], now: datetime) -> None:
        async with container.db.transaction() as session:
            await WebhookRepository(session).requeued([delivery.id for delivery in deliveries], now)

    lost, queueing = await requeue_lost(read, _turn_key, partial(_offer, container), requeued, batch=batch)
    async with container.db.reader() as session:
        short = await WebhookRepository(session).waiting_for_turns(container.settings.checks_per_connector)
    for connector_id in short if queueing else []:
        if not await take_delivery_turns(container, connector_id):
            break
    if lost or short:
        log.info("webhook.recovered", deliveries=lost, connectors_given_turns=len(short))
    return lost + len(short)


def _turn_key(delivery: QueuedDelivery) -> TurnKey:
    assert delivery.queued_at is not None  # read with its turn's time (queued_before)
    return delivery.queued_at, delivery.id


async def take_delivery_turns(container: Container, connector_id: int) -> bool:
    """Give the connector's deliveries waiting their turn the turns it has free (app.services.turns), and queue
    them; False as soon as Redis did not take one: it holds its turn, and recovery queues it. A paused connector's
    are handed out too: the worker notes on each that it waits for resumeConnector, and it keeps its turn."""

    async def take(session: AsyncSession, count: int, now: datetime) -> list[QueuedDelivery]:
        return await WebhookRepository(session).take_turns(connector_id, count, now)

    async def holding(session: AsyncSession) -> int:
        return await WebhookRepository(session).holding_turns(connector_id)

    taken = await take_connector_turns(container, connector_id, held_back=(), holding=holding, take=take)
    return await _offer(container, taken)


PURGE_BATCH = 1000
"""Deliveries one transaction of a purge deletes: a short lock each, however many a busy shop piled up."""


COLLAPSE_SECONDS = 120.0
"""Payload reading one run does at most, well inside arq's job timeout: a connector paused for months may hold
millions of deliveries the first run reads; the next runs (hourly) go on with those not read yet."""
SUPERSEDED = (
    "superseded: a newer delivery about the same product waits for the connector to be resumed; it checks the "
    "product as the channel holds it then"
)


async def collapse_waiting_deliveries(container: Container) -> int:
    """Keep only the newest of a paused connector's PENDING deliveries about each product; the others are IGNORED
    as superseded. Returns how many.

    A paused connector's deliveries wait for resumeConnector, which queues
    every one: a busy shop paused for a month piled up every product update
    of that month, never purged and each checked on resume. Each check reads
    the product as the channel holds it when it runs, not as the delivery
    carried it, so once the newest delivery about a product is checked the
    older ones find nothing more (an echo, or stale). The newest is the one
    kept, by the channel's own time of the change: what stays is bounded by
    the products on the channel, not by the length of the pause.
    """
    async with container.db.reader() as session:
        paused = await WebhookRepository(session).paused_with_waiting()
    clock = asyncio.get_running_loop().time
    until = clock() + COLLAPSE_SECONDS

    def in_time() -> bool:
        return clock() < until

    superseded = 0
    for connector_id in paused:
        if not await _read_product_refs(container, connector_id, in_time):
            break
        superseded += await _supersede(container, connector_id)
    if superseded:
        log.info("webhook.superseded", deliveries=superseded, connectors=len(paused))
    return superseded


async def _read_product_refs(container: Container, connector_id: int, in_time: Callable[[], bool]) -> bool:
    """Record which product each of the connector's PENDING deliveries is about, PURGE_BATCH a transaction; False
    when time ran out first (the next run goes on: only those not read yet are read)."""
    async with container.db.reader() as session:
        found = await session.get(Connector, connector_id)
    if found is None:
        return True
    protocol = webhook_protocol(ChannelType(found.channel_type))
    while in_time():
        async with container.db.transaction() as session:
            deliveries = WebhookRepository(session)
            unread = await deliveries.unread_refs(connector_id, limit=PURGE_BATCH)
            await deliveries.set_refs({row.id: _product_ref(protocol, row) for row in unread})
        if len(unread) < PURGE_BATCH:
            return True
    return False


def _product_ref(protocol: WebhookProtocol, row: UnreadDelivery) -> str:
    """The product as the channel names it: its external id, else its SKU; "" when the payload names none (the
    delivery fails when processed, and is superseded by nothing)."""
    try:
        event = protocol.event(Topic(row.topic), row.payload, row.occurred_at)
    except (WebhookRefused, ValueError):
        return ""
    if event.external_id:
        return f"id:{event.external_id}"[:300]
    return f"sku:{event.sku}"[:300] if event.sku else ""


async def _supersede(container: Container, connector_id: int) -> int:
    superseded = 0
    while True:
        async with container.db.transaction() as session:
            marked = await WebhookRepository(session).supersede(
                connector_id, outcome=SUPERSEDED, now=utcnow(), limit=PURGE_BATCH
            )
        superseded += marked
        if marked < PURGE_BATCH:
            return superseded


async def purge_old_deliveries(container: Container) -> int:
    """Delete the deliveries dealt with more than PIMSYNC_WEBHOOK_RETENTION_DAYS after they arrived; returns how
    many. The table kept every delivery forever; its rows are needed only to answer a channel's replays (within a
    day of the first try) as duplicates and to say what became of a recent delivery."""
    cutoff = utcnow() - container.settings.webhook_retention
    purged = 0
    while True:
        async with container.db.transaction() as session:
            deleted = await WebhookRepository(session).delete_dealt_with_before(cutoff, limit=PURGE_BATCH)
        purged += deleted
        if deleted < PURGE_BATCH:
            break
    if purged:
        log.info("webhook.purged", deliveries=purged, received_before=cutoff.isoformat())
    return purged


async def queue_waiting_deliveries(container: Container, connector_id: int) -> int:
    """Queue the PENDING deliveries of a connector that was just resumed: those holding its turns, then as many
    more as it has turns free; returns how many held one.

    Deliveries that came while it was paused waited for this (recovery passes
    over a paused connector's). Any beyond RECOVERY_BATCH, and any whose
    queueing failed, are recovery's, since the connector is no longer paused.
    """
    async with container.db.reader() as session:
        holding = await WebhookRepository(session).queued_of(connector_id, limit=RECOVERY_BATCH)
    if await _offer(container, holding):
        await take_delivery_turns(container, connector_id)
    if holding:
        log.info("webhook.resumed", connector=connector_id, deliveries=len(holding))
    return len(holding)


async def _offer(container: Container, waiting: Sequence[QueuedDelivery]) -> bool:
    """Queue each delivery, stopping at the first Redis failure (recovery tries again later); False then."""
    for delivery in waiting:
        if not await enqueue_delivery(container.redis, delivery_pk=delivery.id, received_at=delivery.received_at):
            return False
    return True
