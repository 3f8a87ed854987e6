"""The keys that encrypt channel credentials: a private key file by default, SECRET_KEYS with rotation otherwise."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.domain.webhook_secrets import RetiredSecret
from app.secrets import (
    CredentialsUnreadable,
    CredentialVault,
    SecretKeysInvalid,
    Unsealed,
    check_secret_keys,
    load_cipher,
)
from app.settings import Environment, Settings

SHOP_TOKEN = b"shpat_0123456789abcdef"


def settings(
    var_dir: Path, secret_keys: str | None = None, environment: Environment = Environment.DEVELOPMENT
) -> Settings:
    return Settings(environment=environment, var_dir=var_dir, secret_keys=secret_keys)


def key() -> str:
    return Fernet.generate_key().decode()


def test_the_key_file_is_created_private_on_first_load_and_reused(tmp_path: Path) -> None:
    var_dir = tmp_path / "fresh" / "var"
    key_file = var_dir / "secret.key"
    assert not var_dir.exists()

    first = load_cipher(settings(var_dir))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    stored = key_file.read_bytes()
    Fernet(stored)  # a valid Fernet key, not a placeholder
    ciphertext = first.encrypt(SHOP_TOKEN)

    again = load_cipher(settings(var_dir))
    assert key_file.read_bytes() == stored, "a second start must not replace the key"
    assert again.decrypt(ciphertext) == SHOP_TOKEN
    assert Fernet(stored).decrypt(ciphertext) == SHOP_TOKEN


def test_checking_the_keys_refuses_what_loading_them_would_and_makes_no_key_file(tmp_path: Path) -> None:
    """What a command checks before it binds its port: a port in use must leave no key file behind."""
    var_dir = tmp_path / "var"
    check_secret_keys(settings(var_dir))
    assert not var_dir.exists()
    with pytest.raises(SecretKeysInvalid, match="entry 1 "):
        check_secret_keys(settings(var_dir, secret_keys="short"))
    with pytest.raises(SecretKeysInvalid, match="SECRET_KEYS must be set in production"):
        check_secret_keys(settings(var_dir, environment=Environment.PRODUCTION))
    var_dir.mkdir()
    (var_dir / "secret.key").write_text("not a key\n")
    with pytest.raises(SecretKeysInvalid, match="entry 1 "):
        check_secret_keys(settings(var_dir))
    (var_dir / "secret.key").write_text(key() + "\n")
    check_secret_keys(settings(var_dir))


def test_an_existing_key_file_is_used_as_is(tmp_path: Path) -> None:
    mine = key()
    (tmp_path / "secret.key").write_text(mine + "\n")
    ciphertext = load_cipher(settings(tmp_path)).encrypt(SHOP_TOKEN)
    assert Fernet(mine).decrypt(ciphertext) == SHOP_TOKEN


def test_secret_keys_take_precedence_over_the_key_file(tmp_path: Path) -> None:
    mine = key()
    ciphertext = load_cipher(settings(tmp_path, secret_keys=mine)).encrypt(SHOP_TOKEN)
    assert Fernet(mine).decrypt(ciphertext) == SHOP_TOKEN
    assert not (tmp_path / "secret.key").exists()


def test_rotation_old_key_still_decrypts_and_rotate_moves_to_the_new_key(tmp_path: Path) -> None:
    old, new = key(), key()
    stored = load_cipher(settings(tmp_path, secret_keys=old)).encrypt(SHOP_TOKEN)

    rotating = load_cipher(settings(tmp_path, secret_keys=f"{new}, {old}"))
    assert rotating.decrypt(stored) == SHOP_TOKEN
    assert Fernet(new).decrypt(rotating.encrypt(SHOP_TOKEN)) == SHOP_TOKEN, "new ciphertexts use the first key"

    rotated = rotating.rotate(stored)
    only_new = load_cipher(settings(tmp_path, secret_keys=new))
    assert only_new.decrypt(rotated) == SHOP_TOKEN
    with pytest.raises(InvalidToken):
        only_new.decrypt(stored)
    with pytest.raises(InvalidToken):
        load_cipher(settings(tmp_path, secret_keys=old)).decrypt(rotated)


@pytest.mark.parametrize(("keys", "position"), [("{good},not-a-fernet-key", 2), ("short,{good}", 1)])
def test_a_malformed_key_is_refused_naming_its_position(tmp_path: Path, keys: str, position: int) -> None:
    with pytest.raises(SecretKeysInvalid, match=f"entry {position} ") as raised:
        load_cipher(settings(tmp_path, secret_keys=keys.format(good=key())))
    assert "not-a-fernet-key" not in str(raised.value), "the message must not echo key material"


def test_secret_keys_with_no_key_in_it_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretKeysInvalid, match="SECRET_KEYS"):
        load_cipher(settings(tmp_path, secret_keys=" , "))


def test_production_without_secret_keys_refuses_and_writes_no_key_file(tmp_path: Path) -> None:
    with pytest.raises(SecretKeysInvalid, match="SECRET_KEYS must be set in production"):
        load_cipher(settings(tmp_path, environment=Environment.PRODUCTION))
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(SecretKeysInvalid, match="SECRET_KEYS"):
        load_cipher(settings(tmp_path, secret_keys=",", environment=Environment.PRODUCTION))


def test_production_with_secret_keys_works(tmp_path: Path) -> None:
    mine = key()
    cipher = load_cipher(settings(tmp_path, secret_keys=mine, environment=Environment.PRODUCTION))
    assert Fernet(mine).decrypt(cipher.encrypt(SHOP_TOKEN)) == SHOP_TOKEN


def test_sealed_credentials_survive_a_key_rotation(tmp_path: Path) -> None:
    old, new = key(), key()
    credentials = {"shop_url": "https://acme.example", "access_token": "shpat_secret"}
    sealed = CredentialVault(load_cipher(settings(tmp_path, secret_keys=old))).seal(credentials)
    assert "shpat_secret" not in sealed

    rotating = CredentialVault(load_cipher(settings(tmp_path, secret_keys=f"{new},{old}")))
    assert rotating.open(sealed) == credentials
    rotated = rotating.rotate(sealed)

    assert CredentialVault(load_cipher(settings(tmp_path, secret_keys=new))).open(rotated) == credentials
    with pytest.raises(CredentialsUnreadable) as raised:
        CredentialVault(load_cipher(settings(tmp_path, secret_keys=new))).open(sealed)
    assert "shpat_secret" not in str(raised.value)


def test_a_retired_webhook_secret_is_sealed_with_the_credentials_and_never_handed_to_an_adapter(
    tmp_path: Path,
) -> None:
    credentials = {
        "shopDomain": "acme.myshopify.com",
        "accessToken": "shpat_secret",
        "webhookSecret": "new-webhook-secret-0123",
    }
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    retired = RetiredSecret("the-old-webhook-secret", now, now + timedelta(hours=24))
    vault = CredentialVault(load_cipher(settings(tmp_path, secret_keys=key())))
    sealed = vault.seal(credentials, retired_webhook_secret=retired)
    assert "the-old-webhook-secret" not in sealed
    assert vault.open(sealed) == credentials, "adapters get the credentials as the user gave them"
    assert vault.unseal(sealed) == Unsealed(credentials, retired)
    assert vault.unseal(vault.seal(credentials)) == Unsealed(credentials, None)


def test_what_a_vault_unseals_prints_no_secret() -> None:
    """A log line or error message that names what was unsealed (or the retired secret) must not carry a secret."""
    vault = CredentialVault(MultiFernet([Fernet(Fernet.generate_key())]))
    now = datetime.now(UTC)
    retired = RetiredSecret("old-webhook-secret", now, now + timedelta(hours=24))
    unsealed = vault.unseal(vault.seal({"webhookSecret": "new-webhook-secret"}, retired_webhook_secret=retired))
    assert unsealed.retired_webhook_secret == retired
    for shown in (repr(unsealed), str(unsealed), repr(retired), f"{unsealed.retired_webhook_secret}"):
        assert "webhook-secret" not in shown, shown
