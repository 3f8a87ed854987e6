"""The emulated shop as an ASGI app (POST /admin/api/2026-04/graphql.json) plus the controls tests drive it with.

A request goes through what Shopify does, in Shopify's order: the route and
API version (404 otherwise), the X-Shopify-Access-Token (401 with Shopify's
body), the JSON body (400), parsing and validation against the official SDL
(HTTP 200 with `errors`), the requested cost (MAX_COST_EXCEEDED over 1,000
points, THROTTLED when the bucket cannot hold it: HTTP 200, nothing
executed), execution, then the refund of requested minus actual cost. Every
answer that got as far as costing carries `extensions.cost`. Parse and
validation failures carry none: Shopify rejects those before costing.

Every answer names the version that served it in X-Shopify-API-Version.
Once a version is retired, Shopify serves requests for it from the oldest
version it still supports and the header says which (shopify.dev "About
Shopify API versioning"): `retire_version` makes the shop answer so.

Emulator-specific: a document selecting a field the emulator does not
implement is refused as a whole (code EMULATOR_NOT_IMPLEMENTED, recorded in
`gaps`), a retired 2026-04 is still answered with the 2026-04 schema, and
any version other than 2026-04 is a 404.

    shop = ShopifyEmulator(clock=ManualClock())
    with serve(shop.app) as origin: endpoint = shop.endpoint(origin)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError, execute, get_operation_ast, parse, validate
from graphql.execution.values import get_variable_values
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import controls, resolvers, roots  # noqa: F401  (registers the resolvers)
from .cost import (
    SINGLE_QUERY_LIMIT,
    STANDARD_MAXIMUM,
    STANDARD_RESTORE_RATE,
    LeakyBucket,
    actual_cost,
    cost_extension,
    max_cost_error,
    requested_cost,
    throttled_error,
)
from .model import Context, ShopInfo, ShopLocale, ShopState
from .schema import API_VERSION, NOT_IMPLEMENTED, admin_schema, dispatch, resolve_type, shopify_error
from .schema import unimplemented_selections as unimplemented

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_ROUTE = re.compile(r"^/admin/api/(?P<version>[^/]+)/graphql\.json$")


@dataclass
class LoggedRequest:
    """One request as the shop saw it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    query: str | None = None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    requested_cost: int | None = None
    actual_cost: int | None = None
    throttled: bool = False
    status: int = 0
    response: Any = None


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: str | None
    body: str
    media_type: str


class ManualClock:
    """A clock tests move by hand: `clock.advance(10)` refills the bucket by 10 x restoreRate."""

    def __init__(self, start: float = 1_775_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ShopifyEmulator(controls.Controls):
    """One shop and one app's view of it: state, cost bucket, request log, ASGI `app`.

    State is guarded by a lock: a served emulator answers in uvicorn's thread
    while the test reads and edits it from its own.
    """

    def __init__(
        self,
        *,
        access_token: str = "shpat_emulator0000000000000000000000",
        api_secret: str = "emulator-client-secret",
        shop: ShopInfo | None = None,
        locales: list[ShopLocale] | None = None,
        clock: Callable[[], float] = time.time,
        maximum_available: float = STANDARD_MAXIMUM,
        restore_rate: float = STANDARD_RESTORE_RATE,
        require_published_locales: bool = False,
        allow_insecure_webhooks: bool = False,
        media_ready: bool = False,
        reformat_html: bool = False,
    ) -> None:
        self.access_token = access_token
        self.api_secret = api_secret
        self.clock = clock
        self.state = ShopState(
            clock=clock,
            api_secret=api_secret,
            shop=shop,
            locales=locales,
            media_ready=media_ready,
            reformat_html=reformat_html,
        )
        self.context = Context(self.state, require_published_locales, allow_insecure_webhooks)
        self.bucket = LeakyBucket(maximum_available, restore_rate, maximum_available, clock())
        self.requests: list[LoggedRequest] = []
        self.gaps: list[str] = []
        """Every "emulator does not implement ..." a request ran into: a test can assert it stays empty."""
        self.delay_seconds = 0.0
        self.served_version = API_VERSION
        """The version answering requests for 2026-04: itself, or the one serving it once retired."""
        self._faults: list[_Fault] = []
        self._losing: dict[str, int] = {}
        self._lock = threading.RLock()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])])
        admin_schema()  # build the SDL now, not inside the first request's timeout

    @staticmethod
    def endpoint(origin: str) -> str:
        """The GraphQL URL under a served origin, e.g. http://127.0.0.1:5555/admin/api/2026-04/graphql.json."""
        return f"{origin}/admin/api/{API_VERSION}/graphql.json"

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        entry = LoggedRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(entry)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        response = self._fault() or self._route(request, body, entry)
        lost = self._lost(entry)
        entry.status = response.status_code
        return lost or response

    def _fault(self) -> Response | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        return Response(fault.body, fault.status, headers=headers, media_type=fault.media_type)

    def _lost(self, entry: LoggedRequest) -> Response | None:
        """The answer that replaces the one just computed for `entry`, when lose_answer asked for it."""
        with self._lock:
            if entry.operation_name is None or entry.operation_name not in self._losing:
                return None
            status = self._losing.pop(entry.operation_name)
        return Response(f"<h1>{status}</h1>", status, media_type="text/html")

    def _route(self, request: Request, body: bytes, entry: LoggedRequest) -> Response:
        match = _ROUTE.match(request.url.path)
        if match is None or match["version"] != API_VERSION:
            return JSONResponse({"errors": "Not Found"}, 404)
        headers = {"X-Request-Id": str(uuid.uuid4()), "X-Shopify-API-Version": self.served_version}
        token = request.headers.get("x-shopify-access-token", "")
        if not hmac.compare_digest(token.encode(), self.access_token.encode()):
            return JSONResponse({"errors": INVALID_TOKEN}, 401, headers=headers)
        if request.method != "POST":
            return JSONResponse({"errors": "Not Found"}, 404, headers=headers)
        request_body = self._request_body(request, body)
        if request_body is None:
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, 400, headers=headers)
        entry.query, entry.variables, entry.operation_name = request_body
        payload = self.run(*request_body, entry=entry)
        entry.response = payload
        return JSONResponse(payload, 200, headers=headers)

    @staticmethod
    def _request_body(request: Request, body: bytes) -> tuple[str, dict[str, Any] | None, str | None] | None:
        if request.headers.get("content-type", "").startswith("application/graphql"):
            return body.decode("utf-8", "replace"), None, None
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("query"), str):
            return None
        variables = parsed.get("variables")
        operation = parsed.get("operationName")
        return (
            parsed["query"],
            variables if isinstance(variables, dict) else None,
            operation if isinstance(operation, str) else None,
        )

    def run(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        entry: LoggedRequest | None = None,
    ) -> dict[str, Any]:
        """The body Shopify would answer (HTTP 200) for one GraphQL request."""
        entry = entry or LoggedRequest("POST", "", {}, b"")
        schema = admin_schema()
        try:
            document = parse(query)
        except GraphQLError as error:
            return {"errors": [shopify_error(error)]}
        invalid = validate(schema, document)
        if invalid:
            return {"errors": [shopify_error(error) for error in invalid]}
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = f'No operation named "{operation_name}"' if operation_name else "An operation name is required"
            return {"errors": [{"message": message}]}
        coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
        if isinstance(coerced, list):
            return {"errors": [{**shopify_error(e), "extensions": {"code": "INVALID_VARIABLE"}} for e in coerced]}
        if entry.operation_name is None and operation.name is not None:
            entry.operation_name = operation.name.value
        gaps = unimplemented(schema, document, operation)
        if gaps:
            with self._lock:
                self.gaps.extend(error.message for error in gaps)
            return {"errors": [error.formatted for error in gaps]}
        requested = requested_cost(schema, document, operation, coerced)
        entry.requested_cost = requested
        with self._lock:
            self.state.run_jobs()  # a job queued by an earlier request has run by the time the next is answered
            if requested > SINGLE_QUERY_LIMIT:
                self.bucket.refill(self.clock())
                return {
                    "errors": [max_cost_error(requested)],
                    "extensions": cost_extension(requested, None, self.bucket),
                }
            if not self.bucket.take(requested, self.clock()):
                entry.throttled = True
                return {"errors": [throttled_error()], "extensions": cost_extension(requested, None, self.bucket)}
            result = execute(
                schema,
                document,
                context_value=self.context,
                variable_values=dict(variables or {}),
                operation_name=operation_name,
                field_resolver=dispatch,
                type_resolver=resolve_type,
            )
            assert isinstance(result, ExecutionResult)
            actual = min(requested, actual_cost(schema, document, operation, coerced, result.data))
            self.bucket.refund(requested - actual)
            entry.actual_cost = actual
            payload: dict[str, Any] = {}
            if result.errors:
                payload["errors"] = [error.formatted for error in result.errors]
                self.gaps.extend(
                    e.message for e in result.errors if (e.extensions or {}).get("code") == NOT_IMPLEMENTED
                )
            payload["data"] = result.data
            payload["extensions"] = cost_extension(requested, actual, self.bucket)
            return payload

    # -- faults and pacing --------------------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        *,
        status: int = 503,
        retry_after: str | None = None,
        body: str = "",
        media_type: str = "text/html",
    ) -> None:
        """Answer the next `count` requests (before routing and authentication) with `status` and `body`."""
        if count > 0:
            with self._lock:
                self._faults.append(_Fault(status, count, retry_after, body or f"<h1>{status}</h1>", media_type))

    def lose_answer(self, operation_name: str, *, status: int = 502) -> None:
        """Carry out the next request naming `operation_name` as usual, then answer it with `status` instead
        (its log entry keeps what the shop would have answered): a change Shopify made whose answer a proxy or
        the network lost, so the client cannot tell it from one never made."""
        with self._lock:
            self._losing[operation_name] = status

    def retire_version(self, served_by: str) -> None:
        """Answer requests for 2026-04 as Shopify does once it is retired: served by `served_by`, the oldest
        version it still supports, which X-Shopify-API-Version names (the emulator keeps the 2026-04 schema)."""
        self.served_version = served_by

    def slow_down(self, seconds: float) -> None:
        """Wait `seconds` before answering every request from now on (0 to stop)."""
        self.delay_seconds = seconds
