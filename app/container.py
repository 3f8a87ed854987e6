"""One factory builds the resources every entry point shares: API, worker and CLI."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpcore
import httpx
from arq.connections import ArqRedis, RedisSettings, create_pool

from app.channels.outbound import PublicAddressBackend, url_origin
from app.channels.transport import ChannelTransport
from app.db.engine import Database
from app.embedded_redis import redis_url
from app.queue_codec import deserialize, serialize
from app.redis_outage import LOST_CONNECTION, UntilDeadline
from app.secrets import CredentialVault, load_cipher
from app.settings import Settings


def arq_redis_settings(settings: Settings, *, ride_out_outages: bool = False) -> RedisSettings:
    """How to reach Redis. A worker rides out an outage (redis_outage): a command that finds Redis gone waits for it
    to come back, so the poll loop and the chunks in flight carry on, where they failed at once and the worker
    exited. The API does not: a request, or /ready, says at once that Redis is away."""
    found = RedisSettings.from_dsn(redis_url(settings))
    if not ride_out_outages:
        return found
    return replace(found, retry=UntilDeadline(), retry_on_error=list(LOST_CONNECTION))


async def queue_pool(settings: Settings, *, ride_out_outages: bool = False) -> ArqRedis:
    """A connection pool to the queue, reading and writing its messages as the workers do (app.queue_codec)."""
    return await create_pool(
        arq_redis_settings(settings, ride_out_outages=ride_out_outages),
        default_queue_name=settings.queue_name,
        job_serializer=serialize,
        job_deserializer=deserialize,
    )


def channel_http_client(settings: Settings) -> httpx.AsyncClient:
    """One pooled client for every channel request; adapters add their own headers and URLs.

    Every connection goes through ChannelTransport, which reads no answer past PIMSYNC_CHANNEL_MAX_RESPONSE_BYTES
    and ends each request HTTP_TIMEOUT_SECONDS after it began. Unless private addresses are allowed, its connections
    are made by PublicAddressBackend, which judges the address at connect time; the Shopify endpoint the operator
    configured is trusted as it is."""
    backend: httpcore.AsyncNetworkBackend = httpcore.AnyIOBackend()
    if not settings.allow_private_urls:
        trusted = url_origin(settings.shopify_admin_url or "")
        backend = PublicAddressBackend(trusted=[trusted] if trusted else [])
    transport = ChannelTransport(
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        backend=backend,
        max_bytes=settings.channel_max_response_bytes,
        deadline=settings.http_timeout_seconds,
        stop_wait=settings.stop_wait_seconds,
    )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_seconds), transport=transport, follow_redirects=False
    )


@dataclass
class Container:
    """Long-lived resources, owned by the API's lifespan or the worker's start-up."""

    settings: Settings
    db: Database
    redis: ArqRedis
    vault: CredentialVault
    http: httpx.AsyncClient
    clock: Callable[[], float] = time.time
    """The wall clock (unix seconds) that signed timestamps and webhook secret grace periods are judged by; a test
    moves it instead of waiting."""

    async def close(self) -> None:
        await self.http.aclose()
        await self.redis.aclose()
        await self.db.dispose()


async def open_container(settings: Settings, *, ride_out_outages: bool = False) -> Container:
    """The shared resources; `ride_out_outages` for a worker's (arq_redis_settings)."""
    vault = CredentialVault(load_cipher(settings))  # first: a malformed SECRET_KEYS leaves no pool open behind it
    db = Database(settings.resolved_database_url, connect_timeout=settings.database_connect_timeout_seconds)
    redis = await queue_pool(settings, ride_out_outages=ride_out_outages)
    return Container(settings=settings, db=db, redis=redis, vault=vault, http=channel_http_client(settings))
