"""Unit tests of continuous training: params, batch discovery, window, manifest, monitoring log."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from mlgate.config import Section
from mlgate.ct import monitoring
from mlgate.ct.batches import (
    BatchEntry,
    Manifest,
    list_batches,
    new_batches,
    parse_manifest,
    select_window,
    training_frame,
)
from mlgate.ct.cycle import branch_name, is_regression, next_patch
from mlgate.ct.params import CtParams
from mlgate.errors import ConfigError, DataError
from mlgate.gate import GateResult, Revision, RuleResult
from mlgate.ml.dataset import DataParams


def _ct(**data: object) -> CtParams:
    return CtParams.from_section(Section(dict(data), file="params.yaml", where="ct"))


def test_params_defaults_and_validation() -> None:
    p = _ct()
    assert (p.source, p.window, p.mode, p.window_label) == ("data/incoming", None, "pr", "all")
    assert _ct(window=3, mode="release").window == 3
    with pytest.raises(ConfigError, match=r"params.yaml: ct.window: expected \"all\""):
        _ct(window="three")
    with pytest.raises(ConfigError, match=r"ct\.mode: expected one of pr, release"):
        _ct(mode="yolo")
    with pytest.raises(ConfigError, match=r"ct\.source"):
        _ct(source="../elsewhere")
    with pytest.raises(ConfigError, match=r"ct\.sources: unknown key"):
        _ct(sources="x")


def test_params_name_every_missing_key_with_an_example() -> None:
    from mlgate.ct.params import REQUIRED, require

    with pytest.raises(ConfigError) as exc:
        require(CtParams(), model="text-classification")
    msg = str(exc.value)
    assert msg.startswith("params.yaml: no `ct:` section")
    for key in REQUIRED:
        assert f"ct.{key} (" in msg
    example = re.search(r"e\.g\. `(ct: .*?)`", msg)
    assert example is not None
    section = __import__("yaml").safe_load(example.group(1))["ct"]
    assert section["model"] == "text-classification"
    assert _ct(**section).missing() == []  # the example is a complete section

    partial = _ct(source="data/new", label="y", holdout={"fraction": 0.2, "seed": 1})
    assert partial.missing() == ["model", "id_column", "schema"]
    with pytest.raises(ConfigError, match=r"^params.yaml: ct: missing keys; .*ct\.model \("):
        require(partial)
    with pytest.raises(ConfigError, match=r"ct\.holdout\.fraction"):
        _ct(holdout={"fraction": 2, "seed": 1})


def test_the_reference_project_gives_ct_its_own_keys() -> None:
    """ct reads only ct:; the reference's values are YAML aliases of its pipeline's."""
    import yaml

    from mlgate.ct.cycle import Config
    from mlgate.git import Repo

    root = Path(__file__).resolve().parents[2]
    params = yaml.safe_load((root / "params.yaml").read_text())
    ct, data = params["ct"], params["data"]
    assert (ct["label"], ct["id_column"], ct["reference"]) == (
        data["target"],
        data["id_column"],
        data["path"],
    )
    assert ct["holdout"] == {"fraction": data["eval_fraction"], "seed": data["split_seed"]}
    assert ct["slices"] == params["evaluate"]["slices"]
    assert ct["schema"] == params["validate"]["schema"]
    config = Config.load(Repo.find(root))
    assert config.data == DataParams.from_section(Section(data, file="p", where="data"))
    assert config.evaluate.threshold == params["evaluate"]["threshold"]
    assert config.thresholds.psi.fail == params["validate"]["psi"]["fail"]


def test_discovery_sorts_batch_files_and_ignores_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "data/incoming"
    folder.mkdir(parents=True)
    for name in ("b.parquet", "a.csv", "README.md", ".hidden.csv", "c.CSV"):
        (folder / name).write_text("x")
    (folder / "sub.csv").mkdir()
    assert list_batches(tmp_path, "data/incoming") == ["a.csv", "b.parquet", "c.CSV"]
    assert list_batches(tmp_path, "missing") == []


def test_window_and_new_batches() -> None:
    names = ["b3.csv", "b1.csv", "b2.csv"]
    assert select_window(names, None) == ["b1.csv", "b2.csv", "b3.csv"]
    assert select_window(names, 2) == ["b2.csv", "b3.csv"]
    assert select_window(names, 0) == []
    seen = Manifest("data/incoming", "1", (BatchEntry("b1.csv", "m", 5, False),))
    assert new_batches(names, seen) == ["b2.csv", "b3.csv"]  # seen but outside the window
    assert new_batches(names, None) == ["b1.csv", "b2.csv", "b3.csv"]


def test_manifest_round_trip_and_errors() -> None:
    m = Manifest("data/incoming", "all", (BatchEntry("a.csv", "abc", 3, True),))
    assert parse_manifest(json.loads(json.dumps(m.to_json())), source="x") == m
    with pytest.raises(DataError, match=r"x: batches\[0\]"):
        parse_manifest({"batches": [{"name": "a.csv"}]}, source="x")
    with pytest.raises(DataError, match="x: expected an object"):
        parse_manifest([], source="x")


def _data() -> DataParams:
    return DataParams("data/ref.csv", "diagnosis", "row_id", 0.3, 42)


def test_training_frame_uses_the_window_and_records_every_batch(tmp_path: Path) -> None:
    (tmp_path / "data/incoming").mkdir(parents=True)
    pd.DataFrame({"row_id": [1, 2], "x": [0.1, 0.2], "diagnosis": [0, 1]}).to_csv(
        tmp_path / "data/ref.csv", index=False
    )
    for i in (1, 2, 3):
        pd.DataFrame({"x": [float(i)], "diagnosis": [1], "row_id": [100 + i]}).to_csv(
            tmp_path / f"data/incoming/b{i}.csv", index=False
        )
    frame, manifest = training_frame(tmp_path, _data(), _ct(window=2))
    assert sorted(frame["row_id"]) == [1, 2, 102, 103]
    assert list(frame.columns) == ["row_id", "x", "diagnosis"]
    assert [(b.name, b.rows, b.trained) for b in manifest.batches] == [
        ("b1.csv", 1, False),
        ("b2.csv", 1, True),
        ("b3.csv", 1, True),
    ]
    assert manifest.window == "2"


def test_training_frame_refuses_reused_keys_and_other_columns(tmp_path: Path) -> None:
    (tmp_path / "data/incoming").mkdir(parents=True)
    pd.DataFrame({"row_id": [1], "x": [0.1], "diagnosis": [0]}).to_csv(
        tmp_path / "data/ref.csv", index=False
    )
    batch = tmp_path / "data/incoming/b1.csv"
    pd.DataFrame({"row_id": [1], "x": [0.5], "diagnosis": [1]}).to_csv(batch, index=False)
    with pytest.raises(DataError, match="repeat a row_id"):
        training_frame(tmp_path, _data(), _ct())
    pd.DataFrame({"row_id": [7], "y": [0.5], "diagnosis": [1]}).to_csv(batch, index=False)
    with pytest.raises(DataError, match=r"b1.csv: columns differ .*missing \['x'\]"):
        training_frame(tmp_path, _data(), _ct())


def test_monitoring_log_appends_once_per_version_and_batch(tmp_path: Path) -> None:
    path = tmp_path / "metrics/monitoring.json"
    assert monitoring.read_log(path) == []
    r1 = monitoring.Record("2026-11-25T10:00:00Z", "v1.0.0", "c" * 40, "b1.csv", 30, {"f1": 0.9})
    r2 = monitoring.Record("2026-11-25T11:00:00Z", "v1.0.0", "c" * 40, "b1.csv", 30, {"f1": 0.8})
    r3 = monitoring.Record("2026-11-26T10:00:00Z", "v1.1.0", "d" * 40, "b2.csv", 31, {"f1": 0.95})
    records = monitoring.append(monitoring.append(monitoring.append([], r1), r2), r3)
    assert records == [r2, r3]  # the rerun replaced its own record
    monitoring.write_log(path, records)
    assert monitoring.read_log(path) == records
    assert json.loads(path.read_text())["schema_version"] == 1
    path.write_text('{"records": [{"time": "t", "version": "v", "metrics": {"f1": "x"}}]}')
    with pytest.raises(DataError, match=r"records\[0\]"):
        monitoring.read_log(path)


def test_versions_branches_and_the_rollback_rule() -> None:
    assert next_patch([]) == "v0.1.0"
    assert next_patch(["v1.0.0", "v1.1.0", "v1.0.7", "v2.0.0-rc1"]) == "v1.1.1"
    assert branch_name("2026/11 batch#4.parquet", datetime(2026, 1, 2)) == "ct/20260102-11-batch-4"

    def result(*rules: tuple[str, str]) -> GateResult:
        return GateResult(
            baseline=Revision("a", "a"),
            candidate=Revision("b", "b"),
            rules=tuple(RuleResult("r", check, "f", "m", status, "") for check, status in rules),
        )

    assert is_regression(result(("max_regression", "fail")))
    assert is_regression(result(("slice_max_regression", "fail"), ("min", "pass")))
    # both models under an absolute floor on a hard batch is no reason to switch
    assert not is_regression(result(("min", "fail"), ("max_regression", "pass")))
    assert not is_regression(result(("max_regression", "inconclusive")))


def test_demo_params_and_batches() -> None:
    from mlgate.demo.sandbox import DRIFT_COLUMNS, _demo_params, cut_batches, split_reference

    root = Path(__file__).resolve().parents[2]
    text = _demo_params((root / "params.yaml").read_text())
    params = Section.root(__import__("yaml").safe_load(text), file="p")
    assert params.section("ct").string("mode") == "release"
    assert params.section("validate").section("psi").data["fail"] is None
    frame = pd.read_csv(root / "data/breast_cancer.csv")
    reference, held = split_reference(frame)
    assert len(reference) + len(held) == len(frame)
    assert not set(reference["row_id"]) & set(held["row_id"])
    batches = cut_batches(held, reference)
    assert list(batches) == ["batch_001.csv", "batch_002.csv", "batch_003.csv", "batch_004.csv"]
    assert (batches["batch_002.csv"]["mean_radius"] < 0).sum() == 4
    drifted = batches["batch_001.csv"]
    original = held.set_index("row_id").loc[drifted["row_id"], DRIFT_COLUMNS[0]].to_numpy()
    assert (drifted[DRIFT_COLUMNS[0]].to_numpy() > original).all()


def test_report_names_violations_and_json_is_stable() -> None:
    from mlgate.ct.cycle import BatchCheck, CycleResult
    from mlgate.ct.report import MARKER
    from mlgate.data.result import Finding, ValidationResult

    bad = ValidationResult(
        source="data/incoming/b2.csv",
        rows=30,
        columns=(),
        findings=(Finding("range", "mean_radius", "violation", 4, "4 values outside [0, 30.3]"),),
    )
    check = BatchCheck("b2.csv", bad, overlap=("7", "9"))
    assert not check.passed
    assert check.problems() == [
        "b2.csv: range mean_radius: 4 values outside [0, 30.3]",
        "b2.csv: duplicate row_id: 2 keys are already in the training data (e.g. 7, 9)",
    ]
    result = CycleResult(
        outcome="invalid_data",
        mode="pr",
        dry_run=False,
        message="invalid data: b2.csv: range mean_radius",
        new_batches=("b2.csv",),
        checks=(check,),
    )
    from dataclasses import replace

    from mlgate.ct.cycle import render

    result = replace(result, report=render(result))
    assert result.exit_code == 1
    assert result.report.startswith(MARKER)
    assert "new data failed validation" in result.report
    assert "mean\\_radius" in result.report and "duplicate `row_id`" in result.report
    doc = result.to_json()
    assert doc["schema_version"] == 1 and doc["outcome"] == "invalid_data"
    assert doc["validation"][0]["problems"][0].startswith("b2.csv: range mean_radius")
    assert json.loads(json.dumps(doc)) == doc
