"""The Open Inference Protocol (KServe V2, REST) beside ``/predict``.

So KServe, Triton and MLServer clients work unchanged:
https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/ (REST part).

``/v2/health/live``, ``/v2/health/ready``, ``/v2``, ``/v2/models/{name}``,
``/v2/models/{name}/ready`` and ``/v2/models/{name}/infer`` (each also under
``/versions/{version}``, which must be the served version). An inference request carries
its rows in one of two ways:

- one input per column, named after it: ``{"name": "mean_radius", "shape": [n] or [n, 1],
  "datatype": "FP64", "data": [...]}`` (``BYTES`` for text columns, ``BOOL`` for booleans);
- one 2-D tensor ``{"name": any, "shape": [n, columns], "datatype": "FP64", "data": [...]}``
  (row-major, flat or nested) in the column order ``/v2/models/{name}`` lists (all-numeric
  schemas only).

Either way the rows get exactly the checks of ``/predict`` (the served schema, finite
numbers, ``--max-rows``). The answer has two outputs: ``predictions`` (shape ``[n]``) and
``probabilities`` (shape ``[n, classes]``, FP64, row-major), with ``parameters.classes``.
Health answers are 200 for true and 400 for false, as the protocol says; errors are
``{"error": message}`` with 4xx (422 for a request that parses but is wrong, as on
``/predict``; 413 above the row or body limit; 404 for another model or version).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from mlgate.serve.validation import InvalidRequest, RequestSchema, parse_body, validate_rows

# the web framework and the metrics only where the routes are made: an inference worker
# parses big bodies with this module's functions (parse_infer) and imports none of them
if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from mlgate.serve.metrics import ServeMetrics
    from mlgate.serve.state import Served, ServingState

#: V2 datatypes of the JSON values a column of each kind takes.
_COLUMN_TYPES = {
    "float": frozenset({"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64",
                        "UINT32", "UINT16", "UINT8"}),
    "integer": frozenset({"INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8",
                      "FP64", "FP32"}),
    "boolean": frozenset({"BOOL"}),
    "string": frozenset({"BYTES"}),
}  # fmt: skip
_DATATYPE = {"float": "FP64", "integer": "INT64", "boolean": "BOOL", "string": "BYTES"}


def _datatype_of(values: Sequence[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def _prediction_type(classes: Sequence[Any]) -> str:
    """The datatype of ``predictions``: the classes' (a classifier), else FP64 (a regressor)."""
    return _datatype_of(classes) if classes else "FP64"


def _flat(data: Any, name: str) -> list[Any]:
    """``data`` as a flat list: the protocol allows row-major nesting in JSON."""
    if not isinstance(data, list):
        raise InvalidRequest(422, f"input {name!r}: data must be a list", column=name)
    if any(isinstance(v, list) for v in data):
        out: list[Any] = []
        for v in data:
            out.extend(_flat(v, name) if isinstance(v, list) else [v])
        return out
    return data


def _shape(tensor: dict[str, Any], name: str) -> list[int]:
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise InvalidRequest(422, f"input {name!r}: shape must be a list of sizes", column=name)
    return shape


def rows_from_inputs(payload: Any, schema: RequestSchema, *, max_rows: int) -> list[Any]:
    """The request's rows as ``/predict`` objects (for :func:`validate_rows`).

    Raises :class:`InvalidRequest` for a body that is not a V2 inference request, inputs
    that match neither form, shapes that disagree with the data, or too many rows (413).
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InvalidRequest(422, 'body must be a V2 inference request {"inputs": [...]}')
    inputs = payload["inputs"]
    if not inputs or not all(isinstance(t, dict) for t in inputs):
        raise InvalidRequest(422, '"inputs" must be a non-empty list of tensors')
    names = [t.get("name") for t in inputs]
    if not all(isinstance(n, str) for n in names):
        raise InvalidRequest(422, "every input needs a name")
    if len(inputs) == 1 and names[0] not in schema.names and len(schema.names) != 1:
        return _rows_from_matrix(inputs[0], schema, max_rows=max_rows)
    unknown = [n for n in names if n not in schema.names]
    if unknown:
        raise InvalidRequest(
            422,
            f"unknown input {unknown[0]!r}: send one input per column "
            f"({', '.join(schema.names[:3])}, ...) or one [rows, {len(schema.names)}] FP64 tensor",
            column=unknown[0],
        )
    missing = [n for n in schema.names if n not in names]
    if missing:
        raise InvalidRequest(422, f"missing input {missing[0]!r}", column=missing[0])
    if len(set(names)) != len(names):
        raise InvalidRequest(422, "an input is named twice")
    columns: dict[str, list[Any]] = {}
    kinds = {c.name: c.dtype for c in schema.columns}
    count: int | None = None
    for tensor, name in zip(inputs, names, strict=True):
        shape = _shape(tensor, name)
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidRequest(
                422, f"input {name!r}: shape must be [rows] or [rows, 1]", column=name
            )
        datatype = tensor.get("datatype")
        if datatype not in _COLUMN_TYPES[kinds[name]]:
            raise InvalidRequest(
                422,
                f"input {name!r}: datatype {datatype!r}; this column takes "
                f"{_DATATYPE[kinds[name]]}",
                column=name,
            )
        if shape[0] > max_rows:
            raise InvalidRequest(413, f"{shape[0]} rows; the limit is {max_rows} per request")
        data = _flat(tensor.get("data"), name)
        if len(data) != shape[0]:
            raise InvalidRequest(
                422, f"input {name!r}: {len(data)} values for shape {shape}", column=name
            )
        if count is not None and shape[0] != count:
            raise InvalidRequest(
                422, f"input {name!r}: {shape[0]} rows, other inputs have {count}", column=name
            )
        count = shape[0]
        columns[name] = data
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def _rows_from_matrix(tensor: dict[str, Any], schema: RequestSchema, *, max_rows: int) -> list[Any]:
    name = str(tensor["name"])
    if not schema.numeric:
        raise InvalidRequest(
            422, "this model's schema has non-numeric or nullable columns: send one input per "
            "column, named after it"
        )  # fmt: skip
    shape = _shape(tensor, name)
    width = len(schema.names)
    if len(shape) != 2 or shape[1] != width:
        raise InvalidRequest(
            422, f"input {name!r}: shape {shape}; a single input must be [rows, {width}]"
        )
    if tensor.get("datatype") not in _COLUMN_TYPES["float"]:
        raise InvalidRequest(422, f"input {name!r}: datatype must be FP64")
    if shape[0] > max_rows:
        raise InvalidRequest(413, f"{shape[0]} rows; the limit is {max_rows} per request")
    data = _flat(tensor.get("data"), name)
    if len(data) != shape[0] * width:
        raise InvalidRequest(422, f"input {name!r}: {len(data)} values for shape {shape}")
    return [
        dict(zip(schema.names, data[i : i + width], strict=True))
        for i in range(0, len(data), width)
    ]


def matrix_fast(payload: Any, schema: RequestSchema, *, max_rows: int) -> Any:
    """The float64 matrix of a well-formed one-tensor request ``[rows, columns]`` with only
    finite JSON numbers, without building a row object per row; None for anything else
    (the general path then checks it and names the row and column of a problem)."""
    import numpy as np

    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        return None
    tensor = inputs[0]
    width = len(schema.names)
    shape = tensor.get("shape")
    if (
        tensor.get("name") in schema.names
        or tensor.get("datatype") not in _COLUMN_TYPES["float"]
        or not isinstance(shape, list)
        or len(shape) != 2
        or shape[1] != width
        or not isinstance(shape[0], int)
        or not 0 < shape[0] <= max_rows
    ):
        return None
    data = tensor.get("data")
    if not isinstance(data, list):
        return None
    if data and type(data[0]) is list:
        if not all(type(r) is list and len(r) == width for r in data):
            return None
        flat: list[Any] = [v for r in data for v in r]
    else:
        flat = data
    if len(flat) != shape[0] * width or not set(map(type, flat)) <= {int, float}:
        return None
    try:
        matrix = np.array(flat, dtype=np.float64).reshape(shape[0], width)
    except OverflowError:
        return None
    return matrix if np.isfinite(matrix).all() else None


def parse_infer(
    body: bytes, schema: RequestSchema, *, max_rows: int, max_objects: int, as_array: bool
) -> tuple[Any, dict[str, Any]]:
    """A V2 inference request's model input (as :func:`validate_rows` gives it) and what its
    answer needs: ``{"wanted": [output names], "id": ...}`` (``id`` when the request has a
    string one). Raises :class:`InvalidRequest`."""
    payload = parse_body(body, max_objects=max_objects)
    frame = matrix_fast(payload, schema, max_rows=max_rows) if as_array else None
    if frame is None:
        rows = rows_from_inputs(payload, schema, max_rows=max_rows)
        frame = validate_rows({"rows": rows}, schema, max_rows=max_rows, as_array=as_array)
    extras: dict[str, Any] = {"wanted": _wanted_outputs(payload)}
    if isinstance(payload.get("id"), str):
        extras["id"] = payload["id"]
    return frame, extras


def metadata(served: Served, name: str) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the inputs a request sends and the outputs it gets."""
    classes = list(served.classes)
    outputs: list[dict[str, Any]] = [
        {"name": "predictions", "datatype": _prediction_type(classes), "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(classes)]},
    ]
    return {
        "name": name,
        "versions": [served.version],
        "platform": "sklearn",
        "inputs": [
            {"name": c.name, "datatype": _DATATYPE[c.dtype], "shape": [-1]}
            for c in served.schema.columns
        ],
        "outputs": outputs if classes else outputs[:1],  # a regressor: values only
        "parameters": {"classes": classes, "commit": served.commit, "sha256": served.sha256},
    }


def routes(
    *,
    state: ServingState,
    metrics: ServeMetrics,
    max_rows: int,
    model_name: str,
    read_body: Callable[[Request], Awaitable[bytes]],
    respond: Callable[..., Response],
    evaluate: Callable[[Served, bytes, str], Awaitable[tuple[Any, dict[str, Any]]]],
    failure: Callable[[Exception], Response],
) -> list[Route]:
    """The V2 routes over ``state``; ``read_body``, ``respond``, ``evaluate`` and
    ``failure`` are the app's own (``evaluate(served, body, "v2")``: the outputs and
    :func:`parse_infer`'s extras; :func:`mlgate.serve.app.model_failure`)."""
    import numpy as np
    from starlette.requests import ClientDisconnect
    from starlette.responses import Response
    from starlette.routing import Route

    from mlgate.serve.app import non_finite
    from mlgate.serve.metrics import CLIENT_CLOSED
    from mlgate.serve.workers import PredictError, WorkerDied

    def model_for(request: Request) -> Served | Response:
        """The served model if the path names it (and its version), else the error answer."""
        name = request.path_params["name"]
        version = request.path_params.get("version")
        served = state.current
        if name != model_name:
            return respond({"error": f"no model {name!r}; this server serves {model_name!r}"}, 404)
        if served is None:
            return respond({"error": "no verified model loaded yet; see /version"}, 503)
        if version is not None and version != served.version:
            return respond(
                {"error": f"version {version!r} is not served; {served.version!r} is"}, 404
            )
        return served

    async def live(_request: Request) -> Response:
        return respond({"live": True})

    async def ready(_request: Request) -> Response:
        ok = state.current is not None
        return respond({"ready": ok}, 200 if ok else 400)

    async def server_metadata(_request: Request) -> Response:
        from importlib.metadata import version

        return respond({"name": "mlgate", "version": version("mlgate"), "extensions": []})

    async def model_metadata(request: Request) -> Response:
        found = model_for(request)
        if isinstance(found, Response):
            return found
        return respond(metadata(found, model_name))

    async def model_ready(request: Request) -> Response:
        name = request.path_params["name"]
        if name != model_name:
            return respond({"error": f"no model {name!r}; this server serves {model_name!r}"}, 404)
        found = model_for(request)
        ok = not isinstance(found, Response)
        return respond({"name": name, "ready": ok}, 200 if ok else 400)

    async def infer_route(request: Request) -> Response:
        found = model_for(request)  # one read: this request uses this model to the end
        if isinstance(found, Response):
            return found
        served = found
        try:
            body = await read_body(request)
            proba, extras = await evaluate(served, body, "v2")
        except InvalidRequest as exc:
            return respond(exc.detail, exc.status)
        except ClientDisconnect:
            return Response(status_code=CLIENT_CLOSED)
        except (ValueError, PredictError, WorkerDied) as exc:
            return failure(exc)
        wanted: list[str] = extras["wanted"]
        proba = np.ascontiguousarray(proba, dtype=np.float64)
        bad = non_finite(proba)
        if bad is not None:
            return bad
        classes = list(served.classes)
        predictions: Any
        if classes:
            predictions = [classes[i] for i in np.argmax(proba, axis=1).tolist()]
        else:  # a regressor: its values (FP64), no probabilities
            predictions = np.ascontiguousarray(proba[:, 0])
            wanted = [n for n in wanted if n != "probabilities"]
        metrics.rows.inc(len(proba))
        outputs = {
            "predictions": {
                "name": "predictions",
                "shape": [len(predictions)],
                "datatype": _prediction_type(classes),
                "data": predictions,
            },
            "probabilities": {
                "name": "probabilities",
                "shape": [len(predictions), len(classes)],
                "datatype": "FP64",
                "data": proba.ravel(),
            },
        }
        answer: dict[str, Any] = {
            "model_name": model_name,
            "model_version": served.version,
            "outputs": [outputs[n] for n in wanted],
            "parameters": {"classes": classes},
        }
        if "id" in extras:
            answer["id"] = extras["id"]
        return respond(answer, headers={"x-model-version": served.version})

    out = [
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2", server_metadata, methods=["GET"]),
    ]
    for base in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        out += [
            Route(base, model_metadata, methods=["GET"]),
            Route(f"{base}/ready", model_ready, methods=["GET"]),
            Route(f"{base}/infer", infer_route, methods=["POST"]),
        ]
    return out


def _wanted_outputs(payload: dict[str, Any]) -> list[str]:
    """The outputs a request asks for (``"outputs": [{"name": ...}]``), default both."""
    asked = payload.get("outputs")
    if asked is None:
        return ["predictions", "probabilities"]
    if not isinstance(asked, list) or not all(isinstance(o, dict) for o in asked):
        raise InvalidRequest(422, '"outputs" must be a list of {"name": ...}')
    names = [o.get("name") for o in asked]
    bad = [n for n in names if n not in ("predictions", "probabilities")]
    if bad:
        raise InvalidRequest(422, f"no output {bad[0]!r}; there are predictions, probabilities")
    return [str(n) for n in names]


def endpoint_label(path: str) -> str:
    """The route template of a V2 path for metrics labels (never the raw path)."""
    parts = path.split("/")
    if parts[:3] == ["", "v2", "health"] and len(parts) == 4 and parts[3] in ("live", "ready"):
        return path
    if path == "/v2":
        return path
    if parts[:3] == ["", "v2", "models"] and len(parts) >= 4:
        rest = parts[4:]
        prefix = "/v2/models/{name}"
        if rest[:1] == ["versions"] and len(rest) >= 2:
            prefix += "/versions/{version}"
            rest = rest[2:]
        if rest in ([], ["ready"], ["infer"]):
            return "/".join([prefix, *rest])
    return "other"
