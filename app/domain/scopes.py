"""Authorization scopes of API tokens, as the public contract lists them."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    CATALOG_VIEW = "catalog.view"
    CATALOG_EDIT = "catalog.edit"
    CONNECTORS_VIEW = "channel_connector.connectors.view"
    CONNECTORS_CREATE = "channel_connector.connectors.create"
    CONNECTORS_EDIT = "channel_connector.connectors.edit"
    CONNECTORS_DELETE = "channel_connector.connectors.delete"
    MAPPINGS_VIEW = "channel_connector.mappings.view"
    MAPPINGS_EDIT = "channel_connector.mappings.edit"
    SYNC_VIEW = "channel_connector.sync.view"
    SYNC_CREATE = "channel_connector.sync.create"
    CONFLICTS_VIEW = "channel_connector.conflicts.view"
    CONFLICTS_EDIT = "channel_connector.conflicts.edit"


ALL_SCOPES: tuple[Scope, ...] = tuple(Scope)

VALUES_HIDDEN = "hidden: it may quote the product's values, which need the scope catalog.view"
"""What a caller without catalog.view reads in place of a message that may quote a product's values (a job's
errors and failure, a conflict's applyError): messages quote the values they refuse ("got 'Wooden chair'"), which
that caller may not read elsewhere either."""


def parse_scopes(text: str) -> list[Scope]:
    """`all`, or a comma-separated list of scope names; ValueError names the unknown ones, or says none was given
    (an empty list, as an unset variable in a script gives) with the ones to choose from."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("no scope given; give 'all' or some of: " + ", ".join(ALL_SCOPES))
    if names == ["all"]:
        return list(ALL_SCOPES)
    unknown = [name for name in names if name not in Scope._value2member_map_]
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: all, " + ", ".join(ALL_SCOPES))
    return [Scope(name) for name in dict.fromkeys(names)]
