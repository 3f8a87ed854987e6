"""Tenants and API tokens: create, list, revoke, authenticate."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database
from app.db.models import ApiToken, Tenant
from app.domain.catalog import is_valid_code
from app.domain.errors import ErrorCode, InvalidInput, NotFound, TenantNotFound, Unauthenticated, UserErrorItem
from app.domain.scopes import Scope
from app.domain.storable import echoed, holds_nul, nul_refused
from app.domain.tokens import display_prefix, generate_token, hash_token
from app.repositories.tenants import TenantRepository
from app.repositories.tokens import TokenRepository
from app.services.auth import Principal

TOUCH_INTERVAL = timedelta(minutes=5)
MAX_NAME_LENGTH = ApiToken.name.type.length or 200
"""Characters of a token's name (its column's size): it tells tokens apart and signs the values written with it."""
MAX_TENANT_CODE_LENGTH = Tenant.code.type.length or 64
"""A tenant's code column holds fewer characters than other codes' (100), which `is_valid_code` allows."""
RECHECK_SECONDS = 5.0
"""How often an open subscription reads its token again: a revoked one stops streaming within this long."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: `secret` exists only here and is never stored."""

    secret: str
    token: ApiToken
    tenant: Tenant
    tenant_created: bool


class TokenService:
    def __init__(self, session: AsyncSession) -> None:
        self.tenants = TenantRepository(session)
        self.tokens = TokenRepository(session)

    async def ensure_tenant(self, code: str, *, name: str | None = None) -> tuple[Tenant, bool]:
        """The tenant with `code`, created if it does not exist yet (and whether it was); a code that cannot be one
        is bad input (CAT-010), refused as any other, not a failure."""
        if len(code) > MAX_TENANT_CODE_LENGTH:
            message = f"a tenant code is at most {MAX_TENANT_CODE_LENGTH} characters, this one has {len(code)}"
            raise InvalidInput([UserErrorItem(("tenant",), message, ErrorCode.INVALID_CODE)])
        if not is_valid_code(code):
            message = f"'{echoed(code)}' is not a valid tenant code (letters, digits and _ only)"
            raise InvalidInput([UserErrorItem(("tenant",), message, ErrorCode.INVALID_CODE)])
        tenant = await self.tenants.by_code(code)
        if tenant is not None:
            return tenant, False
        return await self.tenants.add(code=code, name=name or code), True

    async def issue(self, *, tenant_code: str, scopes: list[Scope], name: str) -> IssuedToken:
        """Create a token for the tenant (creating the tenant on first use)."""
        name = _checked_name(name)
        tenant, created = await self.ensure_tenant(tenant_code)
        secret = generate_token()
        token = await self.tokens.add(
            tenant_id=tenant.id,
            name=name,
            token_hash=hash_token(secret),
            prefix=display_prefix(secret),
            scopes=[scope.value for scope in scopes],
        )
        return IssuedToken(secret=secret, token=token, tenant=tenant, tenant_created=created)

    async def list(self, *, tenant_code: str) -> list[ApiToken]:
        tenant = await self._tenant(tenant_code)
        return await self.tokens.list_for_tenant(tenant.id)

    async def revoke(self, *, tenant_code: str, token_id: int) -> tuple[ApiToken, bool]:
        """Revoke a token, and whether it was revoked before: revoking twice changes nothing (the first revocation
        time is kept), and the caller says so rather than that it revoked it."""
        tenant = await self._tenant(tenant_code)
        token = await self.tokens.by_id(tenant.id, token_id)
        if token is None:
            raise NotFound(f"tenant {tenant_code} has no token {token_id}")
        if token.revoked_at is not None:
            return token, True
        token.revoked_at = datetime.now(UTC)
        return token, False

    async def still_active(self, principal: Principal) -> bool:
        """Whether the token behind `principal` is still there and not revoked (a websocket checks it as it goes)."""
        token = await self.tokens.by_id(principal.tenant_id, principal.token_id)
        return token is not None and token.revoked_at is None

    async def authenticate(self, secret: str) -> tuple[Principal, bool]:
        """The principal behind `secret`, and whether its last use is worth recording.

        Unauthenticated for an unknown or revoked token. Recording every use
        would turn each read into a write, so it is recorded once per interval.
        """
        found = await self.tokens.active_by_hash(hash_token(secret))
        if found is None:
            raise Unauthenticated("unknown or revoked token")
        token, tenant = found
        last = token.last_used_at
        stale = last is None or datetime.now(UTC) - last > TOUCH_INTERVAL
        return Principal(tenant.id, tenant.code, frozenset(token.scopes), token.id), stale

    async def record_use(self, token_id: int) -> None:
        await self.tokens.touch(token_id, datetime.now(UTC))

    async def _tenant(self, code: str) -> Tenant:
        tenant = await self.tenants.by_code(code)
        if tenant is None:
            raise TenantNotFound(code)
        return tenant


class TokenWatch:
    """For a long-lived subscription: the token it was opened with must stay valid.

    A websocket authenticates once, at connection_init; without this a revoked
    token would keep streaming. The token is read again at most every `every`
    seconds, so a subscription's ticks do not each cost a query.
    """

    def __init__(self, db: Database, principal: Principal, *, every: float | None = None) -> None:
        self.db = db
        self.principal = principal
        self.every = RECHECK_SECONDS if every is None else every
        self._checked_at = time.monotonic()

    async def check(self) -> None:
        """Unauthenticated once the token was revoked (or deleted); nothing otherwise."""
        if time.monotonic() - self._checked_at < self.every:
            return
        self._checked_at = time.monotonic()
        async with self.db.reader() as session:
            active = await TokenService(session).still_active(self.principal)
        if not active:
            raise Unauthenticated("the token of this connection was revoked")


def _checked_name(name: str) -> str:
    """The name as stored, without surrounding spaces; one that is blank, too long or holds a NUL is bad input."""
    cleaned = name.strip()
    if holds_nul(cleaned):
        raise InvalidInput([UserErrorItem(("name",), nul_refused("a token's name"), ErrorCode.INVALID_SETTING)])
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        message = f"a token's name is 1 to {MAX_NAME_LENGTH} characters, this one has {len(cleaned)}"
        raise InvalidInput([UserErrorItem(("name",), message, ErrorCode.INVALID_SETTING)])
    return cleaned
