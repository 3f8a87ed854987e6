"""Benchmark a GraphQL request a frontend sends again and again: with the document cache, and without it.

Run from the repository root:

    .venv/bin/python bench/graphql_bench.py [--requests 200] [--repeat 5]

What is timed. `schema.execute` of two documents a frontend sends on each visit of a screen, as the app runs them
(the app's schema, its limits and error policy, a tenant's principal), against a SQLite database migrated in a temp
dir, for a tenant with no rows: the page and count statements still run, so what the figure leaves out is the cost
of rows, not of the request. The connectors screen asks for a page of connectors with their mappings, last job,
nested sync jobs and pending conflicts; the conflicts screen a page of conflicts with their fields and diffs. Each
sends its own `first`, as a frontend paging does.

The two schemas are built from the same settings in the same run, one without the DocumentCache extension
(`build_schema(cache_documents=False)`): every request then parses and validates its document, as before the cache.
Rounds alternate between the two; the figure is the best round's time per request. The ratio says how much cheaper
a repeated request is with the cache; no time passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import strawberry

from app.container import Container, open_container
from app.db.migrate import upgrade_to_head
from app.domain.scopes import ALL_SCOPES
from app.services.auth import Principal
from app.services.tokens import TokenService
from app.settings import Settings
from graphql_schema import build_schema
from graphql_schema.context import Context
from graphql_schema.document_cache import document_cache_info

MACHINE_REDIS = "redis://127.0.0.1:6379/0"

CONNECTORS = """query Connectors($first: Int, $after: String) {
  connectors(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id code name channelType status supportedLocales
      settings { localeMapping { pimLocale channelLocale } }
      mappings { id attributeCode channelField direction transformation broken }
      localeSyncStatus { channelLocale status } pendingConflictCount lastJob { id status }
      syncJobs(first: 5) { totalCount edges { node { id status progress createdAt } } }
      conflicts(first: 5, resolutionStatus: PENDING) { totalCount edges { node { productSku } } }
    } }
  }
}"""

CONFLICTS = """query Conflicts($first: Int, $after: String) {
  conflicts(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node {
      id productSku conflictType resolutionStatus detectedAt version
      connector { code name localeSyncStatus { pimLocale channelLocale status } }
      fields { field attributeCode isLocaleSpecific direction
        diffs { pimLocale channelLocale baseValue pimValue channelValue } }
    } }
  }
}"""

SCREENS = {"connectors page": CONNECTORS, "conflicts page": CONFLICTS}


def _redis_url() -> str | None:
    """The machine's Redis when it answers, else the embedded one."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return MACHINE_REDIS
    except OSError:
        return None


async def _principal(container: Container) -> Principal:
    async with container.db.transaction() as session:
        issued = await TokenService(session).issue(tenant_code="bench", scopes=list(ALL_SCOPES), name="bench")
    scopes = frozenset(scope.value for scope in ALL_SCOPES)
    return Principal(
        tenant_id=issued.tenant.id, tenant_code=issued.tenant.code, scopes=scopes, token_id=issued.token.id
    )


async def _round(schema: strawberry.Schema, context: Context, query: str, requests: int) -> float:
    """Seconds per request of `requests` sendings of `query`, each with its own page size."""
    gc.collect()
    started = time.perf_counter()
    for number in range(requests):
        result = await schema.execute(query, {"first": 10 + number % 40}, context_value=context)
        if result.errors:
            raise SystemExit(f"the benchmark's document was refused: {result.errors}")
    return (time.perf_counter() - started) / requests


async def measure(requests: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as var_dir:
        url = f"sqlite+aiosqlite:///{Path(var_dir) / 'bench.sqlite3'}"
        await asyncio.to_thread(upgrade_to_head, url)
        settings = Settings(var_dir=Path(var_dir), database_url=url, redis_url=_redis_url())
        container = await open_container(settings)
        try:
            context = Context(container=container, principal=await _principal(container))
            cached, uncached = build_schema(settings), build_schema(settings, cache_documents=False)
            print(f"python {platform.python_version()} on {platform.machine()}, SQLite, {requests} requests a round")
            for screen, query in SCREENS.items():
                best = {"cached": float("inf"), "uncached": float("inf")}
                await _round(cached, context, query, 1)  # the first sending parses and validates: not timed
                for _ in range(repeat):
                    best["uncached"] = min(best["uncached"], await _round(uncached, context, query, requests))
                    best["cached"] = min(best["cached"], await _round(cached, context, query, requests))
                print(f"{screen} ({len(query)} characters):")
                print(f"  without the cache:  {best['uncached'] * 1000:8.2f} ms/request")
                print(f"  with the cache:     {best['cached'] * 1000:8.2f} ms/request")
                print(f"  saved:              {(best['uncached'] - best['cached']) * 1000:8.2f} ms/request")
                print(f"  ratio:              {best['uncached'] / best['cached']:8.2f} x")
            print(f"kept documents: {document_cache_info()}")
        finally:
            await container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(measure(options.requests, options.repeat))


if __name__ == "__main__":
    main()
