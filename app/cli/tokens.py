"""`pimsync tokens ...` and `pimsync tenants ...`.

Each command imports the service it calls: building the command tree (for `pimsync --help`) loads none."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table

from app.cli.common import EXIT_UNUSABLE, TenantOption, console, database, errors, run
from app.domain.scopes import parse_scopes

tokens = typer.Typer(help="API tokens: shown once at creation, stored hashed.", no_args_is_help=True)
tenants = typer.Typer(help="Tenants (catalog teams); a tenant is created with its first token.", no_args_is_help=True)


@tokens.command("create")
def create(
    tenant: Annotated[
        str, typer.Option("--tenant", help="The tenant's code, e.g. acme; a new code is created with its first token.")
    ],
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes, or 'all'.")],
    name: Annotated[str, typer.Option(help="A name to tell tokens apart.")] = "cli",
) -> None:
    """Create a token (and the tenant on first use); the token is the last line printed."""
    from app.services.tokens import TokenService

    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        errors.print(f"[red]error[/red] --scopes: {exc}")
        raise typer.Exit(EXIT_UNUSABLE) from exc

    async def work() -> str:
        async with database() as db, db.transaction() as session:
            issued = await TokenService(session).issue(tenant_code=tenant, scopes=wanted, name=name)
        if issued.tenant_created:
            console.print(f"Created tenant {issued.tenant.code}.")
        console.print(
            f"Token {issued.token.id} '{issued.token.name}' for {issued.tenant.code}: {', '.join(issued.token.scopes)}"
        )
        console.print("Keep it now: it is shown only once.")
        return issued.secret

    print(run(work, {"tenant": "--tenant", "name": "--name"}))


@tokens.command("list")
def list_tokens(tenant: TenantOption) -> None:
    """List a tenant's tokens (never the secrets)."""
    from app.services.tokens import TokenService

    async def work() -> None:
        async with database() as db, db.reader() as session:
            rows = await TokenService(session).list(tenant_code=tenant)
        # Fold, not ellipsis: scope names are long, and a scope cut short on a narrow terminal is no use.
        scopes_column = Column("scopes", overflow="fold")
        table = Table("id", "name", "prefix", scopes_column, "created", "last used", "revoked")
        for row in rows:
            table.add_row(
                str(row.id),
                row.name,
                row.token_prefix + "…",
                ", ".join(row.scopes),
                f"{row.created_at:%Y-%m-%d %H:%M}",
                f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never",
                f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
            )
        console.print(table)

    run(work)


@tokens.command("revoke")
def revoke(
    tenant: TenantOption,
    token_id: Annotated[int, typer.Argument(metavar="TOKEN_ID", help="The token's id, from `pimsync tokens list`.")],
) -> None:
    """Revoke a token: requests with it are refused from now on. A token already revoked is left as it is (exit 0)."""
    from app.services.tokens import TokenService

    async def work() -> None:
        async with database() as db, db.transaction() as session:
            token, before = await TokenService(session).revoke(tenant_code=tenant, token_id=token_id)
        if before and token.revoked_at is not None:
            console.print(
                f"Token {token.id} '{token.name}' was already revoked ({token.revoked_at:%Y-%m-%d %H:%M} UTC); "
                "nothing changed."
            )
        else:
            console.print(f"Revoked token {token.id} '{token.name}'.")

    run(work)


@tenants.command("list")
def list_tenants() -> None:
    """List the tenants: code, name and product revision."""
    from app.repositories.tenants import TenantRepository

    async def work() -> None:
        async with database() as db, db.reader() as session:
            rows = await TenantRepository(session).list()
        for row in rows:
            console.print(f"{row.code}\t{row.name}\tproduct revision {row.product_revision}")

    run(work)
