"""Stage `evaluate`: score the model on the eval split; write metrics, slices and curves."""

from __future__ import annotations

from typing import Any

from mlgate.config import load_params
from mlgate.fileio import write_json
from mlgate.ml import dataset, evaluation, model, regression, scoring
from mlgate.stage import run_stage


def main() -> int:
    params = load_params()
    d = dataset.DataParams.from_section(params.section("data"))
    e = evaluation.EvaluateParams.from_section(params.section("evaluate"))
    frame = dataset.read_table("data/prepared/eval.parquet")
    estimator = model.load("models/model.skops")
    if d.task == "regression":
        return _regression(estimator, frame, d, e)
    preds = evaluation.predict(estimator, frame, d, threshold=e.threshold)
    y, p, s = preds["y_true"], preds["y_pred"], preds["y_score"]
    write_json("metrics/scores.json", scoring.score(y, p, s))
    write_json(
        "metrics/bootstrap.json",
        evaluation.bootstrap_summary(
            y, p, s, samples=e.bootstrap_samples, seed=e.seed, confidence=e.confidence
        ),
    )
    write_json("metrics/slices.json", evaluation.slice_scores(frame, y, p, s, e.slices))
    roc, prc = evaluation.curves(y, s)
    write_json("metrics/plots/roc.json", {"roc": roc})
    write_json("metrics/plots/prc.json", {"prc": prc})
    evaluation.write_predictions(preds, "metrics/predictions.csv")
    print(f"evaluate: {len(frame)} rows")
    return 0


def _regression(
    estimator: Any, frame: Any, d: dataset.DataParams, e: evaluation.EvaluateParams
) -> int:
    """data.task regression: the same files; predictions.csv is row_id,y_true,y_pred."""
    preds = regression.predict(estimator, frame, d)
    y, p = preds["y_true"], preds["y_pred"]
    write_json("metrics/scores.json", regression.score(y, p))
    write_json(
        "metrics/bootstrap.json",
        regression.bootstrap_summary(
            y, p, samples=e.bootstrap_samples, seed=e.seed, confidence=e.confidence
        ),
    )
    write_json("metrics/slices.json", regression.slice_scores(frame, y, p, e.slices))
    regression.write_predictions(preds, "metrics/predictions.csv")
    print(f"evaluate: {len(frame)} rows (regression)")
    return 0


if __name__ == "__main__":
    run_stage("evaluate", main)
