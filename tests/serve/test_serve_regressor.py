"""Serving a regressor (the regression reference project's model): the probe accepts one
number per row, /predict and the Open Inference Protocol answer with the predicted values,
over real loopback HTTP, in this process and from the array path."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from mlgate.config import Section
from mlgate.ml.dataset import DataParams, feature_columns, load_regression_reference
from mlgate.ml.model import TrainParams, build_estimator, dumps, loads
from mlgate.serve.app import create_app
from mlgate.serve.fast import array_ready
from mlgate.serve.metrics import ServeMetrics
from mlgate.serve.probe import check_model, model_outputs, probe_file
from mlgate.serve.state import Served, ServingState
from mlgate.serve.validation import from_features
from tests.serve_support import running

DATA = DataParams("d.csv", "progression", "row_id", 0.3, 42, task="regression")


@lru_cache(maxsize=4)
def regressor_bytes(kind: str = "ridge") -> bytes:
    frame = load_regression_reference()
    params = TrainParams.from_section(
        Section({"model": kind, "random_state": 0, "n_estimators": 10}, file="p", where="train"),
        task="regression",
    )
    features = feature_columns(frame, DATA)
    return dumps(build_estimator(params).fit(frame[features], frame[DATA.target]))


def rows() -> list[dict[str, float]]:
    frame = load_regression_reference().iloc[:3]
    return [
        {k: float(v) for k, v in r.items()}
        for r in frame[feature_columns(frame, DATA)].to_dict("records")
    ]


def served(model: Any, *, fast: bool) -> Served:
    features = [str(n) for n in model.feature_names_in_]
    return Served(
        version="v1.0.0",
        commit="c" * 40,
        sha256="d" * 64,
        loaded_at=datetime(2026, 1, 1, tzinfo=UTC),
        model=model,
        schema=from_features(features, source="test schema"),
        classes=(),
        takes_array=fast and array_ready(model, features),
    )


@pytest.fixture
def server() -> Iterator[tuple[httpx.Client, ServingState]]:
    state = ServingState()
    app = create_app(state=state, metrics=ServeMetrics(), max_rows=5, model_name="progression")
    with running(app) as url, httpx.Client(base_url=url) as client:
        yield client, state


@pytest.mark.parametrize("kind", ["ridge", "gradient_boosting"])
def test_the_probe_accepts_a_regressor_from_its_skops_file(kind: str, tmp_path: Path) -> None:
    import hashlib

    data = regressor_bytes(kind)
    path = tmp_path / "model.skops"
    path.write_bytes(data)
    result = probe_file(str(path), hashlib.sha256(data).hexdigest(), {})
    assert result.ok, result.message
    assert result.classes == () and "bmi" in result.features


def test_the_probe_refuses_what_gives_no_number_per_row() -> None:
    class Flat:
        feature_names_in_ = np.array(["a"])

        def predict(self, frame: Any) -> Any:
            return np.array([[1.0, 2.0], [3.0, 4.0]])

    class Nan(Flat):
        def predict(self, frame: Any) -> Any:
            return np.array([np.nan, 1.0])

    class Mute:
        feature_names_in_ = np.array(["a"])

    assert "one finite number per row (shape (2, 2))" in check_model(Flat(), {}).message
    assert "one finite number per row (shape (2,))" in check_model(Nan(), {}).message
    assert check_model(Mute(), {}).message == "model has neither predict_proba nor predict"
    assert not check_model(Mute(), {}).ok


@pytest.mark.parametrize(
    ("kind", "fast"),
    [("ridge", False), ("gradient_boosting", False), ("gradient_boosting", True)],
    ids=["ridge", "trees", "trees-array"],
)
def test_predict_answers_with_the_predicted_values(
    server: tuple[httpx.Client, ServingState], kind: str, fast: bool
) -> None:
    """(A ridge keeps the DataFrame path: on an array its values differ in the last bits,
    and the array path is taken only for identical answers.)"""
    client, state = server
    model = loads(regressor_bytes(kind), "test")
    state.current = served(model, fast=fast)
    assert state.current.takes_array is fast
    answer = client.post("/predict", json={"rows": rows()})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = loads(regressor_bytes(kind), "test").predict(pd.DataFrame(rows()))
    assert set(body) == {"version", "predictions"} and body["version"] == "v1.0.0"
    assert np.allclose(body["predictions"], expected, rtol=1e-12)
    fresh = loads(regressor_bytes(kind), "test")
    assert model_outputs(fresh, pd.DataFrame(rows())).shape == (3, 1)


def test_the_open_inference_protocol_gives_fp64_predictions_only(
    server: tuple[httpx.Client, ServingState],
) -> None:
    client, state = server
    state.current = served(loads(regressor_bytes(), "test"), fast=True)
    meta = client.get("/v2/models/progression").json()
    assert meta["outputs"] == [{"name": "predictions", "datatype": "FP64", "shape": [-1]}]
    names = list(rows()[0])
    matrix = [[r[n] for n in names] for r in rows()]
    body = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [3, len(names)], "data": matrix}]}
    answer = client.post("/v2/models/progression/infer", json=body)
    assert answer.status_code == 200, answer.text
    (out,) = answer.json()["outputs"]
    expected = client.post("/predict", json={"rows": rows()}).json()["predictions"]
    assert out == {"name": "predictions", "shape": [3], "datatype": "FP64", "data": expected}


def test_a_worker_answers_with_one_column_of_values() -> None:
    """The worker's answer frame for a regressor: rows x 1 float64 values."""
    from mlgate.serve import workers

    model = loads(regressor_bytes(), "test")
    features = [str(n) for n in model.feature_names_in_]
    held = workers._Model(model=model, features=features, takes_array=False)
    matrix = np.array([[r[f] for f in features] for r in rows()], dtype=np.float64)
    payload = matrix.tobytes()
    header = (workers.MATRIX, 7, 3, len(features), len(payload))
    frame = workers._predict({7: held}, header, payload)
    status, n, width, _size = struct.unpack_from("<IIIQ", frame)
    assert (status, n, width) == (workers.OK, 3, 1)
    values = np.frombuffer(frame[struct.calcsize("<IIIQ") :], dtype=np.float64)
    assert np.allclose(values, model.predict(pd.DataFrame(matrix, columns=features)), rtol=1e-12)
