"""The Open Inference Protocol (KServe V2) endpoints, over real loopback HTTP.

The requests are what a V2 client (KServe's ``InferenceRESTClient``, tritonclient's HTTP
client, MLServer's ``mlserver infer``) sends: JSON tensors with name, shape, datatype and
row-major data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from mlgate.ml.model import loads
from mlgate.serve.app import create_app
from mlgate.serve.metrics import ServeMetrics
from mlgate.serve.state import Served, ServingState
from mlgate.serve.v2 import endpoint_label
from mlgate.serve.validation import Column, RequestSchema, from_features
from tests.serve_support import example_row, feature_names, model_bytes, running


def served(version: str = "v1.0.0", C: float = 1.0) -> Served:
    return Served(
        version=version,
        commit="c" * 40,
        sha256="d" * 64,
        loaded_at=datetime(2026, 1, 1, tzinfo=UTC),
        model=loads(model_bytes(C), "test"),
        schema=from_features(feature_names(), source="test schema"),
        classes=(0, 1),
    )


@pytest.fixture
def server() -> Iterator[tuple[httpx.Client, ServingState, ServeMetrics]]:
    state, metrics = ServingState(), ServeMetrics()
    app = create_app(state=state, metrics=metrics, max_rows=5, model_name="cancer")
    with running(app) as url, httpx.Client(base_url=url) as client:
        yield client, state, metrics


def by_column(rows: list[dict[str, float]], datatype: str = "FP64") -> dict[str, Any]:
    return {
        "id": "req-1",
        "inputs": [
            {"name": n, "shape": [len(rows)], "datatype": datatype, "data": [r[n] for r in rows]}
            for n in feature_names()
        ],
    }


def as_matrix(rows: list[dict[str, float]], *, nested: bool = False) -> dict[str, Any]:
    matrix = [[r[n] for n in feature_names()] for r in rows]
    data: Any = matrix if nested else [v for row in matrix for v in row]
    return {
        "inputs": [
            {"name": "input-0", "shape": [len(rows), len(feature_names())], "datatype": "FP64",
             "data": data}
        ]
    }  # fmt: skip


def test_health_and_metadata_follow_the_protocol(
    server: tuple[httpx.Client, ServingState, ServeMetrics],
) -> None:
    client, state, _ = server
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 400  # 4xx is false, per the spec
    assert client.get("/v2/models/cancer/ready").json() == {"name": "cancer", "ready": False}
    assert client.get("/v2/models/cancer").status_code == 503
    state.current = served()
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/cancer/ready").status_code == 200
    assert client.get("/v2/models/cancer/versions/v1.0.0/ready").status_code == 200
    assert client.get("/v2/models/cancer/versions/v0.9.0/ready").status_code == 400
    assert client.get("/v2/models/other/ready").status_code == 404
    meta = client.get("/v2/models/cancer").json()
    assert meta["name"] == "cancer" and meta["versions"] == ["v1.0.0"]
    assert [i["name"] for i in meta["inputs"]] == list(feature_names())
    assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}
    assert meta["outputs"] == [
        {"name": "predictions", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert client.get("/v2").json()["name"] == "mlgate"
    assert client.get("/v2/models/other").status_code == 404


def test_infer_by_column_and_as_one_matrix_give_predict_s_answer(
    server: tuple[httpx.Client, ServingState, ServeMetrics],
) -> None:
    client, state, metrics = server
    state.current = served()
    rows = [example_row(), example_row(0.5), example_row(2.0)]
    expected = client.post("/predict", json={"rows": rows}).json()
    for body in (by_column(rows), as_matrix(rows), as_matrix(rows, nested=True)):
        answer = client.post("/v2/models/cancer/infer", json=body)
        assert answer.status_code == 200, answer.text
        out = answer.json()
        assert (out["model_name"], out["model_version"]) == ("cancer", "v1.0.0")
        assert answer.headers["x-model-version"] == "v1.0.0"
        predictions, probabilities = out["outputs"]
        assert predictions == {
            "name": "predictions",
            "shape": [3],
            "datatype": "INT64",
            "data": expected["predictions"],
        }
        assert probabilities["shape"] == [3, 2] and probabilities["datatype"] == "FP64"
        table = np.reshape(probabilities["data"], probabilities["shape"])
        assert np.allclose(table, expected["probabilities"])
        assert out["parameters"] == {"classes": [0, 1]}
    assert client.post("/v2/models/cancer/infer", json=by_column(rows)).json()["id"] == "req-1"
    ints = by_column([{k: round(v) for k, v in example_row().items()}], "INT64")
    assert client.post("/v2/models/cancer/infer", json=ints).status_code == 200
    only = {**as_matrix(rows), "outputs": [{"name": "probabilities"}]}
    outputs = client.post("/v2/models/cancer/versions/v1.0.0/infer", json=only).json()["outputs"]
    assert [o["name"] for o in outputs] == ["probabilities"]
    assert client.post("/v2/models/cancer/versions/v2/infer", json=only).status_code == 404
    assert metrics.registry.get_sample_value("mlgate_predicted_rows_total") == 3 + 3 * 3 + 3 + 1 + 3
    text = metrics.render().decode()
    assert 'endpoint="/v2/models/{name}/infer",status="200"' in text
    assert 'endpoint="/v2/models/{name}/versions/{version}/infer",status="404"' in text


@pytest.mark.parametrize(
    ("mutate", "status", "words"),
    [
        (lambda b: b["inputs"].pop(), 422, "missing input 'worst_fractal_dimension'"),
        (lambda b: b["inputs"][0].update(name="nope"), 422, "unknown input 'nope'"),
        (lambda b: b["inputs"][0].update(datatype="BYTES"), 422, "takes FP64"),
        (lambda b: b["inputs"][0].update(shape=[2]), 422, "1 values for shape [2]"),
        (lambda b: b["inputs"][0].update(shape=[1, 2]), 422, "[rows] or [rows, 1]"),
        (lambda b: b["inputs"][3].update(data=[None]), 422, "must not be null"),
        (lambda b: b["inputs"][3].update(data=["x"]), 422, "expected a number"),
        (lambda b: b["inputs"][3].update(data=[10**400]), 422, "not a finite number"),
        (lambda b: b.update(outputs=[{"name": "logits"}]), 422, "no output 'logits'"),
        (lambda b: b.pop("inputs"), 422, "V2 inference request"),
    ],
)
def test_bad_inference_requests_are_4xx_with_an_error(
    server: tuple[httpx.Client, ServingState, ServeMetrics],
    mutate: Any,
    status: int,
    words: str,
) -> None:
    client, state, _ = server
    state.current = served()
    body = by_column([example_row()])
    mutate(body)
    answer = client.post("/v2/models/cancer/infer", json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


def test_matrix_shape_limits_and_non_finite_literals(
    server: tuple[httpx.Client, ServingState, ServeMetrics],
) -> None:
    client, state, _ = server
    state.current = served()
    body = as_matrix([example_row()] * 6)  # --max-rows is 5
    assert client.post("/v2/models/cancer/infer", json=body).status_code == 413
    body = as_matrix([example_row()])
    body["inputs"][0]["shape"] = [1, 29]
    answer = client.post("/v2/models/cancer/infer", json=body)
    assert answer.status_code == 422 and "[rows, 30]" in answer.json()["error"]
    text = httpx.Request("POST", "/", json=as_matrix([example_row()])).content.decode()
    first = str(example_row()["mean_radius"])
    answer = client.post("/v2/models/cancer/infer", content=text.replace(first, "NaN", 1))
    assert answer.status_code == 422 and "not a finite number" in answer.json()["error"]


def test_a_schema_with_text_columns_takes_bytes_inputs_and_no_matrix() -> None:
    from mlgate.serve.v2 import rows_from_inputs
    from mlgate.serve.validation import InvalidRequest

    schema = RequestSchema(
        (Column("size"), Column("colour", "str", allowed=frozenset({"red"}))), "s"
    )
    body = {
        "inputs": [
            {"name": "size", "shape": [2, 1], "datatype": "FP64", "data": [[1.0], [2.0]]},
            {"name": "colour", "shape": [2], "datatype": "BYTES", "data": ["red", "red"]},
        ]
    }
    assert rows_from_inputs(body, schema, max_rows=10) == [
        {"size": 1.0, "colour": "red"},
        {"size": 2.0, "colour": "red"},
    ]
    matrix = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}
    with pytest.raises(InvalidRequest, match="one input per column"):
        rows_from_inputs(matrix, schema, max_rows=10)


def test_metrics_labels_are_route_templates() -> None:
    assert endpoint_label("/v2/health/ready") == "/v2/health/ready"
    assert endpoint_label("/v2/models/x/infer") == "/v2/models/{name}/infer"
    assert endpoint_label("/v2/models/x/versions/v1/ready") == (
        "/v2/models/{name}/versions/{version}/ready"
    )
    assert endpoint_label("/v2/models/x/y/z") == "other"
    assert endpoint_label("/v2/anything") == "other"
