"""Prometheus metrics of the API, on a registry of the app's own (several apps can live in one process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pimsync_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "pimsync_http_request_duration_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        self.errors = Counter(
            "pimsync_http_errors_total", "HTTP requests answered 5xx or failing", ["route"], registry=self.registry
        )


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
"""The methods HTTP defines (RFC 9110, and PATCH): each is its own label, any other is OTHER. The client names the
method, and a server that parses any token as one (h11) would otherwise keep a series per name sent, without bound."""


def _method(scope: Scope) -> str:
    method = str(scope["method"])
    return method if method in METHODS else "OTHER"


def _route_template(scope: Scope) -> str:
    """The matched route's path template, so /webhooks/{id} is one label, not one per id."""
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", []):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", scope["path"]))
    return "unmatched"


class MetricsMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer streaming responses)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route, method, started = _route_template(scope), _method(scope), time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            if status >= 500:
                self.metrics.errors.labels(route).inc()
