"""Documents kept parsed and checked by their text, so a document a frontend sends again is not parsed or validated again.

A frontend sends the same few documents over and over, with new variables. Parsing one and validating it against the
schema (graphql-core's rules and ours: depth, aliases) costs milliseconds and depends only on the document's text and
the schema; the node budget (graphql_schema.limits) depends on the request's variables and operation name too, so it
runs on every request (a RequestRule).

What is kept, per (schema, document rules, text, parse options): the parsed document when it passes every document-only
rule, else nothing but the fact that it does not. In one functools LRU:

- strawberry's ParserCache and ValidationCache do not fit. ValidationCache keys on the rule classes, and the node
  budget makes a new one per request, so it would never hit (and would keep a document per miss); it would also hand
  out one text's errors for another text that parses to an equal tree (a different comment moves no node, yet can move
  its line). ParserCache keeps every document whatever its size. Neither bounds what it holds in bytes.
- A document that fails a rule keeps no tree: it is checked again the usual way (all rules at once, so its errors and
  their order are what they always were), and a client sending junk fills the cache with nothing but short texts.
- A document that does not parse (a syntax error, more tokens than graphql_max_tokens) raises, and functools keeps
  nothing of a call that raised.

The bounds, in bytes. A parsed document keeps its tokens (linked from its nodes' locations, which every error's
`locations` needs): about 45 to 65 bytes per character of text for what frontends send (the introspection query, the
lists of tests/test_graphql_costs.py), 200 for the densest valid text (`{ connectors { edges { node { id id id ...`),
330 for the densest text at all (nested one-letter fields, which fails validation and so keeps no tree); measured
with tracemalloc on graphql-core 3.3. The request body may be 32 MiB and a comment costs no token, so without a cap
on its length one kept document could weigh that much. Only texts up to MAX_CACHED_DOCUMENT_CHARS are kept, and
MAX_CACHED_DOCUMENTS of them: at worst 64 x 2,048 x 200 bytes, about 26 MB, typically 64 x 40 KB, under 3 MB. A
longer text is parsed and validated as before, every time. Constants, not settings: they bound memory, and no
client-visible behaviour depends on them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, TypeInfo, ValidationContext, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

if TYPE_CHECKING:
    from functools import _CacheInfo

MAX_CACHED_DOCUMENTS = 64
"""Distinct documents kept: more than one frontend sends (a screen sends a few), fewer than would hold much memory."""

MAX_CACHED_DOCUMENT_CHARS = 2048
"""The longest text kept: three times the lists a frontend shows (tests/test_graphql_costs.py, 400 to 700
characters), and the introspection query GraphiQL sends (1,587)."""


class RequestRule(ASTValidationRule):
    """A validation rule whose verdict depends on the request (its variables, its operation name), not only on the
    document: never kept, run on every request.

    It judges the whole document when it is made and visits nothing, so a kept document is not walked again for it:
    defining an `enter`/`leave` method here is refused when the class is made."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        visiting = sorted(name for name in vars(cls) if name.startswith(("enter", "leave")))
        if visiting:
            raise TypeError(f"{cls.__name__} is a RequestRule: it may not visit the document ({', '.join(visiting)})")


def document_cache_info() -> _CacheInfo:
    """How the kept documents are used: hits, misses and how many are kept now."""
    return _checked.cache_info()


class DocumentCache(SchemaExtension):
    """Takes a document sent again from the cache, parsed and found valid; runs only its RequestRules then."""

    def __init__(self) -> None:
        self._kept: DocumentNode | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        text = context.query
        rules = self._document_rules()
        if isinstance(text, str) and len(text) <= MAX_CACHED_DOCUMENT_CHARS and rules:
            self._kept = _kept(context.schema._schema, rules, text, context.parse_options)
        if self._kept is not None:
            context.graphql_document = self._kept
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._kept is not None and context.graphql_document is self._kept:
            context.pre_execution_errors = request_errors(context.schema._schema, self._kept, self._request_rules())
        yield

    def _document_rules(self) -> tuple[type[ASTValidationRule], ...]:
        return tuple(rule for rule in self.execution_context.validation_rules if not issubclass(rule, RequestRule))

    def _request_rules(self) -> list[type[ASTValidationRule]]:
        return [rule for rule in self.execution_context.validation_rules if issubclass(rule, RequestRule)]


def _kept(
    schema: GraphQLSchema, rules: tuple[type[ASTValidationRule], ...], text: str, parse_options: Mapping[str, Any]
) -> DocumentNode | None:
    """The kept document of `text`, None when it is not kept: it fails a rule, or does not parse (strawberry then
    parses it the usual way, and tells the error as it always did)."""
    try:
        return _checked(schema, rules, text, **parse_options)
    except GraphQLError:
        return None


@lru_cache(maxsize=MAX_CACHED_DOCUMENTS)
def _checked(
    schema: GraphQLSchema, rules: tuple[type[ASTValidationRule], ...], text: str, **parse_options: Any
) -> DocumentNode | None:
    """`text` parsed, when it passes every rule (as strawberry validates: its own rules added); else None.

    Raises the parser's GraphQLError, so a text that does not parse is not kept."""
    document = parse(text, **parse_options)
    return None if validate_document(schema, document, rules) else document


def request_errors(
    schema: GraphQLSchema, document: DocumentNode, rules: Sequence[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """What the RequestRules say of a document that passes every other rule: what validating it with all of them
    would say, since those report nothing, and a RequestRule reports when it is made, before any walk."""
    errors: list[GraphQLError] = []
    context = ValidationContext(schema, document, TypeInfo(schema), errors.append)
    for rule in rules:
        rule(context)
    return errors
