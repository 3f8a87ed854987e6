"""The contract's enums, each the domain's own enum exposed under its contract name."""

from __future__ import annotations

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

ChannelType = strawberry.enum(ChannelTypeValue, name="ChannelType")
ConnectorStatus = strawberry.enum(ConnectorStatusValue, name="ConnectorStatus")
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
SyncJobStatus = strawberry.enum(SyncJobStatusValue, name="SyncJobStatus")
SyncPriority = strawberry.enum(SyncPriorityValue, name="SyncPriority")
ChangeAction = strawberry.enum(
    ChangeActionValue,
    name="ChangeAction",
    description="What a job did to a product. DELETE and FAIL are additions: removed from the channel; failed, "
    "whole (nothing sent) or in part (the fields list what went through), as the job's failedProducts counts it.",
)
ResolutionStatus = strawberry.enum(ResolutionStatusValue, name="ResolutionStatus")
Resolution = strawberry.enum(ResolutionValue, name="Resolution")
