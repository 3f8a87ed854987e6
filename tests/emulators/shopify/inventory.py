"""inventoryBulkToggleActivation: where an inventory item is stocked (has an inventory level).

productSet sets quantities only at locations where an existing variant is
stocked (fields.apply_variant_fields); this mutation stocks it at more of
them, or unstocks it. Every update is checked before any is applied, so a
refused call changes nothing. An item newly stocked holds 0 available and 0
on hand; unstocking drops its quantities there, and the last location an item
is stocked at cannot be unstocked (CANNOT_DEACTIVATE_FROM_ONLY_LOCATION).
Committed and incoming quantities are not modelled, so nothing else refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .fields import UserError, refuse_unknown, user_error
from .model import ShopState, Variant


def toggle_activation(
    state: ShopState, item_gid: str, updates: Sequence[Mapping[str, Any]]
) -> tuple[Variant | None, list[int] | None, list[UserError]]:
    """(the item's variant, ids of the locations activated, []) or (None, None, userErrors), nothing changed."""
    variant = state.inventory_item(item_gid)
    if variant is None:
        message = "The inventory item was not found."
        return None, None, [user_error(("inventoryItemId",), message, "INVENTORY_ITEM_NOT_FOUND")]
    errors: list[UserError] = []
    stocked = set(variant.levels)
    activated: list[int] = []
    for i, update in enumerate(updates):
        refuse_unknown("InventoryBulkToggleActivationInput", update, ("locationId", "activate"))
        location = state.location(update["locationId"])
        if location is None:
            where = ("inventoryItemUpdates", str(i), "locationId")
            errors.append(user_error(where, "The location was not found.", "LOCATION_NOT_FOUND"))
        elif update["activate"]:
            stocked.add(location.id)
            activated.append(location.id)
        else:
            stocked.discard(location.id)
    if not errors and variant.levels and not stocked:
        message = "Cannot unstock an inventory item from the only location at which it is stocked."
        errors.append(user_error(("inventoryItemUpdates",), message, "CANNOT_DEACTIVATE_FROM_ONLY_LOCATION"))
    if errors:
        return None, None, errors
    for location_id in list(variant.levels):
        if location_id not in stocked:
            del variant.levels[location_id]
    for location_id in stocked:
        variant.levels.setdefault(location_id, {"available": 0, "on_hand": 0})
    return variant, activated, []
