"""The suite's own isolation under pytest -n: queues no other test's worker takes from, ports no one can take.

`make test` runs one pytest process per core, each starting real worker processes; a worker that took
another test's message, or a "closed" port another process had started a server on, would fail a test only
now and then.
"""

from __future__ import annotations

import errno
import socket

import pytest

from app.container import Container
from app.settings import Settings
from tests.ports import closed_port
from tests.sync_fixtures import WorkerProcess, module_worker

__all__ = ["module_worker"]

QUEUES_SEEN: set[str] = set()


@pytest.mark.parametrize("run", ["first", "second"])
async def test_no_two_tests_enqueue_on_one_queue(run: str, settings: Settings, container: Container) -> None:
    assert container.redis.default_queue_name == container.settings.queue_name == settings.queue_name
    assert settings.queue_name not in QUEUES_SEEN, f"the {run} test was given an earlier test's queue"
    QUEUES_SEEN.add(settings.queue_name)


async def test_the_module_worker_takes_the_messages_of_the_tests_it_serves(
    module_worker: WorkerProcess, container: Container
) -> None:
    assert module_worker.settings.queue_name == container.redis.default_queue_name


async def test_a_module_worker_still_running_does_not_take_another_tests_messages(
    request: pytest.FixtureRequest, container: Container
) -> None:
    """The module's worker runs until the module's last test has run, this one's included."""
    worker: WorkerProcess = request.getfixturevalue("module_worker")
    assert worker.settings.queue_name != container.redis.default_queue_name


def test_a_closed_port_refuses_connections_for_as_long_as_it_is_held() -> None:
    with closed_port() as port, pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_no_server_can_start_on_a_closed_port_meanwhile() -> None:
    """As another test process would start one: SO_REUSEADDR, then bind (tests.emulators.serve, uvicorn)."""
    with closed_port() as port, socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with pytest.raises(OSError) as caught:
            server.bind(("127.0.0.1", port))
    assert caught.value.errno == errno.EADDRINUSE
