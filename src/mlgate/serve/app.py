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

import asyncio
import concurrent.futures
import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlgate.serve.metrics import CLIENT_CLOSED, CONTENT_TYPE, ServeMetrics
from mlgate.serve.probe import model_outputs
from mlgate.serve.state import Served, ServingState
from mlgate.serve.validation import (
    InvalidRequest,
    RequestSchema,
    parse_request,
    schema_to_json,
)
from mlgate.serve.workers import PredictError, WorkerDied

if TYPE_CHECKING:
    from mlgate.serve.workers import WorkerPool

T = TypeVar("T")

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


try:  # a dependency of DVC's on CPython (and of mlgate[serve])
    import orjson
except ImportError:  # pragma: no cover
    orjson = None  # type: ignore[assignment]

_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY if orjson is not None else 0


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``obj`` as compact JSON. Numpy arrays go in as they are (orjson writes float64 arrays
    without a Python float per value); callers check them finite first (see
    :func:`non_finite`), since orjson would write NaN as null."""
    if orjson is not None:
        try:
            body = orjson.dumps(obj, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
            body = _json_std(obj)
    else:  # pragma: no cover
        body = _json_std(obj)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def _json_std(obj: Any) -> bytes:
    def default(value: Any) -> Any:
        if hasattr(value, "tolist"):  # numpy arrays and scalars
            return value.tolist()
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return json.dumps(obj, allow_nan=False, separators=(",", ":"), default=default).encode()


def non_finite(values: Any) -> Response | None:
    """A 500 when a model answered NaN or infinity (JSON has neither), else None."""
    import numpy as np

    if np.isfinite(values).all():
        return None
    return _json({"error": "the model returned a value that is not a finite number"}, 500)


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


class InFlightLimit:
    """At most ``limit`` prediction requests in progress; beyond it 503 with ``Retry-After``
    at once (nothing read), so a burst queues in clients and load balancers, not in memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            busy = _json(
                {"error": f"{self.limit} requests in progress, the limit (--max-in-flight); retry"},
                503,
                {"retry-after": "1"},
            )
            await busy(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The request body, or 413 as soon as it passes ``limit`` bytes, or 408 when it takes
    longer than ``timeout`` seconds to arrive."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InvalidRequest(413, f"body of {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise InvalidRequest(413, f"body over {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise InvalidRequest(
            408, f"the body took more than {timeout:g} s to arrive ({size} bytes came)"
        ) from None
    return b"".join(chunks)


#: Bodies from this size on are not parsed on the event loop: with inference workers the
#: raw body goes to one of them, which parses, validates and predicts (the loop only moves
#: bytes, and the parse holds another process's interpreter lock); without workers they
#: are parsed and validated in a thread. Smaller ones take well under a millisecond here.
OFF_LOOP_BYTES = 64 * 1024

_parser: concurrent.futures.ThreadPoolExecutor | None = None


async def off_loop(size: int, work: Callable[[], T]) -> T:
    """``work()`` here for a small body, else in the one parsing thread (one, so several big
    bodies take turns instead of all contending with the event loop for the GIL)."""
    global _parser
    if size < OFF_LOOP_BYTES:
        return work()
    if _parser is None:
        _parser = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mlgate-parse")
    return await asyncio.get_running_loop().run_in_executor(_parser, work)


def _frame_payload(frame: Any) -> Any:
    """What a worker gets: the float64 matrix itself, or the DataFrame's columns."""
    import numpy as np

    if isinstance(frame, np.ndarray):
        return frame
    return {str(c): frame[c].tolist() for c in frame.columns}


def make_infer(pool: WorkerPool | None) -> Callable[[Served, Any], Awaitable[Any]]:
    """``infer(served, frame)``: the probability matrix (a regressor: its values, rows x 1;
    :func:`~mlgate.serve.probe.model_outputs`), from the inference workers when ``served``
    lives there, else from the model in this process. Raises :class:`ValueError`
    (422), :class:`PredictError` or :class:`WorkerDied` (see :func:`model_failure`)."""

    async def infer(served: Served, frame: Any) -> Any:
        if served.generation is None or pool is None:
            return model_outputs(served.model, frame)
        return await pool.predict(served.generation, _frame_payload(frame))

    return infer


def model_failure(exc: Exception) -> Response:
    """The answer for a prediction that failed: 422 for rows the model refuses, 503 with
    ``Retry-After`` when the worker died or the version left meanwhile, 500 otherwise."""
    if isinstance(exc, WorkerDied):
        return _json(
            {"error": f"{exc}; it is being replaced and the model checked: retry"},
            503,
            {"retry-after": "1"},
        )
    if isinstance(exc, PredictError):
        if exc.status == 422:
            return _json({"error": f"the model cannot predict these rows ({exc})"}, 422)
        if exc.status == 503:
            return _json({"error": f"{exc}: retry"}, 503, {"retry-after": "1"})
        return _json({"error": f"the model failed ({exc})"}, 500)
    return _json({"error": f"the model cannot predict these rows ({exc})"}, 422)


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
    pool: WorkerPool | None = None,
    max_in_flight: int = 256,
    body_timeout: float = 30.0,
) -> Starlette:
    """The server's ASGI app over ``state`` (swapped by the reconciler); ``debug_info``
    lets ``/version`` and ``/readyz`` show filesystem paths and URLs in messages;
    ``model_name`` is the model's name in the Open Inference Protocol routes (``/v2``);
    ``pool``: the inference workers (None: predict in this process); ``max_in_flight``:
    prediction requests in progress beyond which the answer is 503; ``body_timeout``:
    seconds a request body may take to arrive (408 after)."""
    import numpy as np

    from mlgate.serve import v2

    body_limit = max_body_bytes or max(65536, max_rows * 8192)
    infer = make_infer(pool)

    def read_body(request: Request) -> Awaitable[bytes]:
        return _read_body(request, body_limit, body_timeout)

    def object_limit(schema: RequestSchema) -> int:
        """JSON objects a body may hold: a row each, and a few around them (V2 tensors)."""
        return max_rows + 2 * len(schema.names) + 16

    @functools.lru_cache(maxsize=16)
    def body_spec(schema: RequestSchema, route: str) -> bytes:
        """How a worker is to parse a body for ``route`` (see ``mlgate.serve.workers``)."""
        spec = {
            "route": route,
            "schema": schema_to_json(schema),
            "max_rows": max_rows,
            "max_objects": object_limit(schema),
        }
        return json.dumps(spec).encode()

    async def evaluate(served: Served, body: bytes, route: str) -> tuple[Any, dict[str, Any]]:
        """The model's outputs for a request ``body`` and the answer's extras
        (:func:`~mlgate.serve.validation.parse_request`). Raises ``InvalidRequest`` for a
        body refused, else as :func:`make_infer`'s ``infer``."""
        schema = served.schema
        if pool is not None and served.generation is not None and len(body) >= OFF_LOOP_BYTES:
            return await pool.predict_body(served.generation, body_spec(schema, route), body)
        frame, extras = await off_loop(
            len(body),
            lambda: parse_request(
                route,
                body,
                schema,
                max_rows=max_rows,
                max_objects=object_limit(schema),
                as_array=served.takes_array,
            ),
        )
        return await infer(served, frame), extras

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
            body = await read_body(request)
            if served is None:
                return _json({"error": "no verified model loaded yet; see /version"}, 503)
            proba, _extras = await evaluate(served, body, "predict")
        except InvalidRequest as exc:
            return _json(exc.detail, exc.status)
        except ClientDisconnect:  # gone mid-body: nobody to answer, nothing went wrong here
            return Response(status_code=CLIENT_CLOSED)
        except (ValueError, PredictError, WorkerDied) as exc:  # e.g. a null the model refuses
            return model_failure(exc)
        classes = served.classes
        metrics.rows.inc(len(proba))
        proba = np.ascontiguousarray(proba, dtype=np.float64)
        bad = non_finite(proba)
        if bad is not None:
            return bad
        if not classes:  # a regressor: the predicted values, no probabilities
            return _json(
                {"version": served.version, "predictions": np.ascontiguousarray(proba[:, 0])},
                headers={"x-model-version": served.version},
            )
        return _json(
            {
                "version": served.version,
                "predictions": [classes[i] for i in np.argmax(proba, axis=1).tolist()],
                "probabilities": proba,
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
                read_body=read_body,
                respond=_json,
                evaluate=evaluate,
                failure=model_failure,
            ),
        ],
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(InFlightLimit, limit=max_in_flight),
        ],
        exception_handlers={HTTPException: _http_error},
    )
