"""Structured logs: JSON in production (or LOG_JSON=true), readable lines otherwise; stdlib logs routed through."""

from __future__ import annotations

import logging

import structlog

from app.settings import Settings


def _rendering(json_output: bool) -> list[structlog.types.Processor]:
    """The last processors: JSON or a readable line. A traceback is rendered plainly, frames and message, never
    with each frame's locals (structlog's default with rich installed), which hold credentials and request data;
    in JSON as text, where the exception would otherwise be written as its repr()."""
    if json_output:
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]


def configure_logging(settings: Settings) -> None:
    json_output = settings.log_json or settings.is_production
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
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_rendering(json_output)],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for chatty in QUIET_LIBRARIES:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    for repeated in SILENCED:
        logging.getLogger(repeated).setLevel(logging.CRITICAL + 1)
    migration = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(present, _MigrationSetUp) for present in migration.filters):
        migration.addFilter(_MigrationSetUp())


QUIET_LIBRARIES = ("httpx", "httpcore", "alembic.runtime.plugins")
"""httpx logs every request at INFO with its full URL (a query of up to 100 SKUs): a line per channel call in
a worker's log, rendered at a cost a 100,000-product export feels. The channel clients log their own requests
(endpoint, status, time) at DEBUG; the libraries' warnings still come through. alembic logs "setup plugin" at INFO
for each of its own plugins as it is imported, which is when a process first reads the migrations (app.db.migrate),
after its logs are set up: lines about alembic's insides in every command's output."""


class _MigrationSetUp(logging.Filter):
    """Drops alembic's two set-up lines ("Context impl SQLiteImpl.", "Will assume non-transactional DDL."), which
    every `pimsync migrate` printed even with nothing to migrate; its "Running upgrade 0010 -> 0011" lines, which
    tell an operator what changed, still come through."""

    SET_UP = ("Context impl ", "Will assume ")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self.SET_UP))


SILENCED = ("strawberry.execution",)
"""strawberry logs every GraphQL error with the exception's message and traceback, which can carry what the
request sent (a credential a header could not encode); graphql_schema/errors.ErrorPolicy logs each fault once,
by type and place."""
