"""`pimsync keys rotate`: every credential re-encrypted under the newest key, so old keys can be retired.

Runs on its own SQLite file so the keys it rotates never touch other tests'
connectors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from typer.testing import CliRunner

from app.cli.commands import app as pimsync
from app.db.engine import Database
from app.db.models import Connector, Tenant
from app.repositories.connectors import ConnectorRepository
from app.secrets import CredentialVault
from app.services.keys import rotate_credentials

CREDENTIALS = {"baseUrl": "https://shop.example.com/bridge", "signingSecret": "a-secret-of-some-length"}


def vault(*keys: bytes) -> CredentialVault:
    return CredentialVault(MultiFernet([Fernet(key) for key in keys]))


async def _seed(url: str, sealed: list[str]) -> None:
    db = Database(url)
    async with db.transaction() as session:
        tenant = Tenant(code="acme", name="acme", product_revision=0)
        session.add(tenant)
        await session.flush()
        for index, token in enumerate(sealed):
            session.add(
                Connector(
                    tenant_id=tenant.id,
                    code=f"c{index}",
                    name=f"c{index}",
                    channel_type="CUSTOM_HTTP",
                    status="CONNECTED",
                    credentials_encrypted=token,
                )
            )
    await db.dispose()


async def _stored(url: str) -> list[str]:
    db = Database(url)
    async with db.reader() as session:
        rows = await ConnectorRepository(session).all_ids(after_id=0, limit=100)
    await db.dispose()
    return [sealed for _, sealed in rows]


@pytest.fixture
def database_file(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> str:
    return migrated_sqlite(tmp_path / "keys.sqlite3")


def rotate(url: str, keys: list[bytes], tmp_path: Path) -> tuple[int, str]:
    env = {
        "DATABASE_URL": url,
        "SECRET_KEYS": ",".join(key.decode() for key in keys),
        "PIMSYNC_VAR_DIR": str(tmp_path / "var"),
    }
    result = CliRunner().invoke(pimsync, ["keys", "rotate"], env=env)
    return result.exit_code, result.output


async def test_rotation_lets_the_old_key_go(database_file: str, tmp_path: Path) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    await _seed(database_file, [vault(old).seal(CREDENTIALS) for _ in range(3)])
    code, output = await asyncio.to_thread(rotate, database_file, [new, old], tmp_path)
    assert code == 0, output
    assert "3 connector(s)" in output
    for sealed in await _stored(database_file):
        assert vault(new).open(sealed) == CREDENTIALS
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(sealed.encode())


async def test_credentials_no_key_opens_are_reported_and_left_alone(database_file: str, tmp_path: Path) -> None:
    known, lost, new = Fernet.generate_key(), Fernet.generate_key(), Fernet.generate_key()
    orphan = vault(lost).seal(CREDENTIALS)
    await _seed(database_file, [vault(known).seal(CREDENTIALS), orphan])
    code, output = await asyncio.to_thread(rotate, database_file, [new, known], tmp_path)
    assert code == 1
    assert "no configured key decrypts" in output
    first, second = await _stored(database_file)
    assert vault(new).open(first) == CREDENTIALS
    assert second == orphan
    assert "a-secret-of-some-length" not in output


async def test_credentials_updated_while_rotating_are_kept_and_rotated(
    database_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotation reads without a lock: an updateConnector may commit between its read and its write. Here the
    read returns the ciphertext from before the update, as it would have, while the row holds the update's."""
    old, new = Fernet.generate_key(), Fernet.generate_key()
    updated = {**CREDENTIALS, "signingSecret": "the-secret-the-update-wrote"}
    await _seed(database_file, [vault(old).seal(updated)])
    read_before_the_update = vault(old).seal(CREDENTIALS)
    all_ids = ConnectorRepository.all_ids

    async def stale_read(self: ConnectorRepository, *, after_id: int, limit: int) -> list[tuple[int, str]]:
        return [(pk, read_before_the_update) for pk, _ in await all_ids(self, after_id=after_id, limit=limit)]

    db = Database(database_file)
    with monkeypatch.context() as patched:
        patched.setattr(ConnectorRepository, "all_ids", stale_read)
        report = await rotate_credentials(db, vault(new, old))
    await db.dispose()
    [sealed] = await _stored(database_file)
    assert vault(new).open(sealed) == updated, "the rotation wrote back the credentials from before the update"
    assert (report.rotated, report.unreadable, report.changing) == (1, [], [])
