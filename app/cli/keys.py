"""`pimsync keys ...`: secret keys for channel credentials.

Each command imports what it calls: building the command tree (for `pimsync --help`) loads none of it."""

from __future__ import annotations

import typer

from app.cli.common import console, database, errors, run, settings

keys = typer.Typer(
    help="Secret keys that encrypt channel credentials (SECRET_KEYS, newest first).", no_args_is_help=True
)


@keys.command("rotate")
def rotate() -> None:
    """Re-encrypt every connector's credentials under the first key of SECRET_KEYS.

    Put a new key first in SECRET_KEYS, keeping the old ones after it, run
    this, then drop the old keys. Exits 1 if some credentials could not be
    decrypted with any configured key (they are left unchanged), or kept
    changing while they were rotated (run it again).
    """
    from app.secrets import CredentialVault, load_cipher
    from app.services.keys import rotate_credentials

    async def work() -> None:
        vault = CredentialVault(load_cipher(settings()))  # inside run(): a malformed SECRET_KEYS is a clean error
        async with database() as db:
            report = await rotate_credentials(db, vault)
        console.print(f"Re-encrypted the credentials of {report.rotated} connector(s) under the newest key.")
        if report.changing:
            ids = ", ".join(str(pk) for pk in report.changing)
            errors.print(f"[yellow]warning[/yellow] the credentials of connector id(s) {ids} kept changing: run again")
        if report.unreadable:
            ids = ", ".join(str(pk) for pk in report.unreadable)
            errors.print(f"[red]error[/red] no configured key decrypts the credentials of connector id(s) {ids}")
        if report.unreadable or report.changing:
            raise typer.Exit(1)

    run(work)


@keys.command("generate")
def generate() -> None:
    """Print a new Fernet key (put it first in SECRET_KEYS, then run `pimsync keys rotate`)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
