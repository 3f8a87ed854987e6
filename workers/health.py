"""Where a polling worker says it is alive, and how often: what `pimsync worker --check`, a liveness probe run
every few seconds, reads without loading the worker's tasks and services."""

from __future__ import annotations

import socket

HEALTH_CHECK_SECONDS = 30
"""How often a polling worker renews its health key; the key outlives each renewal by a second."""


def health_key(queue_name: str) -> str:
    """Where the worker on this host says it is alive and polling (arq writes it, with its job counts). One key per
    host, not arq's one per queue: a liveness probe asks about its own host's worker, and any other worker polling
    the queue would otherwise answer for a stuck one."""
    return f"{queue_name}:health-check:{socket.gethostname()}"
