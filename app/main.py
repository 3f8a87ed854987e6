"""The Starlette application: /graphql behind bearer-token auth, /webhooks/{connector_id}, /health, /ready, /metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import structlog
from cross_web import HTTPException
from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, SubscribeMessage
from strawberry.types.unset import UNSET, UnsetType

from app.channels.webhooks import WebhookRefused
from app.container import Container, open_container
from app.db.engine import outage_cause, unreachable
from app.db.migrate import SchemaNewer, SchemaNotCurrent, require_current
from app.domain.errors import InvalidInput, NotFound, Unauthenticated
from app.domain.storable import lone_surrogate, lone_surrogate_refused
from app.metrics import Metrics, MetricsMiddleware
from app.ops import ops_routes
from app.services.auth import Principal
from app.services.readiness import ReadinessService
from app.services.tokens import TokenService
from app.services.webhooks import BodyTooLarge, read_limited, refuse_declared_length
from app.services.webhooks import receive as receive_webhook
from app.settings import Settings, load_settings
from app.sockets import SocketAdapter
from graphql_schema import build_schema
from graphql_schema.context import Context, SubscriptionSlots
from graphql_schema.errors import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_CODE
from graphql_schema.limits import holds_more_values, too_many_values

log = structlog.get_logger(__name__)

RETRY_AFTER = {"Retry-After": "5"}
"""Said with a 503 while the database does not answer (restarting, failing over): clients and channels come back."""
SCHEMA_BEHIND_TOLD = "the database's schema is behind this release: try again once `pimsync migrate` has run"
NESTED_TOO_DEEPLY = "the request nests JSON arrays and objects too deeply to be read: send flatter data"
"""Said of a body or socket message Python's JSON parser cannot read for recursing once per level (about 950)."""
UNREADABLE_BODY = "Unable to parse request body as JSON"
"""strawberry's own words for a body that is not JSON, kept for every other malformed body."""
TRY_AGAIN_LATER = 1013
"""The websocket close code for the same (RFC 6455's registry: "Try Again Later")."""


def _database_down(exc: Exception, route: str) -> bool:
    """Whether `exc` is the database not answering, an outage to ride out and not a fault of the code: if so it is
    logged in one line, without the traceback uvicorn would log for every request meanwhile."""
    if not unreachable(exc):
        return False
    log.warning("api.database_unavailable", route=route, error=outage_cause(exc))
    return True


async def _unservable(container: Container, exc: Exception, route: str) -> str | None:
    """What to tell a client whose request the database could not serve, as things stand: it does not answer, or
    a statement failed on a schema this release has not migrated yet (an API started before `pimsync migrate`,
    which /ready reports too). Logged in one line; None for any other error, a fault to be seen whole."""
    if _database_down(exc, route):
        return DATABASE_UNAVAILABLE
    if not isinstance(exc, DBAPIError):
        return None
    try:
        require_current(await ReadinessService(container).schema_revision())
    except SchemaNewer:
        return None  # a newer release's schema this instance serves on through a deploy: a failure there is a fault
    except SchemaNotCurrent as behind:
        log.warning("api.schema_behind", route=route, error=str(behind))
        return SCHEMA_BEHIND_TOLD
    except (DBAPIError, OSError):
        return None  # the original error, re-raised, says more
    return None


async def authenticate(container: Container, token: str) -> Principal:
    """The principal a bearer token stands for (Unauthenticated if none), noting its use now and then."""
    async with container.db.reader() as session:
        principal, stale = await TokenService(session).authenticate(token)
    if stale:
        async with container.db.transaction() as session:
            await TokenService(session).record_use(principal.token_id)
    return principal


class NestedTooDeeply(json.JSONDecodeError):
    """JSON nested deeper than the parser's recursion reaches: a JSONDecodeError, so that strawberry closes a
    socket sending it 4400 as it does for any message that is not JSON."""


def decode_json(text: str | bytes) -> Any:
    """JSON as strawberry decodes it, NestedTooDeeply where the parser ran out of recursion: 10,000 brackets (20 kB)
    raised RecursionError, a 500 with a traceback over HTTP, a socket dropped without a close frame."""
    try:
        return json.loads(text)
    except RecursionError:
        raise NestedTooDeeply(NESTED_TOO_DEEPLY, text if isinstance(text, str) else "", 0) from None


def parse_body(text: str | bytes, parse: Callable[[str], Any], *, max_values: int) -> Any:
    """A GraphQL request body (or its `variables` parameter) as `parse` reads it, refused with a 400 saying why
    when it is not UTF-8, not JSON, nested too deeply or holds half a character (the first and the third were a 500,
    the last reached the database and failed there as a server error), and with a 413 when it holds more than
    `max_values` JSON values.
    HTTPException (cross_web's, which strawberry depends on) is what strawberry's view answers with its status and
    message."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            byte = exc.object[exc.start]
            raise HTTPException(
                400, f"the request body is not UTF-8 (byte {byte:#04x} at offset {exc.start}): send JSON as UTF-8"
            ) from None
    try:
        parsed = parse(text)
    except NestedTooDeeply:
        raise HTTPException(400, NESTED_TOO_DEEPLY) from None
    except json.JSONDecodeError:
        raise HTTPException(400, UNREADABLE_BODY) from None
    if holds_more_values(parsed, max_values):
        raise HTTPException(BodyTooLarge.status, too_many_values(max_values))
    refused = half_character(parsed, text)
    if refused is not None:
        raise HTTPException(400, refused)
    return parsed


def half_character(data: Any, text: str | None = None) -> str | None:
    """Why a GraphQL request (`data`, parsed from JSON `text` when there was text) is refused for holding half a
    character, or None."""
    refused = lone_surrogate(data) if text is None else lone_surrogate_refused(text, data)
    return None if refused is None else f"{refused}: send whole characters"


class SocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, refusing an operation that holds half a character before it runs, as parse_body
    refuses such an HTTP body: it ran, and failed in the database as an INTERNAL_SERVER_ERROR (showing SQL in
    development). Its `error` message names where; the socket stays open for the next operation."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """connection_init authenticates its token (GraphQLApp.on_ws_connect): while the database does not answer,
        the socket is closed 1013 (try again later) saying so, where the error ended it without a close frame."""
        try:
            await super().handle_connection_init(message)
        except Exception as exc:
            if not _database_down(exc, "/graphql"):
                raise
            await self.websocket.close(code=TRY_AGAIN_LATER, reason=DATABASE_UNAVAILABLE)
            return
        if self.connection_acknowledged and isinstance(self.websocket, SocketAdapter):
            self.websocket.acknowledged = True

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message.get("payload")
        refused = self._refusal(payload) if self.connection_acknowledged else None  # the socket parsed it
        if refused is None:
            await super().handle_subscribe(message)
            return
        await self.send_message({"id": message["id"], "type": "error", "payload": [refused.formatted]})

    def _refusal(self, payload: Any) -> GraphQLError | None:
        """Why an operation is refused before it runs, as parse_body refuses an HTTP body; None to run it."""
        max_values = cast(GraphQLApp, self.view).max_input_values
        if holds_more_values(payload, max_values):
            return GraphQLError(too_many_values(max_values), extensions={"code": str(BodyTooLarge.code)})
        half = half_character(payload)
        return None if half is None else GraphQLError(half, extensions={"code": InvalidInput.code})


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view, with a context built from the authenticated principal, speaking graphql-transport-ws
    only on its sockets (SocketHandler holds the socket's own checks).

    HTTP requests are authenticated before they reach this view. A websocket
    (graphql-transport-ws) may carry the token on its upgrade request or in
    connection_init's payload ({"Authorization": "Bearer ..."}); without a
    valid one the connection is refused before any subscription starts.
    """

    graphql_transport_ws_handler_class = SocketHandler
    websocket_adapter_class = SocketAdapter

    def __init__(
        self,
        current: Callable[[], Container],
        *,
        subscriptions: SubscriptionSlots,
        max_input_values: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.current = current
        self.subscriptions = subscriptions
        self.max_input_values = max_input_values

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        return parse_body(data, decode_json, max_values=self.max_input_values)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """503 with Retry-After when the database went away while the request ran (ErrorPolicy gave its error
        DATABASE_UNAVAILABLE_CODE), as for a request it could not even authenticate: a client tries again later."""
        if _database_went_away(response_data):
            sub_response.status_code = 503
            sub_response.headers.update(RETRY_AFTER)
        return super().create_response(response_data, sub_response)

    async def get_context(self, request: Any, response: Any) -> Context:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None and not isinstance(request, WebSocket):
            raise Unauthenticated("send Authorization: Bearer <token>")
        return Context(
            container=self.current(),
            principal=principal,
            on_socket=isinstance(request, WebSocket),
            subscriptions=self.subscriptions,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        unset: UnsetType = UNSET
        if context.principal is not None:
            return unset
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization") or ""
        scheme, _, token = str(raw).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ConnectionRejectionError({"message": "send Authorization: Bearer <token> in connection_init"})
        try:
            context.principal = await authenticate(self.current(), token.strip())
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        return unset


def _database_went_away(response_data: Any) -> bool:
    answers = response_data if isinstance(response_data, list) else [response_data]
    return any(
        (error.get("extensions") or {}).get("code") == DATABASE_UNAVAILABLE_CODE
        for answer in answers
        if isinstance(answer, dict)
        for error in answer.get("errors") or ()
    )


def _unauthenticated(message: str) -> JSONResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="pimsync"'})


def _unavailable(message: str) -> JSONResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": DATABASE_UNAVAILABLE_CODE}}]}
    return JSONResponse(body, status_code=503, headers=RETRY_AFTER)


def _too_large(message: str) -> JSONResponse:
    error = {"message": f"{message}: send smaller batches", "extensions": {"code": str(BodyTooLarge.code)}}
    body = {"data": None, "errors": [error]}
    return JSONResponse(body, status_code=BodyTooLarge.status)


CLIENT_GONE = "the client closed the connection before its body arrived"
"""Answered (to no one) when a client hangs up mid-body: an ordinary event of the network, not a server fault to
log with a traceback."""


def _client_gone() -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": CLIENT_GONE, "extensions": {"code": "BAD_REQUEST"}}]}, 400
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the view, handing it the body already read (and checked) before anything else."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class AuthenticatedGraphQL:
    """Verifies the bearer token of every GraphQL HTTP request before strawberry parses it, and bounds its body.

    The GraphiQL page itself (a browser GET asking for HTML, development only)
    needs no token: the token goes into GraphiQL's headers pane. A body past
    `max_body` bytes is refused (413) once its Content-Length says so, or as
    soon as that much has streamed in: it is never read whole.
    """

    def __init__(self, view: GraphQLApp, current: Callable[[], Container], *, ide: bool, max_body: int) -> None:
        self.view = view
        self.current = current
        self.ide = ide
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not await self._authenticate_upgrade(scope):
            await _refuse_socket(scope, receive, send)
            return
        if scope["type"] == "http":
            request = Request(scope, receive)
            if self.ide and _wants_ide(request):
                await (await self.view.render_graphql_ide(request))(scope, receive, send)
                return
            response = await self._authenticate(request)
            if response is not None:
                await response(scope, receive, send)
                return
            try:
                refuse_declared_length(request.headers, self.max_body)
                body = await read_limited(request.stream(), self.max_body)
            except BodyTooLarge as exc:
                await _too_large(exc.message)(scope, receive, send)
                return
            except ClientDisconnect:
                await _client_gone()(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.view(scope, receive, send)

    async def _authenticate(self, request: Request) -> Response | None:
        token = _bearer(request)
        if token is None:
            return _unauthenticated("send Authorization: Bearer <token>")
        try:
            request.state.principal = await authenticate(self.current(), token)
        except Unauthenticated as exc:
            return _unauthenticated(exc.message)
        except Exception as exc:
            told = await _unservable(self.current(), exc, "/graphql")
            if told is None:
                raise
            return _unavailable(told)
        return None

    async def _authenticate_upgrade(self, scope: Scope) -> bool:
        """A token on the upgrade request authenticates the socket at once; a bad one is left to connection_init.
        False when the database did not answer."""
        socket = WebSocket(scope, receive=_no_receive, send=_no_send)
        token = _bearer(socket)  # type: ignore[arg-type]
        if token is None:
            return True
        try:
            socket.state.principal = await authenticate(self.current(), token)
        except Unauthenticated:
            return True
        except Exception as exc:
            if _database_down(exc, "/graphql"):
                return False
            raise
        return True


async def _refuse_socket(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept the socket only to close it 1013 saying the database does not answer: refusing the upgrade itself
    would tell the client no more than a bare HTTP status."""
    socket = WebSocket(scope, receive, send)
    offered = scope.get("subprotocols") or []
    await socket.accept(subprotocol=GRAPHQL_TRANSPORT_WS_PROTOCOL if GRAPHQL_TRANSPORT_WS_PROTOCOL in offered else None)
    await socket.close(code=TRY_AGAIN_LATER, reason=DATABASE_UNAVAILABLE)


async def _no_receive() -> Any:
    raise RuntimeError("the upgrade request is only read, never received from")


async def _no_send(message: Any) -> None:
    raise RuntimeError("the upgrade request is only read, never answered")


def _wants_ide(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


def webhook_route(current: Callable[[], Container]) -> Route:
    """POST /webhooks/{connector public id}: 202 once stored; the body is streamed so its size limit holds."""

    async def webhook(request: Request) -> Response:
        try:
            receipt = await receive_webhook(
                current(), public_id=request.path_params["connector_id"], headers=request.headers, body=request.stream()
            )
        except (WebhookRefused, NotFound) as exc:
            status = exc.status if isinstance(exc, WebhookRefused) else 404
            return JSONResponse({"code": str(exc.code), "message": exc.message}, status_code=status)
        except ClientDisconnect:
            return JSONResponse({"code": "BAD_REQUEST", "message": CLIENT_GONE}, status_code=400)
        except Exception as exc:
            told = await _unservable(current(), exc, "/webhooks/{connector_id}")
            if told is None:
                raise
            return JSONResponse({"code": "SERVICE_UNAVAILABLE", "message": told}, status_code=503, headers=RETRY_AFTER)
        if receipt.status == "ping":
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": receipt.status, "deliveryId": receipt.delivery_id}, status_code=202)

    return Route("/webhooks/{connector_id}", webhook, methods=["POST"])


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> Starlette:
    """The ASGI app. Tests pass a ready `container`; otherwise the lifespan opens and closes one."""
    settings = settings or load_settings()
    metrics = Metrics()
    holder: dict[str, Container] = {}

    def current() -> Container:
        return holder["container"]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = container is None
        holder["container"] = container or await open_container(settings)
        app.state.container = holder["container"]
        try:
            yield
        finally:
            if owned:
                await holder["container"].close()

    if container is not None:
        holder["container"] = container
    ide = not settings.is_production
    view = GraphQLApp(
        current,
        subscriptions=SubscriptionSlots(settings.max_subscriptions_per_tenant),
        max_input_values=settings.graphql_max_input_values,
        schema=build_schema(settings),
        graphql_ide="graphiql" if ide else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),  # strawberry also serves the legacy graphql-ws
    )
    graphql = AuthenticatedGraphQL(view, current, ide=ide, max_body=settings.graphql_max_body_bytes)
    routes = [
        *ops_routes(current, metrics),
        webhook_route(current),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    middleware = [Middleware(MetricsMiddleware, metrics=metrics)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
