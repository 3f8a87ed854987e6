"""Secret keys for encrypting channel credentials (MultiFernet: newest key first, older ones still decrypt).

SECRET_KEYS is a comma-separated list of Fernet keys. On the embedded default
a key is created once under var/ with mode 0600; production refuses to start
without SECRET_KEYS.
"""

from __future__ import annotations

import os

import structlog
from cryptography.fernet import Fernet, MultiFernet

from app.settings import Settings

log = structlog.get_logger(__name__)


class SecretKeysInvalid(RuntimeError):
    """SECRET_KEYS is missing where it is required, or holds a malformed key."""


def _fernet(key: str, position: int) -> Fernet:
    try:
        return Fernet(key.strip().encode())
    except ValueError as exc:
        raise SecretKeysInvalid(
            f"SECRET_KEYS entry {position + 1} is not a valid Fernet key (32 url-safe base64 bytes)"
        ) from exc


def _key_file(settings: Settings) -> str:
    path = settings.secret_key_file
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    log.warning("secret_key.created", path=str(path), hint="set SECRET_KEYS in production; keep this file private")
    return key.decode()


def secret_keys(settings: Settings) -> list[str]:
    if settings.secret_keys:
        return [key for key in settings.secret_keys.split(",") if key.strip()]
    if settings.is_production:
        raise SecretKeysInvalid("SECRET_KEYS must be set in production")
    return [_key_file(settings)]


def load_cipher(settings: Settings) -> MultiFernet:
    """The cipher for credentials, creating the embedded key file on first start."""
    return MultiFernet([_fernet(key, index) for index, key in enumerate(secret_keys(settings))])
