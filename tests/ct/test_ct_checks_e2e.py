"""End to end: CT's post-deploy check when the deployed model holds up, and CT's duplicate
``row_id`` check (against the training data and between new batches).

Real git + DVC projects with a bare origin and a DVC remote, ``mlgate`` as a subprocess; the
helpers are those of tests/ct/test_ct_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlgate.ct.scoring import held_out_rows
from mlgate.ml.dataset import DataParams
from tests.conftest import git, mlgate, run
from tests.ct.test_ct_e2e import _batch, _ct, _setup

pytestmark = pytest.mark.slow


def _set_c(proj: Path, env: dict[str, str], c: float, message: str) -> None:
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["train"]["C"] = c
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "--quiet"], cwd=proj, env=env)
    git("add", "params.yaml", "dvc.lock", "metrics", cwd=proj, env=env)
    git("commit", "-q", "-m", message, cwd=proj, env=env)


def test_a_better_deployed_model_is_kept_and_its_held_out_rows_are_never_trained_on(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    proj = reproduced_project
    # v1.0.0: a heavily regularised model (badly calibrated); v1.1.0: the usual, better one
    _set_c(proj, env, 0.0005, "over-regularised")
    origin = _setup(proj, tmp_path, env)
    _set_c(proj, env, 1.0, "back to C=1")
    git("tag", "v1.1.0", cwd=proj, env=env)
    released = mlgate("release", "v1.1.0", "--push", cwd=proj, env=env)
    assert released.returncode == 0, released.stdout + released.stderr

    batch = _batch(proj, "batch_001.csv", 200, 400)
    code, out = _ct(proj, env, "--mode", "release")
    assert code == 0, out["message"]
    # the post-deploy check ran against the predecessor, passed, and nothing was rolled back
    assert out["production"] == "v1.1.0" and out["post_deploy"]["predecessor"] == "v1.0.0"
    assert out["post_deploy"]["gate"]["verdict"] == "pass", out["post_deploy"]["gate"]["rules"]
    assert out["outcome"] != "rolled_back" and out["rollback"] is None, out["message"]
    kinds = [
        e["kind"]
        for e in json.loads(mlgate("history", "--json", cwd=proj, env=env).stdout)["deployments"]
    ]
    assert "rollback" not in kinds
    subject = git("--git-dir", str(origin), "log", "--format=%s", "main", cwd=proj, env=env)
    assert not any(line.startswith("rollback:") for line in subject.splitlines())

    # the cycle retrained on the batch: its held-out rows are in the eval split, not in train
    params = yaml.safe_load((proj / "params.yaml").read_text())["data"]
    data = DataParams(**params)
    held = set(held_out_rows(pd.read_csv(batch), data, source=batch.name)["row_id"])
    assert len(held) == out["held_out"]["rows"] > 20
    train = set(pd.read_parquet(proj / "data/prepared/train.parquet")["row_id"])
    evaluation = set(pd.read_parquet(proj / "data/prepared/eval.parquet")["row_id"])
    batch_ids = set(pd.read_csv(batch)["row_id"])
    assert batch_ids & train, "the batch was trained on"
    assert held <= evaluation and held.isdisjoint(train)


def test_duplicate_row_ids_stop_the_cycle_naming_each_batch(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    proj = reproduced_project
    _setup(proj, tmp_path, env)
    head = git("rev-parse", "HEAD", cwd=proj, env=env)

    def reuse_reference_ids(i: int, row: dict[str, str]) -> None:
        if i < 4:
            row["row_id"] = str(i)  # rows 0-3 of the reference data, trained on already

    _batch(proj, "batch_001.csv", 0, 150)
    first = pd.read_csv(proj / "data/incoming/batch_001.csv")

    def reuse_batch_ids(i: int, row: dict[str, str]) -> None:
        if i < 3:
            row["row_id"] = str(first["row_id"][i])  # new rows of batch_001, this same cycle

    _batch(proj, "batch_002.csv", 150, 300, reuse_batch_ids)
    _batch(proj, "batch_003.csv", 300, 450, reuse_reference_ids)
    code, out = _ct(proj, env, "--mode", "release")
    assert (code, out["outcome"]) == (1, "invalid_data"), out["message"]
    checks = {c["batch"]: c for c in out["validation"]}
    assert checks["batch_001.csv"]["passed"] is True
    assert not checks["batch_002.csv"]["passed"] and not checks["batch_003.csv"]["passed"]
    assert any("duplicate row_id: 3 keys" in p for p in checks["batch_002.csv"]["problems"])
    assert any(
        "duplicate row_id: 4 keys are already in the training data (e.g. 0, 1, 2, 3)" in p
        for p in checks["batch_003.csv"]["problems"]
    )
    assert "duplicate row_id" in out["message"]
    assert git("rev-parse", "HEAD", cwd=proj, env=env) == head
    assert not (proj / "metrics/monitoring.json").exists()
