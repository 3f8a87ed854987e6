"""Starting the embedded Redis server: a server still coming up is waited for, not taken for a missing one."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from app.embedded_redis import _server_class, wait_until_answering
from tests.redis_servers import embedded_servers

RACERS = 4
"""Processes started together: `pimsync run` starts two, and an operator may start serve and workers at once."""


class LateListener:
    """A unix socket bound but not yet listening, as redis-server's is between its bind and its listen: connecting
    is refused. `listen()` opens it, and every command read then gets PONG."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.bind(str(path))

    def listen(self) -> None:
        self._socket.listen()
        threading.Thread(target=self._answer, daemon=True).start()

    def _answer(self) -> None:
        with contextlib.suppress(OSError):  # closed at the test's end
            connection, _ = self._socket.accept()
            with connection:
                while connection.recv(4096):
                    connection.sendall(b"+PONG\r\n")

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def late_listener(tmp_path: Path) -> Iterator[LateListener]:
    listener = LateListener(tmp_path / "redis.socket")
    yield listener
    listener.close()


def client_of(listener: LateListener) -> redis.Redis:
    """A client that sends PING alone on connect (no CLIENT SETINFO), so the listener's one answer fits."""
    return redis.Redis(unix_socket_path=str(listener.path), lib_name=None, lib_version=None, socket_timeout=5)


def test_a_server_refusing_its_first_connection_is_waited_for(late_listener: LateListener) -> None:
    refused = 0

    class FirstRefused(redis.Redis):
        def ping(self, **kwargs: object) -> bool:
            nonlocal refused
            try:
                return bool(super().ping(**kwargs))
            except redis.ConnectionError:
                refused += 1
                late_listener.listen()  # the server listens just after the first ping was turned away
                raise

    client = FirstRefused(unix_socket_path=str(late_listener.path), lib_name=None, lib_version=None, socket_timeout=5)
    client.start_timeout = 5  # type: ignore[attr-defined]
    _server_class()._wait_for_server_start(client)  # the wait the embedded server's start runs, on this client
    assert refused == 1
    assert client.ping()


def test_a_server_that_never_listens_is_reported_at_the_deadline(late_listener: LateListener) -> None:
    with pytest.raises(redis.ConnectionError, match="Connection refused"):
        wait_until_answering(client_of(late_listener), timeout=0.3)


RACER = """
import sys, time
from pathlib import Path

import redis

from app.embedded_redis import _servers, start_embedded_redis
from app.settings import Settings

go, done = Path(sys.argv[1]), Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
url = start_embedded_redis(Settings())
print("started" if _servers else "joined", redis.Redis.from_url(url).info("server")["run_id"], flush=True)
while not done.exists():
    time.sleep(0.01)
"""


@pytest.fixture
def racers(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Processes of the race; any embedded server left serving the test's var dir is killed at the end."""
    started: list[subprocess.Popen[str]] = []
    yield started
    (tmp_path / "done").touch()
    for process in started:
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
    for server in embedded_servers(tmp_path):
        with contextlib.suppress(psutil.NoSuchProcess):
            server.kill()


def test_processes_starting_at_the_same_instant_share_one_server(
    tmp_path: Path, racers: list[subprocess.Popen[str]]
) -> None:
    """`pimsync serve` and `pimsync worker` started together each found no server and each started one on the same
    socket path: the API queued jobs on one server and the worker polled the other, so no job ever ran."""
    environment = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    environment["PIMSYNC_VAR_DIR"] = str(tmp_path / "var")
    go, done = tmp_path / "go", tmp_path / "done"
    for _ in range(RACERS):
        racers.append(
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(go), str(done)], env=environment, stdout=subprocess.PIPE, text=True
            )
        )
    for process in racers:
        assert process.stdout and process.stdout.readline() == "ready\n"  # at the line before it starts the server
    go.touch()
    lines = [process.stdout.readline().split() for process in racers if process.stdout]
    assert sorted(role for role, _ in lines) == ["joined"] * (RACERS - 1) + ["started"]
    assert len({run_id for _, run_id in lines}) == 1, "every process talks to the same server"
    assert len(embedded_servers(tmp_path)) == 1
