"""One factory builds the resources every entry point shares: API, worker and CLI."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis, RedisSettings, create_pool

from app.db.engine import Database
from app.embedded_redis import redis_url
from app.settings import Settings


def arq_redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(redis_url(settings))


@dataclass
class Container:
    """Long-lived resources, owned by the API's lifespan or the worker's start-up."""

    settings: Settings
    db: Database
    redis: ArqRedis

    async def close(self) -> None:
        await self.redis.aclose()
        await self.db.dispose()


async def open_container(settings: Settings) -> Container:
    db = Database(settings.resolved_database_url)
    redis = await create_pool(arq_redis_settings(settings))
    return Container(settings=settings, db=db, redis=redis)
