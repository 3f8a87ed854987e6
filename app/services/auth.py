"""Who is calling: the principal behind a bearer token, and scope checks."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import Forbidden
from app.domain.scopes import Scope


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified token: one tenant and the scopes it grants."""

    tenant_id: int
    tenant_code: str
    scopes: frozenset[str]
    token_id: int

    def allows(self, scope: Scope) -> bool:
        return scope.value in self.scopes

    def require(self, scope: Scope) -> None:
        """Raise Forbidden unless the token carries `scope`."""
        if not self.allows(scope):
            raise Forbidden(f"this token lacks the scope {scope.value}")
