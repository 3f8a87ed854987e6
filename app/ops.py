"""Operational endpoints: /health (alive), /ready (database, migrated, and Redis answer), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.container import Container
from app.db.migrate import SchemaNewer
from app.metrics import Metrics
from app.services.readiness import ReadinessService, SchemaBehind, ServedSchema

CHECK_TIMEOUT_SECONDS = 2.0
"""Each check's bound; the checks run side by side, so /ready answers within about this long whatever fails."""

NOT_REACHABLE = "not reachable"
NO_ANSWER = f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
SCHEMA_BEHIND = "schema behind, run `pimsync migrate`"
SCHEMA_NEWER = "schema newer than this release, run the release that migrated it"

log = structlog.get_logger(__name__)


async def _check(name: str, probe: Callable[[], Awaitable[object]]) -> str:
    """Says "ok" or a fixed description: /ready answers anyone, without a token, so a driver's message (hosts,
    users, database names) goes to the server's log only."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):  # not wait_for: pubsub.announce
            await probe()
    except Exception as exc:
        log.warning("ready.check_failed", check=name, error=f"{type(exc).__name__}: {exc}".removesuffix(": ")[:500])
        if isinstance(exc, SchemaBehind):
            return SCHEMA_BEHIND
        if isinstance(exc, SchemaNewer):
            return SCHEMA_NEWER
        return NO_ANSWER if isinstance(exc, TimeoutError) else NOT_REACHABLE
    return "ok"


async def _database_answers(container: Container, served: ServedSchema) -> None:
    """It answers, with the tables this code reads: an API on a database never migrated fails every request, and
    one rolled back onto a database a newer release migrated may."""
    await ReadinessService(container).require_servable_schema(served)


async def _checks(container: Container, served: ServedSchema) -> dict[str, str]:
    """Both checks at once: one after the other, their timeouts added up past a probe's own."""
    database, redis = await asyncio.gather(
        _check("database", lambda: _database_answers(container, served)), _check("redis", container.redis.ping)
    )
    return {"database": database, "redis": redis}


def ops_routes(current: Callable[[], Container], metrics: Metrics) -> list[Route]:
    served = ServedSchema()

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        checks = await _checks(current(), served)
        ok = all(state == "ok" for state in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
        )

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/health", health), Route("/ready", ready), Route("/metrics", metrics_endpoint)]
