"""Stage `train`: fit the estimator named in params.yaml and save it with skops."""

from __future__ import annotations

from mlgate.config import load_params
from mlgate.fileio import write_json
from mlgate.ml import dataset, model
from mlgate.stage import run_stage


def main() -> int:
    params = load_params()
    d = dataset.DataParams.from_section(params.section("data"))
    t = model.TrainParams.from_section(params.section("train"), task=d.task)
    frame = dataset.read_table("data/prepared/train.parquet")
    features = dataset.feature_columns(frame, d)
    estimator = model.build_estimator(t).fit(frame[features], frame[d.target])
    model.save(estimator, "models/model.skops")
    write_json(
        "metrics/train.json",
        {
            "n_train": len(frame),
            "n_features": len(features),
            # accuracy for a classifier, R2 for a regressor (data.task)
            model.TRAIN_SCORE[d.task]: float(estimator.score(frame[features], frame[d.target])),
        },
    )
    write_json("metrics/plots/importance.json", model.importances(estimator, features))
    print(f"train: {t.model} on {len(frame)} rows, {len(features)} features")
    return 0


if __name__ == "__main__":
    run_stage("train", main)
