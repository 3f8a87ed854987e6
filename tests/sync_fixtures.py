"""Real `pimsync worker` processes for sync tests, GraphQL documents for jobs, and a shop of chairs to sync.

Workers run as separate processes on the test's database and Redis (and its
own queue name: conftest.settings), exactly as deployed; tests can kill one with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.container import Container
from app.db.models import SyncChunk
from app.embedded_redis import redis_url
from app.services.sync.planner import plan_job
from app.services.sync.runner import MAX_CHUNK_ATTEMPTS, run_chunk
from app.settings import Settings
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import set_up_catalog, upsert, value
from tests.conftest import GraphQLClient
from tests.connector_fixtures import SAVE_MAPPINGS, ServedShop, create_connector

JOB_FIELDS = """
  id status syncType priority totalProducts syncedProducts failedProducts skippedProducts conflictedProducts
  progress dryRun retryOf queuePosition failure createdAt startedAt completedAt locales cancelRequested
"""
TRIGGER = f"""
mutation($code: String!, $input: TriggerSyncInput!) {{
  triggerSync(connectorCode: $code, input: $input) {{
    syncJob {{ {JOB_FIELDS} }} estimatedProducts userErrors {{ field message code }}
  }}
}}"""
JOB = f"""query($id: ID!) {{ syncJob(id: $id) {{ {JOB_FIELDS}
  errors(first: 100) {{ totalCount edges {{ node {{ productSku locale errorCode message }} }} }}
  changes(first: 100) {{ totalCount edges {{ node {{ productSku action fields {{ field channelLocale before after held }} }} }} }}
}} }}"""
STATUS = """query($id: ID!) { syncJob(id: $id) { status } }"""
CANCEL = f"""mutation($id: ID!) {{ cancelSyncJob(id: $id) {{ syncJob {{ {JOB_FIELDS} }} userErrors {{ field message code }} }} }}"""
RETRY = f"""mutation($id: ID!) {{ retrySyncJob(id: $id) {{ syncJob {{ {JOB_FIELDS} }} userErrors {{ field message code }} }} }}"""

LOCALE_STATUS = """query { connector(code: "shop") {
  lastSyncedAt lastJob { id status } localeSyncStatus { pimLocale channelLocale status lastSyncedAt }
} }"""

FINISHED = {"COMPLETED", "FAILED", "CANCELLED"}


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """Chunks of 100 products in pages of 50: a chunk's pages go through the pipeline (runner._pages)."""
    return {
        **os.environ,
        "DATABASE_URL": settings.resolved_database_url,
        "REDIS_URL": redis_url(settings),
        "PIMSYNC_VAR_DIR": str(settings.var_dir),
        "PIMSYNC_QUEUE": settings.queue_name,
        "PIMSYNC_SYNC_LEASE_SECONDS": str(settings.sync_lease_seconds),
        "PIMSYNC_ALLOW_PRIVATE_URLS": "true",
        "PIMSYNC_SHOPIFY_ADMIN_URL": settings.shopify_admin_url or "",
        "PIMSYNC_SYNC_CHUNK_SIZE": "100",
        "PIMSYNC_SYNC_PAGE_SIZE": "50",
        "PIMSYNC_WORKER_POLL_SECONDS": "0.05",
        "PIMSYNC_CHANNEL_RETRY_SECONDS": "0.05",
        "PIMSYNC_BACKGROUND_RETRY_SECONDS": "0.5",
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


class WorkerProcess:
    """One `pimsync worker`; its output goes to a file the test prints when something goes wrong."""

    def __init__(self, settings: Settings, log_path: Path, **env: str) -> None:
        self.settings = settings
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"],
                env=worker_env(self.settings, **self.env),
                stdout=log,
                stderr=log,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no cleanup, as when a machine dies."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    async def started(self, within: float = 30.0) -> WorkerProcess:
        """Once the worker has finished starting up and polls the queue (its start-up hook logs worker.ready)."""
        deadline = time.monotonic() + within
        while "worker.ready" not in self.log():  # the whole log: messages left queued may follow it at once
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not start within {within}s:\n{self.output()}")
            await asyncio.sleep(0.05)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self) -> str:
        """The log's end, for a failure's message."""
        return self.log()[-4000:]


@contextmanager
def running_worker(settings: Settings, log_path: Path, **env: str) -> Iterator[WorkerProcess]:
    """A worker process; `env` overrides its environment (worker_env)."""
    worker = WorkerProcess(settings, log_path, **env).start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    with running_worker(settings, tmp_path / "worker.log") as process:
        yield process


@pytest.fixture(scope="module")
def module_worker(module_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One worker for every test of a module, per database: each test has its own tenant, so they do not
    meet, and a test is spared a worker's start and stop. Not for tests that kill or restart it.

    Its queue is the module's (conftest.module_settings): the tests it serves enqueue there, and no other
    test's worker does. It is stopped, and waited for, when the module's last test has run."""
    with running_worker(module_settings, tmp_path_factory.mktemp("worker") / "worker.log") as process:
        yield process


async def trigger(gql: GraphQLClient, code: str = "shop", **given: Any) -> dict[str, Any]:
    payload = (await gql(TRIGGER, {"code": code, "input": {"syncType": "FULL", **given}}))["triggerSync"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return dict(payload["syncJob"])


async def wait_for_job(
    gql: GraphQLClient,
    job_id: str,
    *,
    worker: WorkerProcess | None = None,
    within: float = 60.0,
    until: set[str] = FINISHED,
) -> dict[str, Any]:
    """Poll the job until its status is in `until`; fails with the worker's output when it takes too long.

    Waiting for it to finish, only its status is polled, often, and the whole job (JOB: its errors and changes
    too) read once it has finished, which it then stays: a whole job read every 0.2 s cost each wait 0.1 s on
    average after the job ended, and the CPU of those reads, which the worker running the job on the same cores
    waited for."""
    deadline = time.monotonic() + within
    light = until <= FINISHED
    while True:
        job = (await gql(STATUS if light else JOB, {"id": job_id}))["syncJob"]
        if job["status"] in until:
            return dict((await gql(JOB, {"id": job_id}))["syncJob"] if light else job)
        if time.monotonic() > deadline:
            output = worker.output() if worker else ""
            pytest.fail(f"job {job_id} still {job['status']} after {within}s: {job}\nworker output:\n{output}")
        await asyncio.sleep(0.05 if light else 0.2)


# -- a catalog of chairs and a CUSTOM_HTTP connector to sync it -------------------------------------------------

PRODUCTS = 30


MAPPINGS = [
    {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"},
    {"attributeCode": "description", "channelField": "description", "direction": "EXPORT", "whenEmpty": "SKIP"},
    {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
]


LISTINGS = """query($sku: String!) { product(sku: $sku) { listings { externalId status connector { code } } } }"""


def sku(number: int) -> str:
    return f"CHAIR-{number:03d}"


def chair(number: int, **names: str) -> dict[str, Any]:
    return {
        "sku": sku(number),
        "values": [
            value("name", names.get("en", f"Oak chair {number}"), "en_US"),
            value("name", names.get("ar", f"كرسي بلوط {number}"), "ar_AE"),
            value("name", names.get("fr", f"Chaise en chêne {number}"), "fr_FR"),
            value("price", {"EUR": f"{100 + number}.50"}),
        ],
    }


@pytest.fixture
async def shop_sync(gql: GraphQLClient, served_shop: ServedShop) -> GraphQLClient:
    """A catalog of 30 chairs in three locales, a CUSTOM_HTTP connector to the shop, its mappings.

    The connector allows 100 requests/s: the channel type's 5/s would make most of a test's time waiting for
    the bucket. The rate limit has tests of its own."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, requestsPerSecond=100)
    for start in range(0, PRODUCTS, 10):
        await upsert(gql, *(chair(n) for n in range(start, start + 10)))
    saved = (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]
    assert saved["userErrors"] == []
    return gql


async def planned(
    gql: GraphQLClient, container: Container, *, size: int | None = None, count: int | None = None, **options: Any
) -> tuple[str, int, list[SyncChunk]]:
    """A job triggered with `options` and planned here (in `count` chunks of `size`, when given): its
    global id, its id and its chunks in id order."""
    global_id = (await trigger(gql, **options))["id"]
    job_id = parse_global_id(global_id)[1]
    made = await plan_job(container, job_id, size=size)
    assert count is None or made == count
    async with container.db.reader() as session:
        chunks = list(await session.scalars(select(SyncChunk).where(SyncChunk.job_id == job_id).order_by(SyncChunk.id)))
    return global_id, job_id, chunks


async def run_triggered_here(container: Container, job_id: int) -> None:
    """A job already triggered (by the CLI, the schedule) planned and run chunk by chunk in this process, as
    workers would."""
    await plan_job(container, job_id)
    async with container.db.reader() as session:
        chunks = list(await session.scalars(select(SyncChunk.id).where(SyncChunk.job_id == job_id)))
    for chunk_id in chunks:
        await run_chunk(container, chunk_id, worker="here")


async def run_here(gql: GraphQLClient, container: Container, **options: Any) -> dict[str, Any]:
    """A job triggered with `options`, planned and run chunk by chunk in this process (no worker): the job as the
    API shows it then."""
    global_id, _, chunks = await planned(gql, container, **options)
    for chunk in chunks:
        await run_chunk(container, chunk.id, worker="here")
    return dict((await gql(JOB, {"id": global_id}))["syncJob"])


async def fail_a_job(gql: GraphQLClient, container: Container) -> int:
    """A FULL sync whose only chunk every worker has failed on: the job fails as a whole. Its id."""
    _, job_id, [chunk] = await planned(gql, container, size=1000, count=1)
    async with container.db.transaction() as session:
        row = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk.id))
        assert row is not None
        row.attempts = MAX_CHUNK_ATTEMPTS
    await run_chunk(container, chunk.id, worker="here")
    return job_id


async def until_a_batch_is_sent(shop: ServedShop, what: str = "the sync") -> None:
    """Until the shop has received a product batch (answered or not): the run under test is mid-page.

    Generous, as it only polls: a worker process started just before imports the app, plans the job and looks its
    first page up on the shop (slowed down by some tests) first, which took over 10 s on a loaded machine."""
    deadline = time.monotonic() + 45
    while not shop.shop.requests_to("POST", "/products/batch"):
        assert time.monotonic() < deadline, f"{what} never sent its first page"
        await asyncio.sleep(0.02)


GRACE_SECONDS = 4.0
"""A stopped worker's grace period in the tests of a write the shop holds (PIMSYNC_WORKER_STOP_SECONDS): half of it, 2 s, is
what its stop waits for a write."""
HELD_WRITE = {"PIMSYNC_WORKER_STOP_SECONDS": str(GRACE_SECONDS), "HTTP_TIMEOUT_SECONDS": "8"}
"""A write may take 8 s (HTTP_TIMEOUT_SECONDS), longer than the grace period, as 30 s are longer than 20 s."""
SHOP_HOLDS_A_WRITE_SECONDS = 5.0
"""Longer than the grace period, within the write's timeout: the shop applies the write after the worker has gone."""


async def until_every_batch_is_answered(shop: ServedShop) -> None:
    """Until the shop has acted on every batch it received (and answered, whether or not anyone still listened)."""
    deadline = time.monotonic() + 15
    while any(not request.status for request in shop.shop.requests_to("POST", "/products/batch")):
        assert time.monotonic() < deadline, "the shop still holds a batch"
        await asyncio.sleep(0.05)


def batches(shop: ServedShop) -> list[dict[str, Any]]:
    return [request.json for request in shop.shop.requests_to("POST", "/products/batch") if request.status == 200]


def sent_products(shop: ServedShop) -> list[dict[str, Any]]:
    return [product for body in batches(shop) for product in body["products"]]


def outcome(job: dict[str, Any], product_sku: str) -> tuple[list[str], list[tuple[str | None, str, str]]]:
    """What a job (as wait_for_job reads it) did with one product: its changes' actions, and its errors as
    (locale, code, message) in order: a dry run is to show what the real run of it does."""
    actions = [edge["node"]["action"] for edge in job["changes"]["edges"] if edge["node"]["productSku"] == product_sku]
    errors = [
        (node["locale"], node["errorCode"], node["message"])
        for node in (edge["node"] for edge in job["errors"]["edges"])
        if node["productSku"] == product_sku
    ]
    return actions, sorted(errors, key=lambda error: (error[0] or "", error[1], error[2]))


async def locale_status(gql: GraphQLClient) -> dict[str, str]:
    """Each channel locale's sync status (never, pending, synced, error) on the connector "shop"."""
    return {row["channelLocale"]: row["status"] for row in (await gql(LOCALE_STATUS))["connector"]["localeSyncStatus"]}
