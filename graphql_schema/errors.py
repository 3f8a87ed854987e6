"""UserError (the payload convention) and the error policy for top-level errors.

Every top-level error carries `extensions.code`: the ServiceError's code
(UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, NOT_FOUND), GRAPHQL_VALIDATION_FAILED
for a document that does not validate, BAD_USER_INPUT for a variable whose value
does not fit its type, or INTERNAL_SERVER_ERROR for a fault, whose message is
masked in production.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import strawberry
import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import StreamExecutionResult

from app.db.engine import outage_cause, unreachable
from app.domain.errors import InvalidInput, ServiceError, UserErrorItem
from app.domain.scopes import Scope

if TYPE_CHECKING:
    from graphql_schema.context import Info

log = structlog.get_logger(__name__)


@strawberry.type
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path of the offending input field, e.g. ["input", "credentials", "shopUrl"].'
    )
    message: str
    code: str = strawberry.field(description="CHN-xxx error code.")
    node_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Global id of the object the problem is about, when it is one: for CHN-090 the sync job "
        "already running, to open (syncJob, node) or follow (syncJobUpdated).",
    )


DATABASE_UNAVAILABLE = "the database is not answering: try again shortly"
"""What a request the database could not serve is told (503 with Retry-After over HTTP), whenever it went away."""
DATABASE_UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"

MAX_USER_ERRORS = 1000
"""Problems one payload lists; the rest are counted in one more entry. Every problem was listed, so one product
naming a value 49,000 times was answered with 49,000 userErrors, built for ten seconds on the API's event loop."""


def user_errors(items: list[UserErrorItem]) -> list[UserError]:
    """The first MAX_USER_ERRORS problems, then (when there are more) one entry counting the rest, with the code of
    the first not listed."""
    shown = [
        UserError(
            field=[str(part) for part in item.path],
            message=item.message,
            code=item.code.value,
            node_id=None if item.node_id is None else strawberry.ID(item.node_id),
        )
        for item in items[:MAX_USER_ERRORS]
    ]
    rest = items[MAX_USER_ERRORS:]
    if rest:
        message = f"{len(rest):,} more problems are not listed: fix those above and send again"
        shown.append(UserError(field=None, message=message, code=rest[0].code.value))
    return shown


def from_invalid_input(error: InvalidInput) -> list[UserError]:
    return user_errors(error.errors)


Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[Result]):
    """A mutation's result: the value, or the userErrors of input that changed nothing."""

    value: Result | None
    errors: list[UserError]


async def attempt(info: Info, scope: Scope, work: Callable[[], Awaitable[Result]]) -> Outcome[Result]:
    """Check the scope and run a use case that owns its transactions; bad input becomes userErrors."""
    info.context.require(scope)
    try:
        return Outcome(await work(), [])
    except InvalidInput as exc:
        return Outcome(None, from_invalid_input(exc))


def _frames(error: BaseException) -> list[str]:
    """Where `error` was raised, outermost frame first, as "file:line in function": not its message, repr or
    locals, which can hold what the request sent (a UnicodeEncodeError's repr holds a whole header value)."""
    return [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(error.__traceback__)]


def _is_bad_variable(error: GraphQLError) -> bool:
    """A variable's value that does not fit its type (a missing `ID!`, "x" for an Int, an unknown enum value).

    graphql-core reports it before execution (no path) around the GraphQLError of the coercion that failed:
    the caller's mistake, to be told as such, not a fault to mask and log. An error a resolver raises always
    has a path."""
    return error.path is None and isinstance(error.original_error, GraphQLError)


SUGGESTION = re.compile(r" Did you mean [^?]*\?")
"""graphql-core's hint after an unknown name (" Did you mean 'connectors', 'connector', or 'conflicts'?"): names
are letters, digits and underscores, so the hint ends at the first question mark."""


ECHOED_INPUT = re.compile(r"(?:, found| Found): .*\Z", re.DOTALL)
"""Where graphql-core's 'Expected value of type ...' messages quote the input they refuse (", found: {...}." or,
after a suggestion, " Found: {...}."), to the end of the message: names never hold it, values come after it."""


def without_echoed_input(message: str) -> str:
    """`message` without the input value graphql-core quotes when an input does not fit its type: an input object
    missing a required field, naming one it does not have or given as something else was quoted whole, and with it
    every field beside the wrong one, a connector's credentials included. The message still names the type and
    the field, and its path (or location) says where."""
    if "Expected value of type '" not in message:
        return message
    match = ECHOED_INPUT.search(message)
    if match is None:
        return message
    kept = message[: match.start()]
    return kept if kept.endswith((".", "?")) else f"{kept}."


class ErrorPolicy(SchemaExtension):
    """Gives every error a code; logs faults and, in production, masks their message.

    With introspection off, a document's errors do not suggest names either: "Did you mean ...?" answers a
    misspelt field, argument, type or enum value with the real ones, so guessing would map the schema that
    introspection keeps hidden.
    """

    def __init__(self, *, mask_faults: bool, hide_suggestions: bool) -> None:
        self.mask_faults = mask_faults
        self.hide_suggestions = hide_suggestions
        self._processed: dict[int, GraphQLError] = {}
        """The errors this operation's policy made (a streamed result is seen again when the operation ends), held
        so that their ids stay theirs: a freed error's id could go to a new fault, which would then pass unmasked."""

    def on_operation(self) -> Iterator[None]:
        yield
        self._apply(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Each result a websocket sends, before it is sent: on_operation only ends after the whole stream."""
        self._apply(result)
        yield

    def _apply(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [self._once(error) for error in errors]  # type: ignore[attr-defined]

    def _once(self, error: GraphQLError) -> GraphQLError:
        if self._processed.get(id(error)) is error:
            return error
        processed = self._process(error)
        self._processed[id(processed)] = processed
        return processed

    def _process(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, InvalidInput):
            listed = [
                {"field": item.field, "message": item.message, "code": item.code, "nodeId": item.node_id}
                for item in user_errors(original.errors)
            ]
            return self._with_code(error, original.code, error.message, userErrors=listed)
        if isinstance(original, ServiceError):
            return self._with_code(error, original.code, error.message)
        if original is None:
            return self._with_code(error, "GRAPHQL_VALIDATION_FAILED", self._told(error.message))
        if _is_bad_variable(error):
            return self._with_code(error, "BAD_USER_INPUT", self._told(error.message))
        if unreachable(original):
            # The database went away after the request's token was checked (a failover, a pooled connection cut
            # off): the same outage a request a moment earlier is answered 503 for, not a fault of the code.
            log.warning("api.database_unavailable", route="/graphql", path=error.path, error=outage_cause(original))
            return self._with_code(error, DATABASE_UNAVAILABLE_CODE, DATABASE_UNAVAILABLE)
        log.error("graphql.fault", path=error.path, error=type(original).__qualname__, at=_frames(original))
        message = "Unexpected error." if self.mask_faults else error.message
        return self._with_code(error, "INTERNAL_SERVER_ERROR", message)

    def _told(self, message: str) -> str:
        """The message of an error in the request, without the input it refuses, nor its suggestions when they are
        to be hidden."""
        message = without_echoed_input(message)
        return SUGGESTION.sub("", message) if self.hide_suggestions else message

    @staticmethod
    def _with_code(error: GraphQLError, code: str, message: str, **more: object) -> GraphQLError:
        """`error` with its code (and `more` extensions: a refused input's userErrors, where a query has no payload
        to list them in, so a frontend can mark each input it names as a mutation's userErrors let it)."""
        extensions = {**(error.extensions or {}), "code": code, **more}
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=error.original_error if code != "INTERNAL_SERVER_ERROR" else None,
            extensions=extensions,
        )
