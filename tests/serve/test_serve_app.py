"""The HTTP endpoints over real loopback HTTP (uvicorn on 127.0.0.1, an httpx client)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from mlgate.ml.model import loads
from mlgate.serve.app import create_app
from mlgate.serve.metrics import ServeMetrics
from mlgate.serve.state import ReconcileResult, Served, ServingState
from mlgate.serve.validation import from_features
from tests.serve_support import example_row, feature_names, model_bytes, running


def served(version: str, model: Any = None, C: float = 1.0, *, fast: bool = False) -> Served:
    from mlgate.serve.fast import array_ready

    model = model if model is not None else loads(model_bytes(C), "test")
    return Served(
        version=version,
        commit="c" * 40,
        sha256="d" * 64,
        loaded_at=datetime(2026, 1, 1, tzinfo=UTC),
        model=model,
        schema=from_features(feature_names(), source="test schema"),
        classes=(0, 1),
        takes_array=fast and array_ready(model, feature_names()),
    )


@pytest.fixture
def server() -> Iterator[tuple[str, ServingState, ServeMetrics]]:
    state, metrics = ServingState(), ServeMetrics()
    with running(create_app(state=state, metrics=metrics, max_rows=5)) as url:
        yield url, state, metrics


def test_not_ready_until_a_model_is_loaded(
    server: tuple[str, ServingState, ServeMetrics],
) -> None:
    url, state, _ = server
    state.last_result = ReconcileResult(
        datetime(2026, 1, 1, tzinfo=UTC), "no_release", reason="no_release", message="none yet"
    )
    with httpx.Client(base_url=url) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["last_reconcile"]["outcome"] == "no_release"
        assert client.post("/predict", json={"rows": [example_row()]}).status_code == 503
        assert client.get("/version").json()["version"] is None
        state.current = served("v1.0.0")
        assert client.get("/readyz").json() == {"ready": True, "version": "v1.0.0"}


@pytest.mark.parametrize("fast", [False, True], ids=["dataframe", "array"])
def test_predict_answers_with_predictions_probabilities_and_version(
    server: tuple[str, ServingState, ServeMetrics], fast: bool
) -> None:
    url, state, _ = server
    state.current = served("v1.0.0", fast=fast)
    assert state.current.takes_array is fast
    rows = [example_row(), example_row(0.5)]
    with httpx.Client(base_url=url) as client:
        answer = client.post("/predict", json={"rows": rows})
    assert answer.status_code == 200
    assert answer.headers["x-model-version"] == "v1.0.0"
    body = answer.json()
    assert body["version"] == "v1.0.0" and body["classes"] == [0, 1]
    import pandas as pd

    expected = loads(model_bytes(1.0), "test").predict_proba(pd.DataFrame(rows))
    assert np.allclose(body["probabilities"], expected)
    assert body["predictions"] == expected.argmax(axis=1).tolist()


def test_bad_requests_are_422_or_413_and_counted(
    server: tuple[str, ServingState, ServeMetrics],
) -> None:
    url, state, metrics = server
    state.current = served("v1.0.0")
    good = example_row()
    with httpx.Client(base_url=url) as client:
        missing = dict(good)
        del missing["worst_area"]
        answer = client.post("/predict", json={"rows": [good, missing]})
        assert answer.status_code == 422
        assert answer.json() == {
            "error": "missing column 'worst_area'",
            "row": 1,
            "column": "worst_area",
        }
        body = json.dumps({"rows": [good]}).replace(str(good["mean_area"]), "NaN", 1)
        answer = client.post("/predict", content=body)
        assert answer.status_code == 422
        assert answer.json() == {
            "error": "mean_area: NaN is not a finite number",
            "row": 0,
            "column": "mean_area",
        }
        answer = client.post("/predict", json={"rows": [{**good, "mean_area": "big"}]})
        assert (answer.status_code, answer.json()["column"]) == (422, "mean_area")
        assert client.post("/predict", json={"rows": [good] * 6}).status_code == 413
        huge = b'{"rows": [' + b" " * 70000 + b"]}"
        assert client.post("/predict", content=huge).status_code == 413
        text = client.get("/metrics").text
    assert 'mlgate_http_requests_total{endpoint="/predict",status="422"} 3.0' in text
    assert 'mlgate_http_errors_total{endpoint="/predict",status="413"} 2.0' in text
    assert 'mlgate_http_request_duration_seconds_count{endpoint="/predict"} 5.0' in text
    assert metrics.registry.get_sample_value("mlgate_predicted_rows_total") == 0


def test_version_and_metrics_show_a_rejected_candidate(
    server: tuple[str, ServingState, ServeMetrics],
) -> None:
    url, state, metrics = server
    state.current = served("v1.0.0")
    metrics.served(state.current)
    rejection = ReconcileResult(
        datetime(2026, 1, 1, tzinfo=UTC),
        "rejected",
        commit="e" * 40,
        version="v1.1.0",
        reason="hash_mismatch",
        message="sha256 mismatch",
    )
    state.last_result = state.last_rejection = rejection
    metrics.rejected_candidate("v1.1.0", "e" * 40, "hash_mismatch")
    with httpx.Client(base_url=url) as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/no/such/page").status_code == 404
        version = client.get("/version").json()
        text = client.get("/metrics").text
    assert version["version"] == "v1.0.0" and version["sha256"] == "d" * 64
    assert version["loaded_at"] == "2026-01-01T00:00:00Z"
    assert version["last_rejected"]["reason"] == "hash_mismatch"
    assert 'mlgate_reload_failures_total{reason="hash_mismatch"} 1.0' in text
    assert (
        f'mlgate_model_info{{commit="{"c" * 40}",sha256="{"d" * 64}",version="v1.0.0"}} 1.0' in text
    )
    assert "mlgate_ready 1.0" in text
    assert 'endpoint="other",status="404"' in text


def test_a_client_gone_mid_body_is_not_an_error(
    server: tuple[str, ServingState, ServeMetrics],
) -> None:
    import socket
    import time

    url, state, metrics = server
    state.current = served("v1.0.0")
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b'content-length: 1000\r\n\r\n{"rows": [{"mean_radius": 1'
        )
        time.sleep(0.2)  # the handler is reading the body when the client goes away
    samples = "mlgate_http_requests_total"
    deadline = time.monotonic() + 5
    while (
        metrics.registry.get_sample_value(samples, {"endpoint": "/predict", "status": "499"}) != 1
    ):
        assert time.monotonic() < deadline, metrics.render().decode()
        time.sleep(0.02)
    text = metrics.render().decode()
    assert "mlgate_http_errors_total{" not in text  # neither a 500 nor a 499 counts as one
    with httpx.Client(base_url=url) as client:  # and the server carries on
        assert client.post("/predict", json={"rows": [example_row()]}).status_code == 200


def test_version_shows_no_paths_unless_asked() -> None:
    state, metrics = ServingState(), ServeMetrics()
    message = (
        "v2: object 12ab not in DVC remote /srv/data/remote; "
        "/home/me/.cache/mlgate/serve/models/abc.skops: sha256 is 0, s3://bucket/key/12ab"
    )
    state.last_result = state.last_rejection = ReconcileResult(
        datetime(2026, 1, 1, tzinfo=UTC), "rejected", reason="missing_object", message=message
    )
    app = create_app(state=state, metrics=metrics, max_rows=5)
    with running(app) as url, httpx.Client(base_url=url) as client:
        shown = client.get("/version").json()["last_rejected"]["message"]
        ready = client.get("/readyz").json()
    assert shown == (
        "v2: object 12ab not in DVC remote .../remote; .../abc.skops: sha256 is 0, <url>"
    )
    assert "/srv" not in json.dumps(ready) and "last reconcile: missing_object" in ready["reason"]
    app = create_app(state=state, metrics=metrics, max_rows=5, debug_info=True)
    with running(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/version").json()["last_rejected"]["message"] == message
        assert client.get("/readyz").json()["last_reconcile"]["message"] == message


class SlowModel:
    """Wraps a model; ``predict_proba`` waits on an event (an in-flight request)."""

    def __init__(self, inner: Any, gate: threading.Event) -> None:
        self.inner, self.gate = inner, gate
        self.entered = threading.Event()

    def predict_proba(self, frame: Any) -> Any:
        self.entered.set()
        self.gate.wait(10)
        return self.inner.predict_proba(frame)


def test_in_flight_request_finishes_on_the_model_it_started_with() -> None:
    gate = threading.Event()
    state, metrics = ServingState(), ServeMetrics()
    slow = SlowModel(loads(model_bytes(1.0), "t"), gate)
    state.current = served("v1.0.0", slow)
    with running(create_app(state=state, metrics=metrics, max_rows=5)) as url:
        results: list[httpx.Response] = []
        worker = threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{url}/predict", json={"rows": [example_row()]}, timeout=20)
            )
        )
        worker.start()
        assert slow.entered.wait(20)  # the request is in flight, inside predict_proba
        state.current = served("v2.0.0", C=0.01)  # the swap
        gate.set()
        worker.join(20)
        assert results[0].json()["version"] == "v1.0.0"
        after = httpx.post(f"{url}/predict", json={"rows": [example_row()]})
        assert after.json()["version"] == "v2.0.0"


def test_array_path_only_for_models_that_answer_the_same() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from mlgate.ml import dataset
    from mlgate.serve.fast import array_ready

    frame = dataset.load_reference()
    names = list(feature_names())
    by_name = Pipeline(
        [
            ("cols", ColumnTransformer([("s", StandardScaler(), names)])),
            ("clf", LogisticRegression()),
        ]
    ).fit(frame[names], frame[dataset.TARGET])
    assert not array_ready(by_name, names)
    assert list(by_name.feature_names_in_) == names  # left as it was
    plain = loads(model_bytes(1.0), "test")
    assert not array_ready(plain, list(reversed(names)))  # another order: refused
    assert array_ready(plain, names)
    expected = loads(model_bytes(1.0), "test").predict_proba(frame[names])
    assert np.array_equal(plain.predict_proba(frame[names].to_numpy()), expected)
