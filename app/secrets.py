"""Secret keys for encrypting channel credentials (MultiFernet: newest key first, older ones still decrypt).

SECRET_KEYS is a comma-separated list of Fernet keys. On the embedded default
a key is created once under var/ with mode 0600; production refuses to start
without SECRET_KEYS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.domain.webhook_secrets import RetiredSecret
from app.settings import Settings
from app.var_dir import make_private_dir

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


def _existing_key_file(settings: Settings) -> str | None:
    path = settings.secret_key_file
    return path.read_text().strip() if path.exists() else None


def _key_file(settings: Settings) -> str:
    existing = _existing_key_file(settings)
    if existing is not None:
        return existing
    path = settings.secret_key_file
    make_private_dir(path.parent)
    key = Fernet.generate_key()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    log.warning("secret_key.created", path=str(path), hint="set SECRET_KEYS in production; keep this file private")
    return key.decode()


def _given_keys(settings: Settings) -> list[str] | None:
    """The keys SECRET_KEYS gives; None where the embedded key file is to be used instead."""
    if settings.secret_keys:
        keys = [key for key in settings.secret_keys.split(",") if key.strip()]
        if not keys:
            raise SecretKeysInvalid("SECRET_KEYS is set but holds no key")
        return keys
    if settings.is_production:
        raise SecretKeysInvalid("SECRET_KEYS must be set in production")
    return None


def secret_keys(settings: Settings) -> list[str]:
    given = _given_keys(settings)
    return given if given is not None else [_key_file(settings)]


def load_cipher(settings: Settings) -> MultiFernet:
    """The cipher for credentials, creating the embedded key file on first start."""
    return MultiFernet([_fernet(key, index) for index, key in enumerate(secret_keys(settings))])


def check_secret_keys(settings: Settings) -> None:
    """Refuse what load_cipher would refuse (SecretKeysInvalid), without creating the embedded key file: a command
    checks its settings before it binds its port, and one that cannot bind must leave no key behind."""
    keys = _given_keys(settings)
    if keys is None:
        existing = _existing_key_file(settings)
        keys = [] if existing is None else [existing]
    for index, key in enumerate(keys):
        _fernet(key, index)


class CredentialsUnreadable(RuntimeError):
    """Stored credentials that no configured key decrypts: a key was retired before `pimsync keys rotate`."""


RETIRED_WEBHOOK_SECRET = "$retiredWebhookSecret"
"""Where the sealed document keeps the webhook secret an update replaced, beside the credentials. Never a
credential: every channel's credentials schema refuses a key it does not name, and none names this one."""


@dataclass(frozen=True, slots=True)
class Unsealed:
    """Everything a connector's sealed credentials hold; its printout shows none of it, so no log line or error
    message that names one can leak a secret."""

    credentials: dict[str, Any] = field(repr=False)
    retired_webhook_secret: RetiredSecret | None = field(default=None, repr=False)
    """The webhook secret the last credentials update replaced, while deliveries signed with it may still come."""


class CredentialVault:
    """Seals channel credentials for storage and opens them where an adapter is built.

    The plaintext exists only in memory, only for as long as an adapter needs
    it; nothing here logs it or puts it in an exception message. A retired
    webhook secret is sealed in the same document, so it is kept exactly as
    safely and `rotate` re-encrypts it with the rest.
    """

    def __init__(self, cipher: MultiFernet) -> None:
        self._cipher = cipher

    def seal(self, credentials: Mapping[str, Any], *, retired_webhook_secret: RetiredSecret | None = None) -> str:
        document = dict(credentials)
        if retired_webhook_secret is not None:
            document[RETIRED_WEBHOOK_SECRET] = retired_webhook_secret.as_json()
        return self._cipher.encrypt(json.dumps(document, sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        """The credentials alone, as the user gave them: what adapters and webhook protocols read."""
        return self.unseal(sealed).credentials

    def unseal(self, sealed: str) -> Unsealed:
        try:
            opened = json.loads(self._cipher.decrypt(sealed.encode()))
        except InvalidToken:
            raise CredentialsUnreadable(
                "stored credentials cannot be decrypted with the configured SECRET_KEYS"
            ) from None
        if not isinstance(opened, dict):
            raise CredentialsUnreadable("stored credentials are not an object")
        retired = RetiredSecret.from_json(opened.pop(RETIRED_WEBHOOK_SECRET, None))
        return Unsealed(opened, retired)

    def rotate(self, sealed: str) -> str:
        """The same credentials (and retired webhook secret) under the newest key (older keys can then be retired)."""
        try:
            return self._cipher.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise CredentialsUnreadable(
                "stored credentials cannot be decrypted with the configured SECRET_KEYS"
            ) from None
