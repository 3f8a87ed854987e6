"""The Starlette application: /graphql behind bearer-token auth, plus /health, /ready and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from app.container import Container, open_container
from app.domain.errors import Unauthenticated
from app.metrics import Metrics, MetricsMiddleware
from app.ops import ops_routes
from app.services.auth import Principal
from app.services.tokens import TokenService
from app.settings import Settings, load_settings
from graphql_schema import build_schema
from graphql_schema.context import Context


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view, with a context built from the authenticated principal."""

    def __init__(self, current: Callable[[], Container], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current = current

    async def get_context(self, request: Any, response: Any) -> Context:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:
            raise Unauthenticated("send Authorization: Bearer <token>")
        return Context(container=self.current(), principal=principal)


def _unauthenticated(message: str) -> JSONResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="pimsync"'})


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class AuthenticatedGraphQL:
    """Verifies the bearer token of every GraphQL HTTP request before strawberry parses it.

    The GraphiQL page itself (a browser GET asking for HTML, development only)
    needs no token: the token goes into GraphiQL's headers pane.
    """

    def __init__(self, view: GraphQLApp, current: Callable[[], Container], *, ide: bool) -> None:
        self.view = view
        self.current = current
        self.ide = ide

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            if self.ide and _wants_ide(request):
                await (await self.view.render_graphql_ide(request))(scope, receive, send)
                return
            response = await self._authenticate(request)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.view(scope, receive, send)

    async def _authenticate(self, request: Request) -> Response | None:
        token = _bearer(request)
        if token is None:
            return _unauthenticated("send Authorization: Bearer <token>")
        try:
            async with self.current().db.reader() as session:
                principal, stale = await TokenService(session).authenticate(token)
        except Unauthenticated as exc:
            return _unauthenticated(exc.message)
        if stale:
            async with self.current().db.transaction() as session:
                await TokenService(session).record_use(principal.token_id)
        request.state.principal = principal
        return None


def _wants_ide(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


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
    view = GraphQLApp(current, schema=build_schema(settings), graphql_ide="graphiql" if ide else None)
    graphql = AuthenticatedGraphQL(view, current, ide=ide)
    routes = [*ops_routes(current, metrics), Route("/graphql", graphql, methods=["GET", "POST"])]
    middleware = [Middleware(MetricsMiddleware, metrics=metrics)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
