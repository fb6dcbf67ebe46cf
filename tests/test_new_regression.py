"""``mlgate new --task regression``: the reference pipeline on scikit-learn's diabetes table,
with the classifier's stages, and a regression gate in the pull-request report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlgate.project import (
    PROJECT_FILES,
    REGRESSION_FILES,
    TASKS,
    library_deps,
    project_file,
    project_files,
    write_reference,
)
from mlgate.starter import CT_WORKFLOW, FIRST_COMMIT, new_project
from tests.conftest import ROOT, git, mlgate, run

PACKAGED = ROOT / "src/mlgate/templates/project-regression"


def test_the_regression_project_ships_only_its_own_files() -> None:
    """Data, schema, profile, dvc.yaml, params.yaml are its own; the stages, .dvc/config
    and the rest are the classifier's (one copy of the pipeline)."""
    shipped = {p.relative_to(PACKAGED).as_posix() for p in PACKAGED.rglob("*") if p.is_file()}
    assert shipped == set(REGRESSION_FILES)
    files = project_files("regression")
    assert "data/breast_cancer.csv" not in files and "data/diabetes.csv" in files
    assert len(files) == len(set(files))
    for name in ("stages/validate.py", "stages/train.py", "stages/evaluate.py", ".dvc/config"):
        assert project_file(name, "regression") == project_file(name) == (ROOT / name).read_bytes()
    assert project_files("binary") == PROJECT_FILES


def test_its_pipeline_has_the_classifiers_shape() -> None:
    ours = yaml.safe_load(project_file("dvc.yaml", "regression"))
    theirs = yaml.safe_load(project_file("dvc.yaml"))
    assert list(ours["stages"]) == list(theirs["stages"]) == ["validate", "train", "evaluate"]
    for name, stage in ours["stages"].items():
        assert stage["cmd"] == theirs["stages"][name]["cmd"]
    for name in ("train", "evaluate"):
        assert "data.task" in ours["stages"][name]["params"], name
    assert library_deps(project_file("dvc.yaml", "regression").decode()) == library_deps(
        project_file("dvc.yaml").decode()
    )
    assert ours["artifacts"]["diabetes-progression"]["type"] == "model"
    params = yaml.safe_load(project_file("params.yaml", "regression"))
    assert params["data"]["task"] == params["gate"]["task"] == "regression"
    assert "ct" not in params
    rules = {(r["metric"], tuple(sorted(r))) for r in params["gate"]["rules"]}
    assert {m for m, _ in rules} == {"rmse", "mae", "r2"}
    schema = yaml.safe_load(project_file("data/schema.yaml", "regression"))
    header = project_file("data/diabetes.csv", "regression").decode().splitlines()[0]
    assert list(schema["columns"]) == header.split(",")


def test_write_reference_for_regression(tmp_path: Path) -> None:
    write_reference(tmp_path, task="regression")
    for name in project_files("regression"):
        assert (tmp_path / name).read_bytes() == project_file(name, "regression"), name
    assert not (tmp_path / "data/breast_cancer.csv").exists()
    assert (tmp_path / "src/mlgate/ml/regression.py").is_file()  # the library, as in a clone


def test_new_regression_project_files(tmp_path: Path, env: dict[str, str]) -> None:
    made = new_project(tmp_path / "my-regressor", environ=env, task="regression")
    root = made.root
    dvc = yaml.safe_load((root / "dvc.yaml").read_text())
    assert not [d for s in dvc["stages"].values() for d in s["deps"] if d.startswith("src/")]
    assert not (root / CT_WORKFLOW).exists(), "mlgate ct needs ct:, which it has not"
    assert len(list((root / ".github/workflows").glob("*.yml"))) == 6
    readme = (root / "README.md").read_text()
    assert readme.startswith("# my-regressor\n") and "data/diabetes.csv" in readme
    assert "{" not in readme.replace("${", ""), "every placeholder is filled"
    status = git("status", "--porcelain", "--untracked-files=all", cwd=root, env=env)
    assert sorted(line[3:] for line in status.splitlines()) == sorted(made.files)


def test_an_unknown_task_is_exit_2_naming_it_and_the_choices(
    tmp_path: Path, env: dict[str, str]
) -> None:
    proc = mlgate("new", "x", "--task", "foo", cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert "--task: invalid choice: 'foo' (choose from 'binary', 'regression')" in proc.stderr
    assert not (tmp_path / "x").exists()
    with pytest.raises(Exception, match="unknown task 'foo'; use one of binary, regression"):
        new_project(tmp_path / "y", environ=env, task="foo")
    assert TASKS == ("binary", "regression")


def _set(root: Path, key: str, old: str, new: str) -> None:
    path = root / "params.yaml"
    text = path.read_text()
    assert f"  {key}: {old} " in text, key
    path.write_text(text.replace(f"  {key}: {old} ", f"  {key}: {new} ", 1))


def _pull_request(
    root: Path, env: dict[str, str], branch: str, key: str, old: str, new: str
) -> None:
    git("checkout", "-q", "-b", branch, "main", cwd=root, env=env)
    _set(root, key, old, new)
    run(["dvc", "repro", "--quiet"], cwd=root, env=env)
    git("commit", "-q", "-am", f"{key}: {new}", cwd=root, env=env)


@pytest.mark.slow
def test_new_regression_run_then_gate_and_report(tmp_path: Path, env: dict[str, str]) -> None:
    """Through the CLI: `mlgate new --task regression --run`, `dvc repro` (up to date),
    `mlgate gate`; then two pull requests: a random forest (worse, within the noise of 121
    eval rows: inconclusive, the gate passes with warnings) and a ridge regularised 300
    times harder (worse beyond the noise: the paired bootstrap fails it)."""
    proc = mlgate("new", "reg", "--task", "regression", "--run", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "(regression reference project)" in proc.stdout
    root = tmp_path / "reg"
    assert git("log", "--format=%s", cwd=root, env=env) == FIRST_COMMIT
    assert git("status", "--porcelain", cwd=root, env=env) == ""
    scores = json.loads((root / "metrics/scores.json").read_text())
    assert list(scores) == ["rmse", "mae", "r2", "mape", "median_ae"]
    assert 45 < scores["rmse"] < 60 and scores["r2"] > 0.45
    lines = (root / "metrics/predictions.csv").read_text().splitlines()
    assert lines[0] == "row_id,y_true,y_pred" and len(lines) == 122
    assert "Data and pipelines are up to date" in run(["dvc", "repro"], cwd=root, env=env).stdout
    gate = mlgate("gate", cwd=root, env=env)
    assert gate.returncode == 0 and "gate: pass" in gate.stdout, gate.stdout + gate.stderr

    _pull_request(root, env, "try-random-forest", "model", "ridge", "random_forest")
    gate = mlgate("gate", "main", "HEAD", "--json", cwd=root, env=env)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    verdict = json.loads(gate.stdout)
    statuses = {(r["metric"], r["check"]): r["status"] for r in verdict["rules"]}
    assert statuses[("rmse", "max_regression_rel")] == "inconclusive", verdict
    assert statuses[("r2", "max_regression")] == "inconclusive", verdict
    report = mlgate("report", "main", "HEAD", cwd=root, env=env)
    assert report.returncode == 0, report.stderr
    md = report.stdout
    assert "mlgate gate: **pass**" in md and "| `train.model` | `ridge` | `random_forest` |" in md
    assert "not significant" in md and "paired bootstrap" in md
    for metric in ("rmse", "mae", "r2", "mape", "median_ae"):
        assert f"| `{metric}` |" in md, metric
    assert "Worst slices by `mae`" in md and "`bmi=[25,30)`" in md

    git("checkout", "-q", "main", cwd=root, env=env)
    run(["dvc", "checkout", "--quiet"], cwd=root, env=env)
    _pull_request(root, env, "more-regularisation", "alpha", "1.0", "300.0")
    gate = mlgate("gate", "main", "HEAD", cwd=root, env=env)
    assert gate.returncode == 1 and "gate: fail" in gate.stdout, gate.stdout + gate.stderr
    failed = [line for line in gate.stdout.splitlines() if line.startswith("fail")]
    assert len(failed) == 3 and all("significant (p=" in line for line in failed), failed


@pytest.mark.parametrize(
    ("old", "new", "stage", "message"),
    [
        (
            "  task: &task regression ",
            "  task: &task ranking ",
            "train",
            'train: error: params.yaml: data.task: expected one of binary, regression, got "ranking"',
        ),
        (
            "  model: ridge ",
            "  model: logistic_regression ",
            "train",
            "train: error: params.yaml: train.model: expected one of ridge, random_forest, "
            'gradient_boosting, got "logistic_regression"',
        ),
    ],
)
def test_a_bad_task_or_model_stops_the_stage_with_one_line(
    tmp_path: Path, env: dict[str, str], old: str, new: str, stage: str, message: str
) -> None:
    write_reference(tmp_path, task="regression")
    params = tmp_path / "params.yaml"
    assert old in params.read_text()
    params.write_text(params.read_text().replace(old, new, 1))
    proc = run(["python", f"stages/{stage}.py"], cwd=tmp_path, env=env, check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == message, proc.stderr


def test_this_repositorys_dvc_does_not_take_the_packaged_project_for_a_pipeline(
    env: dict[str, str],
) -> None:
    """.dvcignore keeps templates/project-regression/dvc.yaml out of `dvc repro` here."""
    stages = run(["dvc", "stage", "list"], cwd=ROOT, env=env).stdout
    assert [line.split()[0] for line in stages.splitlines()] == ["validate", "train", "evaluate"]
