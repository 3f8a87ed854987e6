"""Shopify's calculated query cost and the leaky bucket it is charged against.

Rules, from shopify.dev "GraphQL Admin API rate limits" (cost calculation):
a scalar or enum field costs 0, an object 1, an interface or union the most
expensive of its possible selections, a connection 2 plus `first` (or `last`)
times the cost of one node, and a mutation field 10. The requested cost is
computed from the document before execution; the actual cost from what was
returned (connections count the nodes really returned, a null object costs
nothing), and the difference is refunded to the bucket. A single query may
not request more than 1,000 points, whatever the plan.

A mutation's input adds to its 10 points where the SDL gives an input field
a "Complexity cost: <points> per <item>" (2026-04: ProductSetInput.files 1.9
per file, .variants 0.2 per variant, .metafields 0.4 per metafield, and a
variant's file 0.6 and metafields 0.4; shopify.dev changelog "Dynamic
complexity cost for productSet mutation", 2025-10): each list item sent (or
the one object) adds those points, and the total is rounded to the nearest
point, as the changelog's examples are (one variant: "10 points"; 200
variants, 10 files, 20 metafields: 77).

Plain lists of objects (`shopLocales`, `translatableContent`, `userErrors`...)
cost 1 plus their children once, not per element: Shopify gives most of them
a fixed cost, and no document the adapter sends depends on more precision.
`nodes(ids:)` costs per id.

The bucket defaults to the Standard plan as shopify.dev states it today:
100 points/second restore; its size is 2,000 points, the maximumAvailable a
Standard-plan shop reports in extensions.cost.throttleStatus (an answer
quoted on community.shopify.dev, 2025: maximumAvailable 2000, restoreRate
100). The classic figures (1,000 points, 50/s) still circulate; both numbers
are constructor arguments.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
)
from graphql.execution.values import get_argument_values

MUTATION_COST = 10
CONNECTION_COST = 2
SINGLE_QUERY_LIMIT = 1000
STANDARD_MAXIMUM = 2000.0
STANDARD_RESTORE_RATE = 100.0
DOCUMENTATION = "https://shopify.dev/api/usage/rate-limits"
_INPUT_COST = re.compile(r"Complexity cost: ([0-9]+(?:\.[0-9]+)?) per ")

_MISSING: Any = object()


def requested_cost(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Any
) -> int:
    """Cost of `operation` before execution (variables as coerced by graphql-core)."""
    return _Walker(schema, document, variables).operation(operation, _MISSING)


def actual_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Any,
    data: Mapping[str, Any] | None,
) -> int:
    """Cost of what execution returned."""
    return _Walker(schema, document, variables).operation(operation, data or {})


class _Walker:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Any) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def operation(self, operation: OperationDefinitionNode, data: Any) -> int:
        if operation.operation == OperationType.MUTATION:
            root = self.schema.mutation_type
            assert root is not None
            total = sum(MUTATION_COST + self._input_cost(node, root) for node in self._fields(operation.selection_set))
            return math.floor(total + 0.5)
        root = self.schema.query_type
        assert root is not None
        return math.ceil(self.selection(operation.selection_set, root, data))

    def _input_cost(self, node: FieldNode, root: GraphQLObjectType) -> float:
        """What a mutation field's arguments add to its 10 points (the SDL's "Complexity cost" of input fields)."""
        definition = root.fields.get(node.name.value)
        if definition is None:
            return 0.0
        values = get_argument_values(definition, node, self.variables)
        return sum(_input_cost(argument.type, values.get(name)) for name, argument in definition.args.items())

    def _fields(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        """The field nodes of a selection set with fragments flattened (for roots and connections)."""
        found: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found.extend(self._fields(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                found.extend(self._fields(self.fragments[selection.name.value].selection_set))
        return found

    def selection(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, data: Any) -> float:
        """Fields on the parent type are summed; fragments on other types count as their most expensive one."""
        base = 0.0
        conditional: dict[str, float] = {}
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                base += self.field(selection, parent, data)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else None
                inner = selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                condition, inner = fragment.type_condition.name.value, fragment.selection_set
            else:
                continue
            target = self.schema.get_type(condition) if condition else parent
            cost = self.selection(inner, target or parent, data)
            if condition is None or condition == parent.name:
                base += cost
            else:
                conditional[condition] = conditional.get(condition, 0.0) + cost
        return base + max(conditional.values(), default=0.0)

    def field(self, node: FieldNode, parent: GraphQLNamedType, data: Any) -> float:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0.0
        definition = parent.fields.get(name)
        if definition is None:
            return 0.0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0.0
        value = _MISSING
        if data is not _MISSING:
            key = node.alias.value if node.alias else name
            value = data.get(key) if isinstance(data, Mapping) else None
            if value is None:
                return 0.0
        args = get_argument_values(definition, node, self.variables)
        if named.name.endswith("Connection") and ("first" in definition.args or "last" in definition.args):
            return self.connection(node, named, args, value)
        if is_list_type(get_nullable_type(definition.type)):
            return self.list_field(node, named, args, value, per_item=(name == "nodes" and "ids" in args))
        return 1.0 + self.selection(node.selection_set, named, value)

    def list_field(
        self, node: FieldNode, named: GraphQLNamedType, args: dict[str, Any], value: Any, *, per_item: bool
    ) -> float:
        if value is _MISSING:
            each = 1.0 + self.selection(node.selection_set, named, _MISSING)
            return each * (len(args["ids"]) if per_item else 1)
        items = [item for item in value if item is not None]
        if per_item:
            return sum(1.0 + self.selection(node.selection_set, named, item) for item in items)
        return 1.0 + max((self.selection(node.selection_set, named, item) for item in items), default=0.0)

    def connection(self, node: FieldNode, connection: GraphQLNamedType, args: dict[str, Any], value: Any) -> float:
        """2 + size x one node, where a node reached through edges.node and through nodes counts once."""
        assert isinstance(connection, GraphQLObjectType)
        size = args.get("first") or args.get("last") or 0
        totals: list[float] = [0.0]
        for child in self._fields(node.selection_set):
            child_name = child.name.value
            if child_name not in ("edges", "nodes"):
                continue
            item_type = get_named_type(connection.fields[child_name].type)
            items = self._items(child, value)
            edge = child_name == "edges"
            if items is None:
                totals.append(size * self._one(child, item_type, _MISSING, edge=edge))
            else:
                totals.append(sum(self._one(child, item_type, item, edge=edge) for item in items))
        return CONNECTION_COST + max(totals)

    def _one(self, child: FieldNode, item_type: GraphQLNamedType, item: Any, *, edge: bool) -> float:
        if edge:
            return self._edge(child, item_type, item)
        return 1.0 + self.selection(child.selection_set, item_type, item)

    def _items(self, child: FieldNode, value: Any) -> list[Any] | None:
        if value is _MISSING:
            return None
        key = child.alias.value if child.alias else child.name.value
        items = value.get(key) if isinstance(value, Mapping) else None
        return [item for item in items or [] if item is not None]

    def _edge(self, edges: FieldNode, edge_type: GraphQLNamedType, edge: Any) -> float:
        assert isinstance(edge_type, GraphQLObjectType)
        cost = 0.0
        for child in self._fields(edges.selection_set):
            if child.name.value != "node":
                continue
            node_type = get_named_type(edge_type.fields["node"].type)
            node_value = _MISSING
            if edge is not _MISSING:
                node_value = (
                    edge.get(child.alias.value if child.alias else "node") if isinstance(edge, Mapping) else None
                )
                if node_value is None:
                    continue
            cost += 1.0 + self.selection(child.selection_set, node_type, node_value)
        return cost


def _input_cost(input_type: GraphQLInputType, value: Any) -> float:
    """The complexity points of one input value: every annotated field's items, at any depth."""
    named = get_named_type(input_type)
    if value is None or not isinstance(named, GraphQLInputObjectType):
        return 0.0
    if isinstance(value, list):
        return sum(_input_cost(named, item) for item in value)
    cost = 0.0
    for name, field in named.fields.items():
        given = value.get(name) if isinstance(value, Mapping) else None
        if given is None:
            continue
        per_item = _INPUT_COST.search(field.description or "")
        if per_item is not None:
            cost += float(per_item.group(1)) * (len(given) if isinstance(given, list) else 1)
        cost += _input_cost(field.type, given)
    return cost


@dataclass
class LeakyBucket:
    """One app's bucket on one shop: `currently_available` refills at `restore_rate` per second up to the maximum."""

    maximum_available: float = STANDARD_MAXIMUM
    restore_rate: float = STANDARD_RESTORE_RATE
    currently_available: float = STANDARD_MAXIMUM
    updated_at: float = 0.0

    def refill(self, now: float) -> None:
        elapsed = max(0.0, round(now - self.updated_at, 6))  # epoch-sized floats carry ~1e-7 s of noise
        self.currently_available = min(self.maximum_available, self.currently_available + elapsed * self.restore_rate)
        self.updated_at = now

    def take(self, cost: float, now: float) -> bool:
        """Charge `cost` if the bucket holds it; False (and nothing charged) otherwise."""
        self.refill(now)
        if cost > self.currently_available:
            return False
        self.currently_available -= cost
        return True

    def refund(self, points: float) -> None:
        self.currently_available = min(self.maximum_available, self.currently_available + max(0.0, points))

    def throttle_status(self) -> dict[str, Any]:
        return {
            "maximumAvailable": float(self.maximum_available),
            "currentlyAvailable": math.floor(self.currently_available + 1e-6),  # whole points; no float noise
            "restoreRate": float(self.restore_rate),
        }


def cost_extension(requested: int, actual: int | None, bucket: LeakyBucket) -> dict[str, Any]:
    """The `extensions` object every GraphQL answer carries."""
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.throttle_status(),
        }
    }


def throttled_error() -> dict[str, Any]:
    """The error Shopify answers (HTTP 200) when the bucket cannot hold the requested cost."""
    return {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": DOCUMENTATION}}


def max_cost_error(cost: int) -> dict[str, Any]:
    """The error for a query over the single-query limit (checked before the bucket)."""
    message = (
        f"Query cost is {cost}, which exceeds the single query max cost limit ({SINGLE_QUERY_LIMIT}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
        "cost of a query is calculated.\n\n"
        "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
        "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
    )
    return {
        "message": message,
        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": SINGLE_QUERY_LIMIT},
    }
