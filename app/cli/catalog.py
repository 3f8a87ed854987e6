"""`pimsync catalog ...`: enable locales, scopes and currencies before importing.

Each command imports the service it calls: building the command tree (for `pimsync --help`) loads none."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import TenantOption, console, database, run, tenant_id

catalog = typer.Typer(help="The catalog's set-up: locales, scopes and currencies.", no_args_is_help=True)

DefaultFirst = Annotated[str, typer.Argument(metavar="CODES", help="Comma-separated codes; the first is the default.")]
ScopeCodes = Annotated[str, typer.Argument(metavar="CODES", help="Comma-separated scope codes.")]
CODES = {"codes": "CODES", "scopes": "CODES"}
"""The API's input fields the CODES argument fills, for its errors."""


def _split(codes: str) -> list[str]:
    return [code.strip() for code in codes.split(",") if code.strip()]


@catalog.command("locales")
def locales(tenant: TenantOption, codes: DefaultFirst) -> None:
    """Enable exactly these locales (e.g. en_US,fr_FR,ar_AE); the first is the default locale.

    The others are disabled, their values kept; disabling one a connector uses is refused.
    """
    from app.services.catalog_setup import CatalogSetupService

    async def work() -> None:
        async with database() as db, db.transaction() as session:
            views = await CatalogSetupService(session).set_locales(await tenant_id(session, tenant), _split(codes))
        for view in views:
            state = "enabled" if view.enabled else "disabled"
            console.print(f"{view.info.code}\t{view.info.name}\t{view.info.native_name}\t{state}")

    run(work, CODES)


@catalog.command("scopes")
def scopes(tenant: TenantOption, codes: ScopeCodes) -> None:
    """Enable exactly these value scopes (Akeneo channels: ecommerce,print,mobile).

    Disabling one a connector uses is refused.
    """
    from app.services.catalog_setup import CatalogSetupService, ScopeInputData

    async def work() -> None:
        async with database() as db, db.transaction() as session:
            data = [ScopeInputData(code, {}) for code in _split(codes)]
            rows = await CatalogSetupService(session).set_scopes(await tenant_id(session, tenant), data)
        console.print(", ".join(row.code for row in rows if row.enabled))

    run(work, CODES)


@catalog.command("currencies")
def currencies(tenant: TenantOption, codes: DefaultFirst) -> None:
    """Enable exactly these currencies (e.g. EUR,USD); the first is the default for plain prices.

    Disabling one a connector uses is refused.
    """
    from app.services.catalog_setup import CatalogSetupService

    async def work() -> None:
        async with database() as db, db.transaction() as session:
            views = await CatalogSetupService(session).set_currencies(await tenant_id(session, tenant), _split(codes))
        console.print(", ".join(view.code for view in views if view.enabled))

    run(work, CODES)
