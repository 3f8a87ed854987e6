"""Checking credentials against a channel type's JSON Schema without echoing them (pure).

jsonschema's own messages quote the offending value, which for credentials is
a secret; these messages name the field and the rule only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from app.domain.errors import ErrorCode, Path, UserErrorItem


def _describe(error: ValidationError) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "credentials"
    rule = error.validator
    expected = error.validator_value
    if rule == "required":
        names = expected if isinstance(expected, list) else []
        missing = [name for name in names if isinstance(error.instance, Mapping) and name not in error.instance]
        return f"{', '.join(missing)} is required"
    if rule == "additionalProperties":
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        extra = (
            sorted(name for name in error.instance if name not in allowed)
            if isinstance(error.instance, Mapping)
            else []
        )
        return f"unexpected field(s): {', '.join(extra)}"
    if rule == "type":
        return f"{where} must be of type {expected}"
    if rule == "pattern":
        return f"{where} does not have the expected form ({expected})"
    if rule == "format":
        return f"{where} must be a valid {expected}"
    if rule in ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"):
        return f"{where} breaks {rule} {expected}"
    if rule in ("enum", "const"):
        return f"{where} must be one of: {expected}"
    return f"{where} is not valid ({rule})"


def check_credentials(schema: Mapping[str, Any], credentials: Any, path: Path) -> list[UserErrorItem]:
    """Every way `credentials` breaks `schema`, as userErrors that never contain a credential's value."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        UserErrorItem(
            (*path, *(str(part) for part in error.absolute_path)),
            _describe(error),
            ErrorCode.INVALID_CREDENTIALS_FORMAT,
        )
        for error in sorted(validator.iter_errors(credentials), key=lambda e: list(map(str, e.absolute_path)))
    ]
