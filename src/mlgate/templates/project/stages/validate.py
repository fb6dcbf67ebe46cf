"""Stage `validate`: check the raw data against the committed schema and reference profile
(``data/schema.yaml``, ``data/reference_profile.json``; see ``mlgate.data``), write
``metrics/validation.json`` (counts, drift maxima) and ``metrics/validation_columns.json``
(per-column figures, findings), then the deterministic train/eval split.

Exit 1 (the pipeline stops) on a schema violation or drift beyond a ``fail`` threshold.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlgate.config import load_params
from mlgate.ct.batches import MANIFEST_PATH, training_frame, write_manifest
from mlgate.ct.params import CtParams
from mlgate.data.result import columns_file, split_metrics
from mlgate.data.validate import load_inputs, parse_settings, validate_file
from mlgate.fileio import write_json
from mlgate.ml import dataset
from mlgate.stage import run_stage

VALIDATION = "metrics/validation.json"


def main() -> int:
    params = load_params()
    p = dataset.DataParams.from_section(params.section("data"))
    settings = parse_settings(params.optional_section("validate"))
    schema, profile = load_inputs(settings.schema, settings.profile)
    # continuous training: the reference data plus the batches in the window (params ct:)
    frame, manifest = training_frame(
        Path("."), p, CtParams.from_section(params.optional_section("ct"))
    )
    source = p.path
    if manifest.trained:
        source = "data/prepared/training.parquet"
        dataset.write_parquet(frame, source)
    write_manifest(MANIFEST_PATH, manifest)
    result = validate_file(source, schema=schema, profile=profile, thresholds=settings.thresholds)
    # counts and drift maxima are the DVC metric; the per-column table and findings go beside
    metrics, details = split_metrics(result.to_metrics())
    write_json(VALIDATION, metrics)
    write_json(columns_file(VALIDATION), details)
    for finding in result.findings:
        print(f"validate: {finding.level}: {finding.describe()}", file=sys.stderr)
    if not result.passed:
        print(f"validate: {source}: {len(result.violations)} violations", file=sys.stderr)
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
