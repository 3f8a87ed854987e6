"""Emulators of the channels' own APIs, and a way to serve any of them over real HTTP.

There is no network to the real channels, so each adapter is tested against
an emulator that enforces the channel's rules. An emulator is a plain ASGI
app: tests can drive it in-process through httpx.ASGITransport, or, where the
transport itself matters (timeouts, connection errors, real headers and
bodies on a socket), serve it with `serve()` on a free loopback port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

__all__ = ["serve"]


@contextmanager
def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = 10.0,
    lifespan: str = "off",
    ws: str = "none",
) -> Iterator[str]:
    """Run `app` under uvicorn in a background thread; yields its origin, e.g. "http://127.0.0.1:54321".

    The listening socket is bound here (port 0) and handed to uvicorn, so the
    port is known before the server starts and no other process can take it in
    between. The server has its own event loop, so the test's loop can block
    on it without deadlock. Logging is left alone (log_config=None).

    Leaving the block asks the server to stop and does not wait for it: uvicorn
    notices within its 0.1 s tick and then sleeps 0.1 s more while connections
    close, and hundreds of tests each serving an emulator paid that in
    teardown. The port is the server's own, so nothing waits on it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        ws=ws,
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"emulator:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the emulator on {host}:{port} did not start")
        time.sleep(0.005)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
