"""Re-encrypting every stored credential under the newest secret key.

SECRET_KEYS lists keys newest first; every key still decrypts, only the
first encrypts. Rotating rewrites each sealed credential under the first
key, after which older keys can be dropped from SECRET_KEYS.

Rotation reads without locking, so a credentials update may commit between
its read and its write. The write is therefore made only over the ciphertext
that was read; when the row changed meanwhile, the new ciphertext is read and
rotated in turn. It is not simply skipped: the process that wrote it may
still run with the old SECRET_KEYS (keys reach processes one deploy at a
time), so it is not known to be under the newest key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from app.db.engine import Database
from app.repositories.connectors import ConnectorRepository
from app.secrets import CredentialsUnreadable, CredentialVault

log = structlog.get_logger(__name__)

BATCH_SIZE = 200
MAX_TRIES = 3
"""Times one connector's credentials may be found changed since they were read before it is reported (`changing`)."""


@dataclass
class RotationReport:
    rotated: int = 0
    unreadable: list[int] = field(default_factory=list)
    """Connector ids whose credentials no configured key decrypts; left as they were."""
    changing: list[int] = field(default_factory=list)
    """Connector ids whose credentials changed at every try; left to the next run."""


async def rotate_credentials(db: Database, vault: CredentialVault) -> RotationReport:
    """Every tenant's connectors, in batches, each batch in its own short transaction."""
    report = RotationReport()
    after = 0
    while True:
        async with db.transaction() as session:
            repository = ConnectorRepository(session)
            batch = await repository.all_ids(after_id=after, limit=BATCH_SIZE)
            for connector_id, sealed in batch:
                try:
                    await _rotate_one(repository, vault, connector_id, sealed, report)
                except CredentialsUnreadable:
                    report.unreadable.append(connector_id)
        if len(batch) < BATCH_SIZE:
            break
        after = batch[-1][0]
    log.info(
        "credentials.rotated", rotated=report.rotated, unreadable=len(report.unreadable), changing=len(report.changing)
    )
    return report


async def _rotate_one(
    repository: ConnectorRepository,
    vault: CredentialVault,
    connector_id: int,
    sealed: str | None,
    report: RotationReport,
) -> None:
    """Rewrite one connector's credentials under the newest key, never over a newer ciphertext than was read."""
    for _ in range(MAX_TRIES):
        if not sealed:  # none stored, or the connector was deleted meanwhile
            return
        if await repository.replace_credentials(connector_id, old=sealed, new=vault.rotate(sealed)):
            report.rotated += 1
            return
        sealed = await repository.sealed_credentials(connector_id)
    report.changing.append(connector_id)
