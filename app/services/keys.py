"""Re-encrypting every stored credential under the newest secret key.

SECRET_KEYS lists keys newest first; every key still decrypts, only the
first encrypts. Rotating rewrites each sealed credential under the first
key, after which older keys can be dropped from SECRET_KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from app.db.engine import Database
from app.repositories.connectors import ConnectorRepository
from app.secrets import CredentialsUnreadable, CredentialVault

log = structlog.get_logger(__name__)

BATCH_SIZE = 200


@dataclass
class RotationReport:
    rotated: int = 0
    unreadable: list[int] = field(default_factory=list)
    """Connector ids whose credentials no configured key decrypts; left as they were."""


async def rotate_credentials(db: Database, vault: CredentialVault) -> RotationReport:
    """Every tenant's connectors, in batches, each batch in its own short transaction."""
    report = RotationReport()
    after = 0
    while True:
        async with db.transaction() as session:
            repository = ConnectorRepository(session)
            batch = await repository.all_ids(after_id=after, limit=BATCH_SIZE)
            for connector_id, sealed in batch:
                if not sealed:
                    continue
                try:
                    await repository.set_credentials(connector_id, vault.rotate(sealed))
                except CredentialsUnreadable:
                    report.unreadable.append(connector_id)
                    continue
                report.rotated += 1
        if len(batch) < BATCH_SIZE:
            break
        after = batch[-1][0]
    log.info("credentials.rotated", rotated=report.rotated, unreadable=len(report.unreadable))
    return report
