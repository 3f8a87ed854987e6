"""Starting the embedded Redis server: a server still coming up is waited for, not taken for a missing one."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.embedded_redis import _server_class, wait_until_answering


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
