"""Stage `validate`: check the raw data, then write the deterministic train/eval split."""

from __future__ import annotations

import sys

from mlgate.config import load_params
from mlgate.fileio import write_json
from mlgate.ml import dataset
from mlgate.ml.checks import check_columns
from mlgate.stage import run_stage


def main() -> int:
    params = load_params()
    p = dataset.DataParams.from_section(params.section("data"))
    frame = dataset.read_table(p.path)
    problems = check_columns(frame, source=p.path)
    for problem in problems:
        print(f"validate: {problem}", file=sys.stderr)
    write_json("metrics/validation.json", {"rows": len(frame), "violations": len(problems)})
    if problems:
        return 1
    train, evaluation = dataset.split(
        frame, id_column=p.id_column, fraction=p.eval_fraction, seed=p.split_seed
    )
    dataset.write_parquet(train, "data/prepared/train.parquet")
    dataset.write_parquet(evaluation, "data/prepared/eval.parquet")
    print(f"validate: {len(frame)} rows ok; {len(train)} train, {len(evaluation)} eval")
    return 0


if __name__ == "__main__":
    run_stage("validate", main)
