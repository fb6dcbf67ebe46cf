"""The ASGI application: /predict, /healthz, /readyz, /version, /metrics.

Handlers are ``async`` and do their (sub-millisecond) numpy work inline: a thread hop per
request would cost more than the prediction. Bodies are parsed by ``validation`` rather
than by a pydantic model, which is both stricter (no NaN, no duplicate keys, row and column
named in every 422) and faster. Metrics are recorded by a plain ASGI middleware
(Starlette's ``BaseHTTPMiddleware`` adds a task and a queue per request).
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlgate.serve.metrics import CONTENT_TYPE, ServeMetrics
from mlgate.serve.state import ServingState
from mlgate.serve.validation import InvalidRequest, parse_body, validate_rows

ENDPOINTS = frozenset({"/predict", "/healthz", "/readyz", "/version", "/metrics"})
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
        endpoint = path if path in ENDPOINTS else "other"
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


def create_app(
    *, state: ServingState, metrics: ServeMetrics, max_rows: int, max_body_bytes: int | None = None
) -> FastAPI:
    """The server's ASGI app over ``state`` (swapped by the reconciler)."""
    import numpy as np

    body_limit = max_body_bytes or max(65536, max_rows * 8192)
    app = FastAPI(title="mlgate serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        served = state.current
        if served is None:
            last = state.last_result
            return _json(
                {
                    "ready": False,
                    "reason": "no verified model loaded yet",
                    "last_reconcile": last.to_json() if last else None,
                },
                503,
            )
        return _json({"ready": True, "version": served.version})

    @app.get("/version")
    async def version() -> Response:
        return _json(state.version_json())

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.post("/predict")
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

    return app
