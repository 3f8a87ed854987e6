"""Error codes and the service's exception tree.

    ServiceError                     a failure with a stable code and a human message
    ├── InvalidInput                 bad input; carries every UserErrorItem found, changes nothing
    ├── NotFound                     the object does not exist for this tenant
    │   └── TenantNotFound           no tenant has the code given
    ├── Unauthenticated              no token, or a token that is unknown or revoked
    └── Forbidden                    the token lacks a scope the operation needs

CHN codes are the channel connector API contract's, adopted as they are. CAT
codes are the catalog's own (docs/errors.md lists both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.domain.storable import echoed


class ErrorCode(StrEnum):
    """Stable codes carried by userErrors and error extensions."""

    # Catalog
    INVALID_LOCALE = "CAT-001"
    LOCALE_NOT_ENABLED = "CAT-002"
    UNKNOWN_ATTRIBUTE = "CAT-003"
    VALUE_TYPE_MISMATCH = "CAT-004"
    LOCALE_MISMATCH = "CAT-005"
    SCOPE_MISMATCH = "CAT-006"
    SCOPE_NOT_ENABLED = "CAT-007"
    CURRENCY_NOT_ENABLED = "CAT-008"
    DUPLICATE_IN_BATCH = "CAT-009"
    INVALID_CODE = "CAT-010"
    ATTRIBUTE_IN_USE = "CAT-011"
    PRODUCT_NOT_FOUND = "CAT-012"
    BATCH_TOO_LARGE = "CAT-013"
    INVALID_CURRENCY = "CAT-014"
    EMPTY_LIST = "CAT-015"
    # Connectors (the service's own, beside the contract's CHN codes)
    INVALID_SETTING = "CON-001"
    CONNECTOR_CODE_TAKEN = "CON-002"
    CONNECTOR_NOT_FOUND = "CON-003"
    CONNECTOR_PAUSED = "CON-004"
    SYNC_JOB_NOT_FOUND = "CON-005"
    SYNC_JOB_FINISHED = "CON-006"
    NOTHING_TO_RETRY = "CON-007"
    NO_MAPPINGS = "CON-008"
    # Channel connector contract
    INVALID_CHANNEL_TYPE = "CHN-001"
    INVALID_CREDENTIALS_FORMAT = "CHN-002"
    CONNECTION_TEST_FAILED = "CHN-003"
    OAUTH_AUTHORIZATION_FAILED = "CHN-004"
    OAUTH_REFRESH_FAILED = "CHN-005"
    MISSING_REQUIRED_FIELD = "CHN-010"
    FIELD_TYPE_MISMATCH = "CHN-011"
    LOCALE_NOT_SUPPORTED = "CHN-012"
    CURRENCY_NOT_SUPPORTED = "CHN-013"
    RATE_LIMITED = "CHN-020"
    CHANNEL_UNAVAILABLE = "CHN-021"
    CHANNEL_ERROR = "CHN-022"
    TIMEOUT = "CHN-023"
    PRODUCT_NOT_FOUND_IN_CHANNEL = "CHN-030"
    CREATE_FAILED = "CHN-031"
    UPDATE_FAILED = "CHN-032"
    DELETE_FAILED = "CHN-033"
    CONFLICT_DETECTED = "CHN-040"
    CONFLICT_RESOLUTION_FAILED = "CHN-041"
    WEBHOOK_SIGNATURE_INVALID = "CHN-050"
    WEBHOOK_PAYLOAD_INVALID = "CHN-051"
    WEBHOOK_EVENT_UNSUPPORTED = "CHN-052"
    MAPPING_INVALID = "CHN-060"
    MAPPING_BROKEN = "CHN-061"
    TAX_CALCULATION_ERROR = "CHN-070"
    COMMISSION_TRACKING_ERROR = "CHN-071"
    TENANT_ISOLATION_VIOLATION = "CHN-080"
    SYNC_ALREADY_RUNNING = "CHN-090"
    RETRY_SOURCE_NOT_FOUND = "CHN-091"


REFUSED_BY_STATE = frozenset(
    {
        ErrorCode.CONNECTOR_PAUSED,
        ErrorCode.SYNC_JOB_FINISHED,
        ErrorCode.NOTHING_TO_RETRY,
        ErrorCode.NO_MAPPINGS,
        ErrorCode.SYNC_ALREADY_RUNNING,
    }
)
"""Codes of a request that is sound but that what it names refuses as it stands (a sync already running, a
connector paused): the same request can go through later. Every other code of an InvalidInput says the input
itself cannot be used."""

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class UserErrorItem:
    """One problem with the input: where (path into the input), what, and its code."""

    path: Path
    message: str
    code: ErrorCode
    node_id: str | None = None
    """Global id (node_ids.node_id) of the object the problem is about, when it is one: the sync job already
    running (CHN-090), for a UI to open it."""

    def under(self, *prefix: str | int) -> UserErrorItem:
        """The same problem, with its path nested under `prefix`."""
        return UserErrorItem((*prefix, *self.path), self.message, self.code, self.node_id)


class ServiceError(Exception):
    """Base of every error a service raises on purpose."""

    code: str = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    """The input has problems; nothing was changed."""

    code = "BAD_USER_INPUT"

    def __init__(self, errors: Sequence[UserErrorItem]) -> None:
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in errors[:5]))
        self.errors = list(errors)

    @property
    def refused_by_state(self) -> bool:
        """Whether it is only the state of things that refused the input (REFUSED_BY_STATE), not the input itself:
        input that is wrong as well (triggerSync tells both at once) would be refused again once the state changes."""
        return bool(self.errors) and all(error.code in REFUSED_BY_STATE for error in self.errors)


class NotFound(ServiceError):
    """Reads the same whether the object is missing or belongs to another tenant."""

    code = "NOT_FOUND"


class TenantNotFound(NotFound):
    """No tenant has this code: only a command names a tenant by its code (a token carries its tenant), and says
    how to make one."""

    def __init__(self, tenant_code: str) -> None:
        super().__init__(f"no tenant '{echoed(tenant_code)}'")
        self.tenant_code = tenant_code


class Unauthenticated(ServiceError):
    """No bearer token, or one that is unknown or revoked."""

    code = "UNAUTHENTICATED"


class Forbidden(ServiceError):
    """The token is valid but lacks the scope the operation needs."""

    code = "FORBIDDEN"
