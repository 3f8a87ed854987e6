"""The `pimsync` entry point, light on purpose: loading the commands (SQLAlchemy, uvicorn, the channels) takes a
second or more on a busy machine, and a Ctrl-C meanwhile is one line and exit 130, not a traceback of an import."""

from __future__ import annotations

from app.cli.interrupt import interrupted


def main() -> None:
    try:
        from app.cli.commands import app
    except KeyboardInterrupt:
        interrupted()
    app()
