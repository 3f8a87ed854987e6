"""A loopback port that refuses connections, for tests of a database, Redis or shop that does not answer.

A port found free by binding and closing a socket is free only at that moment: another pytest -n process may
start a server on it before the test connects, and the test then meets that server instead of a refusal.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where every connection is refused at once, and stays refused while the block runs.

    Its socket is bound and never listens: the kernel answers each connection with a reset. Bound without
    SO_REUSEADDR, it cannot be shared, so no other process can bind (or listen on) the port meanwhile.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


UNREACHABLE_POSTGRES = "postgresql+asyncpg://pimsync@127.0.0.1:{closed_port}/pimsync"
"""A DATABASE_URL of the right form whose server refuses: format it with the port of a closed_port()."""


@contextmanager
def silent_port(host: str, port: int = 0) -> Iterator[int]:
    """A port on `host` (a loopback address) where a connection attempt gets no answer at all while the block runs.

    Like an address a firewall drops, or an IPv6 route that leads nowhere: the attempt hangs until its timeout.
    The socket listens with a backlog of 0 and one connection, never accepted, fills its queue; Linux then drops
    every further SYN instead of answering it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listening:
        listening.bind((host, port))
        listening.listen(0)
        bound = int(listening.getsockname()[1])
        with socket.create_connection((host, bound), timeout=1):
            yield bound
