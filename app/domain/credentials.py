"""Checking credentials against a channel type's JSON Schema without echoing them (pure).

jsonschema's own messages quote the offending value, which for credentials is
a secret; these messages name the field and the rule only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from app.domain.errors import ErrorCode, Path, UserErrorItem

MIN_SIGNING_SECRET_LENGTH: Final = 16
"""The shortest secret a channel's requests or webhooks are signed with (HMAC-SHA256): a shorter one is a typo or a
placeholder, and a signature anyone can forge."""

NOT_IN_A_HEADER: Final[Mapping[str, Any]] = {"pattern": "[^!-~]"}
"""Under "not" in a credentials schema: the secret is sent in an HTTP header, so it must be visible ASCII only
(RFC 9110 field-vchar less obs-text; no spaces, accents or line breaks). httpx cannot encode anything else and
would fail with the secret in its exception. Said as "holds no other character" rather than "^[!-~]+$" because
a JSON Schema validator in Python reads `$` as matching before a final line break as well."""


def header_safe(value: str) -> bool:
    """Whether `value` can be sent as (part of) an HTTP header: visible ASCII only, see NOT_IN_A_HEADER."""
    return bool(value) and all("!" <= character <= "~" for character in value)


FORM_RULES: Final = frozenset({"pattern", "format"})
"""Rules on a value's form: one said in the field's own description (a regular expression is no message)."""


def _problems(error: ValidationError) -> list[tuple[tuple[str, ...], int, str]]:
    """What one schema error says, as (path below the credentials, rank, message): a missing or unexpected field is
    named at its own path, so each shows beside its input and is said once (jsonschema raises one error per
    missing field, each carrying the whole required list). Of the problems at one path, the lowest rank is told:
    a wrong type before a wrong form."""
    at = tuple(str(part) for part in error.absolute_path)
    rule, expected, instance = error.validator, error.validator_value, error.instance
    if rule == "required" and isinstance(instance, Mapping) and isinstance(expected, list):
        return [((*at, name), 0, f"{name} is required") for name in expected if name not in instance]
    if rule == "additionalProperties" and isinstance(instance, Mapping) and isinstance(error.schema, Mapping):
        allowed = error.schema.get("properties", {})
        return [
            ((*at, name), 0, f"{name} is not a credential of this channel") for name in instance if name not in allowed
        ]
    rank = 0 if rule == "type" else 1 if rule in FORM_RULES else 2
    return [(at, rank, _describe(error, ".".join(at) or "credentials"))]


def _describe(error: ValidationError, where: str) -> str:
    rule, expected = error.validator, error.validator_value
    if rule == "type":
        return f"{where} must be of type {expected}"
    description = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    if rule in FORM_RULES and isinstance(description, str):
        return f"{where} does not have the expected form: {description}"
    if rule == "pattern":
        return f"{where} does not have the expected form"
    if rule == "format":
        return f"{where} must be a valid {expected}"
    if rule == "minLength":
        return f"{where} must be at least {expected} characters"
    if rule == "maxLength":
        return f"{where} must be at most {expected} characters"
    if rule in ("minimum", "maximum", "minItems", "maxItems"):
        return f"{where} breaks {rule} {expected}"
    if rule in ("enum", "const"):
        return f"{where} must be one of: {expected}"
    if rule == "not" and expected == NOT_IN_A_HEADER:
        return f"{where} must be visible ASCII only (no spaces, accents or line breaks): it is sent in an HTTP header"
    return f"{where} is not valid ({rule})"


def check_credentials(schema: Mapping[str, Any], credentials: Any, path: Path) -> list[UserErrorItem]:
    """How `credentials` break `schema`, one userError per field, never containing a credential's value."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    told: dict[tuple[str, ...], tuple[int, str]] = {}
    for error in validator.iter_errors(credentials):
        for at, rank, message in _problems(error):
            if at not in told or rank < told[at][0]:
                told[at] = (rank, message)
    return [
        UserErrorItem((*path, *at), message, ErrorCode.INVALID_CREDENTIALS_FORMAT)
        for at, (_, message) in sorted(told.items())
    ]
