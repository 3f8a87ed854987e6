"""What a Ctrl-C that no command handles itself ends with; light, so the entry point can say it before the
commands have loaded."""

from __future__ import annotations

import sys
from typing import NoReturn

EXIT_INTERRUPTED = 130
"""128 + SIGINT, what a shell reports for a process Ctrl-C ended."""


def interrupted() -> NoReturn:
    """One line on stderr and exit 130, in place of a traceback of wherever the interrupt landed."""
    print("interrupted", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_INTERRUPTED)
