"""The contract's enums, each the domain's own enum exposed under its contract name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import strawberry

from app.domain.channels import ChannelType as ChannelTypeValue
from app.domain.conflicts import Resolution as ResolutionValue
from app.domain.conflicts import ResolutionStatus as ResolutionStatusValue
from app.domain.connectors import ConflictStrategy as ConflictStrategyValue
from app.domain.connectors import ConnectorStatus as ConnectorStatusValue
from app.domain.connectors import FallbackPolicy as FallbackPolicyValue
from app.domain.connectors import SyncType as SyncTypeValue
from app.domain.mappings import EmptyValuePolicy as EmptyValuePolicyValue
from app.domain.mappings import MappingDirection as MappingDirectionValue
from app.domain.sync import ChangeAction as ChangeActionValue
from app.domain.sync import SyncJobStatus as SyncJobStatusValue
from app.domain.sync import SyncPriority as SyncPriorityValue

Enum = TypeVar("Enum")


def _described(enum: Enum, values: Mapping[str, str]) -> Enum:
    """`enum` (a strawberry enum of a domain enum) with a description for each of its values, as introspection shows
    them: a frontend's badges and help text come from there. Every value needs one (KeyError otherwise)."""
    for value in enum.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]
    return enum


ChannelType = strawberry.enum(ChannelTypeValue, name="ChannelType")
ConnectorStatus = _described(
    strawberry.enum(ConnectorStatusValue, name="ConnectorStatus"),
    {
        "CONNECTED": "Its last connection test succeeded: it syncs, on its schedule too.",
        "DISCONNECTED": "Not connected: its channel type is one this version cannot connect to (channelTypes' "
        "`available`), or resumeConnector is testing it again. statusReason says which.",
        "ERROR": "The channel refused it or could not be reached (at a connection test, a sync, a conflict "
        "resolution or a webhook), or three of its jobs in a row FAILED: statusReason says why. Scheduled syncs "
        "skip it until resumeConnector.",
        "PAUSED": "pauseConnector stopped it (statusReason: the reason given): its active sync was cancelled, no "
        "sync starts and webhook deliveries wait, until resumeConnector.",
    },
)
ConflictStrategy = strawberry.enum(ConflictStrategyValue, name="ConflictStrategy")
SyncType = strawberry.enum(SyncTypeValue, name="SyncType")
FallbackPolicy = strawberry.enum(
    FallbackPolicyValue,
    name="FallbackPolicy",
    description="What to send for a locale whose value is only reached by falling back to another locale.",
)
MappingDirection = strawberry.enum(MappingDirectionValue, name="MappingDirection")
EmptyValuePolicy = strawberry.enum(
    EmptyValuePolicyValue,
    name="EmptyValuePolicy",
    description=(
        "What an export does when the PIM value is empty: clear it on the channel, "
        "leave the channel's value alone, or send the transformation's default."
    ),
)
SyncJobStatus = _described(
    strawberry.enum(SyncJobStatusValue, name="SyncJobStatus"),
    {
        "PENDING": "Queued, waiting for a worker: queuePosition is its place (1 starts next).",
        "RUNNING": "Workers are going through its products: progress and the counts move.",
        "COMPLETED": "Went through its products, even if some failed (failedProducts, errors say which), or had "
        "nothing to do. A dry run that is not cancelled ends COMPLETED.",
        "FAILED": "Failed as a whole (credentials refused, a part no worker could finish) or on every product it "
        "went through: `failure` says why. retrySyncJob runs its failed products again.",
        "RETRYING": "Running, with a part that a stopped or dead worker held being handed to another: RUNNING again "
        "once that worker takes it.",
        "CANCELLED": "Stopped by cancelSyncJob or pauseConnector, whatever its products did.",
    },
)
SyncPriority = strawberry.enum(SyncPriorityValue, name="SyncPriority")
ChangeAction = _described(
    strawberry.enum(
        ChangeActionValue,
        name="ChangeAction",
        description="What a job did to a product. DELETE and FAIL are additions: removed from the channel; failed, "
        "whole (nothing sent) or in part (the fields list what went through), as the job's failedProducts counts "
        "it.",
    ),
    {
        "CREATE": "Created on the channel (a dry run: would be): `fields` lists what was sent.",
        "UPDATE": "Updated on the channel (a dry run: would be): `fields` lists what was sent.",
        "SKIP": "Nothing sent: unchanged since the last sync, already as the channel has it, or left off the channel "
        "(disabled or deleted before it was ever listed, or excluded by a conflict's decision).",
        "CONFLICT": "Pending conflicts hold some of its fields (marked `held`), or the channel lost the product and "
        "a person decides; what else changed was written alongside.",
        "HOLD": "Nothing sent: holdIncompleteLocales keeps its locales back until their required fields are "
        "authored, and nothing else of it changed.",
        "DELETE": "Removed from the channel: deleted or disabled in the PIM.",
        "FAIL": "Failed (the job's errors say why): whole, nothing sent, or in part, `fields` listing what its "
        "sound parts wrote.",
    },
)
ResolutionStatus = strawberry.enum(ResolutionStatusValue, name="ResolutionStatus")
Resolution = strawberry.enum(ResolutionValue, name="Resolution")
