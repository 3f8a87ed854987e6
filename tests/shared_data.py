"""Where the team's shared specs and sample data live: official channel API descriptions, real catalogs.

They are read, never copied into the repository: PIMSYNC_SHARED_DIR names the
folder; otherwise it is found beside the checkout or one of its parents (a
`shared` folder holding DESIGN.md), as on development and CI machines.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

MARKER = "DESIGN.md"
DEFAULT = Path("/work/shared")


@cache
def shared_dir() -> Path:
    configured = os.environ.get("PIMSYNC_SHARED_DIR")
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared"
        if (candidate / MARKER).is_file():
            return candidate
    if (DEFAULT / MARKER).is_file():
        return DEFAULT
    raise FileNotFoundError("the shared specs and data were not found: set PIMSYNC_SHARED_DIR to their folder")


def shared_path(*parts: str) -> Path:
    return shared_dir().joinpath(*parts)
