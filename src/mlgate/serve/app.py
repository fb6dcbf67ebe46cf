"""The ASGI application: /predict, /healthz, /readyz, /version, /metrics, and the Open
Inference Protocol's /v2 routes (:mod:`mlgate.serve.v2`).

Handlers are ``async`` and do their (sub-millisecond) numpy work inline: a thread hop per
request would cost more than the prediction. Bodies are parsed by ``validation`` rather
than by a pydantic model, which is both stricter (no NaN, no duplicate keys, row and column
named in every 422) and faster. Metrics are recorded by a plain ASGI middleware
(Starlette's ``BaseHTTPMiddleware`` adds a task and a queue per request).

The app is Starlette, the ASGI toolkit FastAPI is built on: no handler here uses FastAPI's
layer (pydantic models, dependency injection, OpenAPI), and importing it costs about a
quarter of a second of the server's CPU-bound start-up. Errors keep FastAPI's shape
(``{"detail": ...}`` JSON for 404 and 405).
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlgate.serve.metrics import CLIENT_CLOSED, CONTENT_TYPE, ServeMetrics
from mlgate.serve.state import ServingState
from mlgate.serve.validation import InvalidRequest, parse_body, validate_rows

ENDPOINTS = frozenset({"/predict", "/healthz", "/readyz", "/version", "/metrics"})


def _endpoint(path: str) -> str:
    """The metrics label of ``path``: a route, never the raw path (see ``metrics``)."""
    if path in ENDPOINTS:
        return path
    if path.startswith("/v2"):
        from mlgate.serve.v2 import endpoint_label

        return endpoint_label(path)
    return "other"


JSON = "application/json"


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, allow_nan=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type=JSON, headers=headers)


class MetricsMiddleware:
    """Counts requests and errors and times them, by endpoint and status."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        endpoint = _endpoint(path)
        status = 500
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(endpoint, status, time.perf_counter() - start)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InvalidRequest(413, f"body of {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidRequest(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _http_error(_request: Request, exc: Exception) -> Response:
    """404, 405 and other HTTP errors as ``{"detail": ...}`` JSON."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return _json({"detail": exc.detail}, exc.status_code, headers)


def create_app(
    *,
    state: ServingState,
    metrics: ServeMetrics,
    max_rows: int,
    max_body_bytes: int | None = None,
    debug_info: bool = False,
    model_name: str = "model",
) -> Starlette:
    """The server's ASGI app over ``state`` (swapped by the reconciler); ``debug_info``
    lets ``/version`` and ``/readyz`` show filesystem paths and URLs in messages;
    ``model_name`` is the model's name in the Open Inference Protocol routes (``/v2``)."""
    import numpy as np

    from mlgate.serve import v2

    body_limit = max_body_bytes or max(65536, max_rows * 8192)

    async def healthz(_request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        served = state.current
        if served is None:
            last = state.last_result
            reason = "no verified model loaded yet"
            if last is not None and last.reason:
                reason += f"; last reconcile: {last.reason}"
            return _json(
                {
                    "ready": False,
                    "reason": reason,
                    "last_reconcile": last.to_json(debug=debug_info) if last else None,
                },
                503,
            )
        return _json({"ready": True, "version": served.version})

    async def version(_request: Request) -> Response:
        return _json(state.version_json(debug=debug_info))

    async def prometheus(_request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def predict(request: Request) -> Response:
        served = state.current  # one read: this request uses this model to the end
        try:
            body = await _read_body(request, body_limit)
            if served is None:
                return _json({"error": "no verified model loaded yet; see /version"}, 503)
            frame = validate_rows(
                parse_body(body), served.schema, max_rows=max_rows, as_array=served.takes_array
            )
        except InvalidRequest as exc:
            return _json(exc.detail, exc.status)
        except ClientDisconnect:  # gone mid-body: nobody to answer, nothing went wrong here
            return Response(status_code=CLIENT_CLOSED)
        try:
            proba = served.model.predict_proba(frame)
        except ValueError as exc:  # e.g. a null the schema allows but the model cannot take
            return _json({"error": f"the model cannot predict these rows ({exc})"}, 422)
        classes = served.classes
        metrics.rows.inc(len(frame))
        return _json(
            {
                "version": served.version,
                "predictions": [classes[i] for i in np.argmax(proba, axis=1).tolist()],
                "probabilities": proba.tolist(),
                "classes": list(classes),
            },
            headers={"x-model-version": served.version},
        )

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            Route("/predict", predict, methods=["POST"]),
            *v2.routes(
                state=state,
                metrics=metrics,
                max_rows=max_rows,
                model_name=model_name,
                read_body=lambda request: _read_body(request, body_limit),
                respond=_json,
            ),
        ],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={HTTPException: _http_error},
    )
