"""What every task receives: arq's own keys plus the shared resources built at start-up."""

from __future__ import annotations

from typing import Any, TypedDict

from app.container import Container


class WorkerContext(TypedDict, total=False):
    container: Container
    job_id: str
    job_try: int
    redis: Any
