"""Global ids: what the API, the CLI and messages call an object by ("SyncJob:42", base64url encoded).

GraphQL's `node(id:)` reads them (graphql_schema/relay.py); a message naming a job names it by this id, so that
whoever reads it can open the job.
"""

from __future__ import annotations

import base64


def node_id(kind: str, pk: int) -> str:
    """The global id of the `kind` object (a GraphQL type name) whose primary key is `pk`."""
    return base64.urlsafe_b64encode(f"{kind}:{pk}".encode()).decode()
