"""Regression in the reference pipeline (``data.task: regression``): metrics against
scikit-learn, the predictions file, slices, estimators per task and their model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from mlgate.config import Section
from mlgate.errors import ConfigError
from mlgate.ml import regression
from mlgate.ml.dataset import (
    REGRESSION_TARGET,
    DataParams,
    feature_columns,
    load_regression_reference,
    split,
)
from mlgate.ml.evaluation import SliceSpec
from mlgate.ml.model import (
    TRUSTED_TYPES,
    TrainParams,
    build_estimator,
    dumps,
    file_types,
    importances,
    loads,
)

SKLEARN = {
    "rmse": lambda y, p: skm.root_mean_squared_error(y, p),
    "mae": skm.mean_absolute_error,
    "r2": skm.r2_score,
    "mape": skm.mean_absolute_percentage_error,
    "median_ae": skm.median_absolute_error,
}


def _section(data: dict[str, object], where: str) -> Section:
    return Section(data, file="params.yaml", where=where)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_metric_agrees_with_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(150, 70, size=97)
    p = y + rng.normal(0, 40, size=97)
    got = regression.score(y, p)
    assert list(got) == list(regression.METRICS)
    for name, fn in SKLEARN.items():
        assert got[name] == pytest.approx(fn(y, p), rel=1e-12, abs=1e-12), name


def test_metrics_are_vectorised_over_resamples_row_by_row() -> None:
    rng = np.random.default_rng(3)
    y, p = rng.normal(size=(5, 40)), rng.normal(size=(5, 40))
    for name, fn in regression.FUNCTIONS.items():
        rows = fn(y, p)
        assert rows.shape == (5,)
        for i in range(5):
            assert rows[i] == pytest.approx(SKLEARN[name](y[i], p[i]), rel=1e-12), name


def test_r2_of_a_constant_target_is_what_scikit_learn_says() -> None:
    y = np.full(6, 3.0)
    assert float(regression.r2(y, y)) == skm.r2_score(y, y) == 1.0
    assert float(regression.r2(y, y + 1)) == skm.r2_score(y, y + 1) == 0.0


def test_bootstrap_summary_brackets_the_point_value() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(150, 70, size=200)
    p = y + rng.normal(0, 40, size=200)
    out = regression.bootstrap_summary(y, p, samples=300, seed=0, confidence=0.95)
    point = regression.score(y, p)
    for name in regression.METRICS:
        assert out[name]["low"] < point[name] < out[name]["high"], name
        assert out[name]["std"] > 0
    again = regression.bootstrap_summary(y, p, samples=300, seed=0, confidence=0.95)
    assert again == out  # seeded


def test_predictions_file_is_row_id_y_true_y_pred_exactly(tmp_path: Path) -> None:
    preds = {
        "row_id": np.array([7, 2, 5]),
        "y_true": np.array([151.0, 75.0, 0.1]),
        "y_pred": np.array([140.123457, 80.5, -3.25]),
    }
    path = tmp_path / "predictions.csv"
    regression.write_predictions(preds, str(path))
    lines = path.read_text().splitlines()
    assert lines == ["row_id,y_true,y_pred", "2,75.0,80.5", "5,0.1,-3.25", "7,151.0,140.123457"]
    back = np.loadtxt(path, delimiter=",", skiprows=1)
    assert back[:, 2].tolist() == [80.5, -3.25, 140.123457]  # the numbers the metrics used


def test_slices_score_each_bin_with_rows() -> None:
    import pandas as pd

    frame = pd.DataFrame({"bmi": [20.0, 22.0, 27.0, 31.0, 45.0]})
    y = np.array([100.0, 110.0, 150.0, 200.0, 300.0])
    p = np.array([90.0, 120.0, 150.0, 180.0, 250.0])
    out = regression.slice_scores(frame, y, p, (SliceSpec("bmi", (0, 25, 30, 40)),))
    assert out == {
        "bmi=[0,25)": {"n": 2, "rmse": 10.0, "mae": 10.0},
        "bmi=[25,30)": {"n": 1, "rmse": 0.0, "mae": 0.0},
        "bmi=[30,40)": {"n": 1, "rmse": 20.0, "mae": 20.0},
    }


def test_data_task_is_checked_and_defaults_to_binary() -> None:
    base = {
        "path": "d.csv",
        "target": "y",
        "id_column": "row_id",
        "eval_fraction": 0.3,
        "split_seed": 1,
    }
    assert DataParams.from_section(_section(base, "data")).task == "binary"
    regression_data = DataParams.from_section(_section({**base, "task": "regression"}, "data"))
    assert regression_data.task == "regression"
    with pytest.raises(ConfigError) as bad:
        DataParams.from_section(_section({**base, "task": "ranking"}, "data"))
    assert str(bad.value) == (
        'params.yaml: data.task: expected one of binary, regression, got "ranking"'
    )


def test_a_classifier_is_refused_for_a_regression_task() -> None:
    with pytest.raises(ConfigError) as bad:
        TrainParams.from_section(
            _section({"model": "logistic_regression", "random_state": 0}, "train"),
            task="regression",
        )
    assert "train.model: expected one of ridge, random_forest, gradient_boosting" in str(bad.value)
    with pytest.raises(ConfigError):
        TrainParams.from_section(_section({"model": "ridge", "random_state": 0}, "train"))


def test_the_diabetes_table_ships_with_scikit_learn() -> None:
    frame = load_regression_reference()
    assert frame.shape == (442, 12)
    assert list(frame.columns)[:3] == ["row_id", "age", "sex"]
    assert list(frame.columns)[-1] == REGRESSION_TARGET
    assert frame["row_id"].is_unique and frame[REGRESSION_TARGET].between(25, 346).all()


@pytest.mark.parametrize("kind", ["ridge", "random_forest", "gradient_boosting"])
def test_each_regressor_fits_saves_and_loads_under_the_allow_list(kind: str) -> None:
    """Every type a regressor's file names is on the reviewed list, none of them a function
    (skops stores callables as function nodes: none may appear), and it loads back."""
    import io
    import json
    import zipfile

    frame = load_regression_reference()
    data = DataParams("d.csv", REGRESSION_TARGET, "row_id", 0.3, 42, task="regression")
    train, held = split(frame, id_column="row_id", fraction=0.3, seed=42)
    features = feature_columns(train, data)
    params = TrainParams.from_section(
        _section({"model": kind, "random_state": 0, "n_estimators": 20}, "train"),
        task="regression",
    )
    model = build_estimator(params).fit(train[features], train[REGRESSION_TARGET])
    blob = dumps(model)
    assert file_types(blob, kind) <= set(TRUSTED_TYPES)
    schema = zipfile.ZipFile(io.BytesIO(blob)).read("schema.json").decode()
    assert "FunctionNode" not in schema and "MethodNode" not in schema
    assert json.loads(schema)  # a readable schema
    loaded = loads(blob, kind)
    refit = build_estimator(params).fit(train[features], train[REGRESSION_TARGET])
    assert dumps(refit) == blob  # canonical: `dvc repro` in a clone gives the same file
    assert np.array_equal(loaded.predict(held[features]), model.predict(held[features]))
    assert (
        float(regression.r2(held[REGRESSION_TARGET].to_numpy(), model.predict(held[features])))
        > 0.2
    )
    ranked = importances(model, features)["importance"]
    values = [float(r["importance"]) for r in ranked]
    assert len(values) == len(features) and values == sorted(values, reverse=True)
