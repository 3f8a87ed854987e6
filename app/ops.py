"""Operational endpoints: /health (alive), /ready (database, migrated, and Redis answer), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.container import Container
from app.metrics import Metrics
from app.services.readiness import ReadinessService

CHECK_TIMEOUT_SECONDS = 2.0


async def _check(probe: Callable[[], Awaitable[object]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:300]
    return "ok"


async def _database_answers(container: Container) -> None:
    """It answers, with the tables this code reads: an API on a database never migrated fails every request."""
    await ReadinessService(container).require_schema_not_behind()


def ops_routes(current: Callable[[], Container], metrics: Metrics) -> list[Route]:
    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        container = current()
        checks = {
            "database": await _check(lambda: _database_answers(container)),
            "redis": await _check(container.redis.ping),
        }
        ok = all(state == "ok" for state in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
        )

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/health", health), Route("/ready", ready), Route("/metrics", metrics_endpoint)]
