"""Locales, scopes and currencies: per-tenant ordered sets of codes that can be enabled.

Disabling keeps the row (and every value authored in that locale or scope);
the first enabled code is the catalog's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Currency, Locale, Scope

Row = TypeVar("Row", Locale, Scope, Currency)


class CodeSetRepository(Generic[Row]):
    def __init__(self, session: AsyncSession, model: type[Row]) -> None:
        self.session = session
        self.model: type[Row] = model

    async def list(self, tenant_id: int, *, enabled_only: bool = False) -> list[Row]:
        model: Any = self.model
        statement = select(model).where(model.tenant_id == tenant_id)
        if enabled_only:
            statement = statement.where(model.enabled.is_(True))
        statement = statement.order_by(model.enabled.desc(), model.position, model.code)
        return list(await self.session.scalars(statement))

    async def enabled_codes(self, tenant_id: int) -> tuple[str, ...]:
        model: Any = self.model
        statement = (
            select(model.code).where(model.tenant_id == tenant_id, model.enabled.is_(True)).order_by(model.position)
        )
        return tuple(await self.session.scalars(statement))

    async def replace_enabled(
        self, tenant_id: int, codes: Sequence[str], extra: dict[str, dict[str, Any]] | None = None
    ) -> None:
        """Enable exactly `codes`, in that order; others stay, disabled. `extra` sets columns per code."""
        model: Any = self.model
        await self.session.execute(update(model).where(model.tenant_id == tenant_id).values(enabled=False))
        existing = {row.code: row for row in await self.list(tenant_id)}
        for position, code in enumerate(codes):
            columns = {"enabled": True, "position": position, **(extra or {}).get(code, {})}
            row = existing.get(code)
            if row is None:
                self.session.add(model(tenant_id=tenant_id, code=code, **columns))
            else:
                for name, value in columns.items():
                    setattr(row, name, value)
        await self.session.flush()
