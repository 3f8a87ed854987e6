"""The pinned Admin API SDL, built once, and the emulator's table of the fields it really implements.

Building the 100k-line SDL takes over a second, so it is built once per
process (lazily, under a lock, because a served emulator answers in another
thread) and shared by every emulator instance. The schema object itself is
never given resolvers: execution dispatches every field through one
`field_resolver` that looks the field up in `RESOLVERS`, so the same table
answers "is this implemented?" both before execution (a document selecting
an unimplemented field or passing an unhonoured argument is refused as a
whole, never silently answered with null) and during it.

Validation errors are reworded the way Shopify's graphql-ruby server words
the common ones (`Field 'x' doesn't exist on type 'Product'`, extension code
`undefinedField`), so an adapter test sees the same text as production.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    visit,
)

from tests.shared_data import shared_path

API_VERSION = "2026-04"
SDL_PATH = Path(os.environ.get("SHOPIFY_ADMIN_SDL") or shared_path("specs", "shopify", "admin-2026-04.graphql"))
"""The official 2026-04 Admin SDL in the shared specs (see specs/README.md there); override with $SHOPIFY_ADMIN_SDL."""

NOT_IMPLEMENTED = "EMULATOR_NOT_IMPLEMENTED"

Resolver = Callable[[Any, GraphQLResolveInfo[Any], dict[str, Any]], Any]


@dataclass(frozen=True)
class Field:
    """How the emulator answers one schema field, and which of its arguments it honours.

    An argument the document passes that is not in `args` is refused before
    execution: ignoring, say, `sortKey: TITLE` would answer in the wrong order
    without anyone noticing.
    """

    resolve: Resolver
    args: frozenset[str] = field(default_factory=frozenset)


RESOLVERS: dict[str, dict[str, Field]] = {}
"""type name -> field name -> Field; filled by resolvers.py."""

_lock = threading.Lock()
_schema: GraphQLSchema | None = None


def admin_schema() -> GraphQLSchema:
    """The built 2026-04 Admin schema (cached for the process): the emulator's, and the one the adapter's documents
    and the channel type's fields are checked against."""
    global _schema
    with _lock:
        if _schema is None:
            built = build_schema(SDL_PATH.read_text(encoding="utf-8"))
            # The published SDL deprecates some interface fields in a way graphql-core's schema check
            # rejects; documents still validate normally (specs/README.md).
            built._validation_errors = []
            _install_scalars(built)
            _schema = built
        return _schema


def _install_scalars(schema: GraphQLSchema) -> None:
    """Money and Decimal arrive as decimal strings; anything else is a coercion error, as on Shopify."""

    def decimal_string(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise GraphQLError(f"invalid decimal value {value!r}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise GraphQLError(f"invalid decimal value {value!r}") from None
        if not number.is_finite():
            raise GraphQLError(f"invalid decimal value {value!r}")
        return str(value)

    for name in ("Money", "Decimal"):
        scalar = schema.type_map[name]
        scalar.coerce_input_value = decimal_string  # type: ignore[attr-defined]


def not_implemented(what: str) -> GraphQLError:
    return GraphQLError(f"emulator does not implement {what}", extensions={"code": NOT_IMPLEMENTED})


def dispatch(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    """The one field resolver: RESOLVERS or a loud refusal."""
    spec = RESOLVERS.get(info.parent_type.name, {}).get(info.field_name)
    if spec is None:
        raise not_implemented(f"{info.parent_type.name}.{info.field_name}")
    return spec.resolve(source, info, args)


def resolve_type(value: Any, info: GraphQLResolveInfo[Any], abstract_type: Any) -> str | None:
    """Concrete type of a value returned for an interface or union: model classes carry `graphql_type`."""
    if isinstance(value, Mapping):
        typename = value.get("__typename")
        return typename if isinstance(typename, str) else None
    typename = getattr(value, "graphql_type", None)
    return typename if isinstance(typename, str) else None


def _implemented_types(schema: GraphQLSchema, abstract: GraphQLInterfaceType | GraphQLUnionType) -> list[str]:
    return [t.name for t in schema.get_possible_types(abstract) if t.name in RESOLVERS]


def unimplemented_selections(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> list[GraphQLError]:
    """Errors for every selected field or passed argument the emulator does not implement.

    For a field selected on an interface, every implemented possible type must
    have it. Fields of object types the emulator never returns (`... on Video`
    under `featuredMedia`) are left alone: no value can select them. The whole document is checked (fragments included), not only the
    chosen operation, because Shopify would execute whichever one is named.
    """
    errors: list[GraphQLError] = []
    type_info = TypeInfo(schema)

    class Check(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = type_info.get_parent_type()
            name = node.name.value
            if parent is None or name.startswith("__") or parent.name.startswith("__"):
                return
            owners = [parent.name]
            if isinstance(parent, GraphQLInterfaceType | GraphQLUnionType):
                owners = _implemented_types(schema, parent) or [parent.name]
            elif parent.name not in RESOLVERS:
                # An object type the emulator never returns: reachable only through a field that is
                # itself checked (and refused), or a fragment on a type no emulated value can have.
                return
            for owner in owners:
                spec = RESOLVERS.get(owner, {}).get(name)
                if spec is None:
                    errors.append(_located(not_implemented(f"{owner}.{name}"), node))
                    return
                extra = sorted({arg.name.value for arg in node.arguments or ()} - spec.args)
                if extra:
                    message = f"{owner}.{name}({', '.join(extra)}:)"
                    errors.append(_located(not_implemented(f"the argument {message}"), node))
                    return

    visit(document, TypeInfoVisitor(type_info, Check()))
    return errors


def _located(error: GraphQLError, node: FieldNode) -> GraphQLError:
    return GraphQLError(error.message, node, extensions=error.extensions)


_UNDEFINED_FIELD = re.compile(r"^Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'\.")
_MISSING_ARGUMENT = re.compile(
    r"^Field '(?P<field>\w+)' argument '(?P<arg>\w+)' of type '[^']+' is required, but it was not provided\.$"
)
_UNKNOWN_ARGUMENT = re.compile(r"^Unknown argument '(?P<arg>\w+)' on field '\w+\.(?P<field>\w+)'\.")
_UNUSED_VARIABLE = re.compile(r"^Variable '\$(?P<var>\w+)' is never used(?: in operation '(?P<op>\w+)')?\.$")


def shopify_error(error: GraphQLError) -> dict[str, Any]:
    """A validation or request error as Shopify (graphql-ruby) words it; graphql-core's text otherwise."""
    formatted: dict[str, Any] = dict(error.formatted)
    message = error.message
    if match := _UNDEFINED_FIELD.match(message):
        formatted["message"] = f"Field '{match['field']}' doesn't exist on type '{match['type']}'"
        formatted["extensions"] = {"code": "undefinedField", "typeName": match["type"], "fieldName": match["field"]}
    elif match := _MISSING_ARGUMENT.match(message):
        formatted["message"] = f"Field '{match['field']}' is missing required arguments: {match['arg']}"
        formatted["extensions"] = {
            "code": "missingRequiredArguments",
            "className": "Field",
            "name": match["field"],
            "arguments": match["arg"],
        }
    elif match := _UNKNOWN_ARGUMENT.match(message):
        formatted["message"] = f"Field '{match['field']}' doesn't accept argument '{match['arg']}'"
        formatted["extensions"] = {
            "code": "argumentNotAccepted",
            "name": match["field"],
            "typeName": "Field",
            "argumentName": match["arg"],
        }
    elif match := _UNUSED_VARIABLE.match(message):
        formatted["message"] = (
            f"Variable ${match['var']} is declared by {match['op'] or 'anonymous query'} but not used"
        )
        formatted["extensions"] = {"code": "variableNotUsed", "variableName": match["var"]}
    return formatted
