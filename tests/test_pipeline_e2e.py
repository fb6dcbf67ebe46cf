"""The reference pipeline end to end: `dvc repro` on a fresh copy, as in a fresh clone."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import copy_project, git, init_repo, run

pytestmark = pytest.mark.slow

SCORES = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")


def test_fresh_clone_repro_rebuilds_what_is_missing_then_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    proj = copy_project(tmp_path / "clone")
    init_repo(proj, env)

    first = run(["dvc", "repro"], cwd=proj, env=env)
    for stage in ("validate", "train"):  # their outputs are in no cache: built again
        assert f"Running stage '{stage}'" in first.stdout
    # train rebuilt the model byte for byte (canonical skops files), so evaluate's inputs
    # are those dvc.lock records and its committed metrics stand
    assert "Stage 'evaluate' didn't change, skipping" in first.stdout

    scores = json.loads((proj / "metrics/scores.json").read_text())
    assert set(SCORES) <= scores.keys()
    for name in SCORES:
        assert math.isfinite(scores[name])
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert 0.0 <= scores[name] <= 1.0
    labels = [
        int(line.split(",")[1])
        for line in (proj / "metrics/predictions.csv").read_text().splitlines()[1:]
    ]
    majority = max(sum(labels), len(labels) - sum(labels)) / len(labels)
    assert scores["accuracy"] > majority

    boot = json.loads((proj / "metrics/bootstrap.json").read_text())
    for name in SCORES:
        assert boot[name]["low"] <= scores[name] <= boot[name]["high"], name
        assert boot[name]["std"] > 0
    slices = json.loads((proj / "metrics/slices.json").read_text())
    assert sum(s["n"] for s in slices.values()) == len(labels)
    assert (proj / "models/model.skops").is_file()
    # the model is a DVC output, not in git
    assert "model.skops" in (proj / "models/.gitignore").read_text()

    second = run(["dvc", "repro"], cwd=proj, env=env)
    assert "Running stage" not in second.stdout
    status = run(["dvc", "status"], cwd=proj, env=env)
    assert "up to date" in status.stdout

    # the outputs match what the repository committed: the pipeline is deterministic
    committed = json.loads(git("show", "HEAD:metrics/scores.json", cwd=proj, env=env))
    assert committed == scores


def test_plots_render(reproduced_project: Path, env: dict[str, str]) -> None:
    out = run(["dvc", "plots", "show", "--json"], cwd=reproduced_project, env=env)
    data = json.loads(out.stdout)
    assert not data.get("errors")
    plots = data["data"]
    assert {"ROC", "Precision-Recall", "Confusion-Matrix"} <= set(plots)
    for name in ("ROC", "Precision-Recall", "Confusion-Matrix"):
        assert plots[name][0]["content"]["data"]["values"], name


@pytest.mark.parametrize(
    ("mutate", "column"),
    [
        (
            lambda lines: [
                line.replace(",", ",x", 1) if i == 3 else line for i, line in enumerate(lines)
            ],
            "mean_radius",
        ),
        (
            lambda lines: [",".join(line.split(",")[:2] + line.split(",")[3:]) for line in lines],
            "mean_texture",
        ),
    ],
    ids=["wrong-dtype", "missing-column"],
)
def test_validate_stage_names_the_bad_column(
    reproduced_project: Path, env: dict[str, str], mutate: object, column: str
) -> None:
    data = reproduced_project / "data/breast_cancer.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join(mutate(lines)) + "\n")  # type: ignore[operator]
    proc = run(["dvc", "repro"], cwd=reproduced_project, env=env, check=False)
    assert proc.returncode != 0
    assert column in proc.stdout + proc.stderr
    out = run(["python", "stages/validate.py"], cwd=reproduced_project, env=env, check=False)
    assert out.returncode == 1
    assert column in out.stderr
