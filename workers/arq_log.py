"""arq's log line for a job it starts, told the truth about a job queued ahead by its priority.

arq orders a queue by each message's score, the time it may start, and logs a job it starts with `delayed=` the
time since that score. Sync work is queued with a score hours back, its priority's head start
(app/services/sync/queue.py), so a HIGH sync's messages, taken at once, read `delayed=7200.05s`: two hours in
the queue to an operator. Such a message could start as soon as it was queued, so its delay is the time since
it was queued, which the line's first figure already gives: that is what `delayed=` says for it, and only when
arq would have said it (past 1.2 s). A message deferred to a later time (a recovery pass) keeps arq's figure."""

from __future__ import annotations

import logging
import re

ARQ_WORKER_LOGGER = "arq.worker"
SAID_DELAYED_FROM = 1.2
"""Seconds of delay arq starts to mention (its 1200 ms)."""
_DELAYED = re.compile(r" delayed=(\d+(?:\.\d+)?)s")


class HeadStartDelay(logging.Filter):
    """Rewrites `delayed=` in arq's "job started" line for a job whose score was set before it was queued."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 4:
            return True
        since_queued, ref, call, extra = args
        if not isinstance(since_queued, int | float) or not isinstance(extra, str):
            return True
        said = _DELAYED.search(extra)
        if said is None or float(said.group(1)) <= since_queued:
            return True
        truth = f" delayed={since_queued:0.2f}s" if since_queued > SAID_DELAYED_FROM else ""
        record.args = (since_queued, ref, call, extra[: said.start()] + truth + extra[said.end() :])
        return True


def tell_head_starts_apart() -> None:
    """Put the filter on arq's worker logger, once however often a worker starts in the process."""
    logger = logging.getLogger(ARQ_WORKER_LOGGER)
    if not any(isinstance(existing, HeadStartDelay) for existing in logger.filters):
        logger.addFilter(HeadStartDelay())
