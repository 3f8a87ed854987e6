"""The node budget: a document is refused before it runs when its pages could add up to too many nodes; and the
count of a request's input values (holds_more_values), checked as its body is parsed.

Depth, alias and token limits keep a document small, not what it asks for:
`connectors(first: 250) { ... syncJobs(first: 250) { ... errors(first: 100) } }`
is short and shallow, yet could build millions of nodes. The count here is
the worst case: each field that pages (takes `first`) multiplies what it
holds by its page size (the literal, the variable's value or default, else
the default page size), and every edge of every page counts as one node.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValueNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import AddValidationRules

from graphql_schema.document_cache import RequestRule
from graphql_schema.relay import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

PAGE_ARGUMENT = "first"
BACKWARD_PAGE_ARGUMENT = "last"
"""The page size of a connection read backwards (syncJobs): counted as `first` is, the larger when both are sent
(the resolver refuses that)."""


def holds_more_values(data: Any, limit: int) -> bool:
    """Whether JSON `data` holds more than `limit` values (each object, array and scalar counts one), counted
    without recursion and no further than the limit: a request's input costs strawberry about the same per value
    (each input object becomes its class) whatever its bytes, and before any resolver can refuse it."""
    pending = [data]
    count = 0
    while pending:
        item = pending.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def too_many_values(limit: int) -> str:
    """The refusal of a request holding more than `limit` JSON values."""
    return f"the request holds more than {limit:,} JSON values (GRAPHQL_MAX_INPUT_VALUES): send smaller batches"


class NodeBudget(AddValidationRules):
    """Adds, per operation, the rule that refuses a document whose worst case passes `max_nodes`.

    The rule is built for each operation because a page size may come from the operation's variables, which
    graphql-core's validation does not see: a RequestRule, so a document kept checked (DocumentCache) still meets it.
    """

    def __init__(self, max_nodes: int) -> None:
        super().__init__([])
        self.max_nodes = max_nodes

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        self.validation_rules = [node_budget_rule(self.max_nodes, context.variables or {}, context.operation_name)]
        yield from super().on_operation()


def node_budget_rule(
    max_nodes: int, variables: Mapping[str, Any], operation_name: str | None
) -> type[ASTValidationRule]:
    """A validation rule reporting an error when the operation that runs could return more than `max_nodes`."""

    class NodeBudgetRule(RequestRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            operations = _operations(context, operation_name)
            if not operations:
                return
            count = max(NodeCount(context, operation, variables).total() for operation in operations)
            if count > max_nodes:
                context.report_error(
                    GraphQLError(
                        f"this query could return up to {count} nodes, above the budget of {max_nodes} per request: "
                        "ask for smaller pages (first) or fewer nested connections, and page with `after`"
                    )
                )

    return NodeBudgetRule


class SubscriptionsOnSocket(AddValidationRules):
    """Refuses, over HTTP, an operation that is a subscription: strawberry ran it as a query, and its stream read as
    a null for a non-null field, an INTERNAL_SERVER_ERROR logged as a server fault that any token could write."""

    def __init__(self) -> None:
        super().__init__([])

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        on_socket = getattr(context.context, "on_socket", False)
        self.validation_rules = [] if on_socket else [subscription_refused_rule(context.operation_name)]
        yield from super().on_operation()


def subscription_refused_rule(operation_name: str | None) -> type[ASTValidationRule]:
    """A validation rule reporting an error when the operation that runs is a subscription."""

    class SubscriptionRefusedRule(RequestRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            operations = _operations(context, operation_name)
            if any(operation.operation is OperationType.SUBSCRIPTION for operation in operations):
                context.report_error(
                    GraphQLError(
                        "subscriptions are served over the websocket at /graphql (graphql-transport-ws), not over HTTP"
                    )
                )

    return SubscriptionRefusedRule


def _operations(context: ValidationContext, name: str | None) -> list[OperationDefinitionNode]:
    """The operation that runs: the named one, or each (only one runs; the largest decides) when none is named."""
    found = [item for item in context.document.definitions if isinstance(item, OperationDefinitionNode)]
    named = [item for item in found if name is not None and item.name is not None and item.name.value == name]
    return named or found


class NodeCount:
    """The worst-case node count of one operation. A fragment's count is kept once worked out, so a document
    spreading fragments within fragments costs linear time to count (and a cycle, refused by another rule,
    counts nothing)."""

    def __init__(
        self, context: ValidationContext, operation: OperationDefinitionNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema: GraphQLSchema = context.schema
        self.operation = operation
        self.variables = variables
        self.fragments = {
            item.name.value: item for item in context.document.definitions if isinstance(item, FragmentDefinitionNode)
        }
        self.defaults = {item.variable.name.value: item.default_value for item in operation.variable_definitions or ()}
        self.counted: dict[str, int] = {}
        self.counting: set[str] = set()
        self.pages = _page_types(self.schema)

    def total(self) -> int:
        root = self.schema.get_root_type(self.operation.operation)
        return 0 if root is None else self._selections(self.operation.selection_set, root)

    def _selections(self, selections: SelectionSetNode | None, parent: GraphQLNamedType) -> int:
        if selections is None:
            return 0
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = parent if condition is None else self.schema.get_type(condition.name.value)
                total += 0 if inner is None else self._selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value)
        return total

    def _fragment(self, name: str) -> int:
        if name in self.counted:
            return self.counted[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.counting:
            return 0
        self.counting.add(name)
        condition = self.schema.get_type(fragment.type_condition.name.value)
        count = 0 if condition is None else self._selections(fragment.selection_set, condition)
        self.counting.discard(name)
        self.counted[name] = count
        return count

    def _field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None:  # __typename, introspection (no pages) or a field another rule refuses
            return 0
        inner = self._selections(node.selection_set, get_named_type(definition.type))
        if PAGE_ARGUMENT in definition.args:
            return self._page_size(node) * inner
        if node.name.value == "edges" and parent.name in self.pages:
            return 1 + inner
        return inner

    def _page_size(self, node: FieldNode) -> int:
        """The page the field asks for (`first`, or `last`); beyond MAX_PAGE_SIZE the resolver refuses it, so no
        more can come."""
        arguments = (PAGE_ARGUMENT, BACKWARD_PAGE_ARGUMENT)
        sizes = [self._value(item.value) for item in node.arguments or () if item.name.value in arguments]
        given = [size for size in sizes if size is not None]
        return DEFAULT_PAGE_SIZE if not given else max(0, min(max(given), MAX_PAGE_SIZE))

    def _value(self, node: ValueNode | None) -> int | None:
        if isinstance(node, VariableNode):
            name = node.name.value
            if name in self.variables:
                value = self.variables[name]
                return value if isinstance(value, int) and not isinstance(value, bool) else None
            return self._value(self.defaults.get(name))
        if isinstance(node, IntValueNode):
            return int(node.value)
        return None


@lru_cache(maxsize=16)
def _page_types(schema: GraphQLSchema) -> frozenset[str]:
    """The types fields that page return (the connections): each of their `edges` is one node.

    Kept per schema: finding them walks every field of every type, which each operation did again."""
    found = set()
    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field in named.fields.values():
                if PAGE_ARGUMENT in field.args:
                    found.add(get_named_type(field.type).name)
    return frozenset(found)
