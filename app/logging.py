"""Structured logs: JSON in production (or LOG_JSON=true), readable lines otherwise; stdlib logs routed through."""

from __future__ import annotations

import logging

import structlog

from app.settings import Settings


def configure_logging(settings: Settings) -> None:
    json_output = settings.log_json or settings.is_production
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for chatty in QUIET_LIBRARIES:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))


QUIET_LIBRARIES = ("httpx", "httpcore")
"""httpx logs every request at INFO with its full URL (a query of up to 100 SKUs): a line per channel call in
a worker's log, rendered at a cost a 100,000-product export feels. The channel clients log their own requests
(endpoint, status, time) at DEBUG; the libraries' warnings still come through."""
