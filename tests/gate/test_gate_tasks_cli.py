"""`mlgate gate` on regression and multiclass predictions, as a user runs it (issue 22):
verdicts with the paired bootstrap, and bad predictions files stopping it (exit 2, one line
naming the file, the column and the line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlgate.gate.measures import point_value
from mlgate.gate.stats import metric_of, parse_predictions
from tests.conftest import mlgate
from tests.gate_support import metrics_repo
from tests.tasks_support import multiclass, regression

PRED = "metrics/predictions.csv"


def _scores(data: bytes, names: list[str], columns: list[str] | None = None) -> dict[str, Any]:
    p = parse_predictions(data, "x", columns=columns or [])
    out = {}
    for name in names:
        metric = metric_of(p, name)
        assert metric is not None
        out[name] = point_value(p, metric)
    return out


def _repo(tmp_path: Path, env: dict[str, str], policy: dict[str, Any], data: bytes) -> Path:
    names = [r["metric"] for r in policy["rules"] if not r["metric"].startswith("column:")]
    columns = [r["metric"][7:] for r in policy["rules"] if r["metric"].startswith("column:")]
    return metrics_repo(
        tmp_path / "repo",
        env,
        scores=_scores(data, names, columns),
        policy=policy,
        extra={PRED: data.decode()},
    )


def _candidate(root: Path, data: bytes, names: list[str], columns: list[str] | None = None) -> None:
    (root / PRED).write_bytes(data)
    (root / "metrics" / "scores.json").write_text(json.dumps(_scores(data, names, columns)))


REGRESSION = {
    "task": "regression",
    "rules": [
        {"metric": "rmse", "max_regression": 0.0, "significance": 0.05},
        {"metric": "r2", "max_regression": 0.0, "significance": 0.05},
        {"metric": "median_ae", "max_regression": 0.0, "significance": 0.05},
    ],
}


def test_regression_gate_fails_a_real_regression_and_not_noise(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = _repo(tmp_path, env, REGRESSION, regression(500, noise=1.0, seed=2))
    names = ["rmse", "r2", "median_ae"]
    _candidate(root, regression(500, noise=3.0, seed=3), names)
    worse = mlgate("gate", "main", "--json", cwd=root, env=env)
    assert worse.returncode == 1, worse.stderr
    rules = json.loads(worse.stdout)["rules"]
    assert {r["metric"]: r["status"] for r in rules} == dict.fromkeys(names, "fail")
    assert all(r["method"] == "paired bootstrap" and r["p_value"] < 0.01 for r in rules)
    _candidate(root, regression(500, noise=1.0, seed=3), names)  # as good, other noise
    same = mlgate("gate", "main", "--json", cwd=root, env=env)
    assert same.returncode == 0, same.stdout + same.stderr
    statuses = {r["metric"]: r["status"] for r in json.loads(same.stdout)["rules"]}
    assert set(statuses.values()) <= {"pass", "inconclusive"}


def test_multiclass_gate_with_a_column_rule(tmp_path: Path, env: dict[str, str]) -> None:
    policy = {
        "rules": [  # task inferred from the score_<class> columns
            {"metric": "macro_f1", "max_regression": 0.0, "significance": 0.05},
            {"metric": "top_k_accuracy", "k": 3, "max_regression": 0.0, "significance": 0.05},
            {"metric": "column:loss", "max_regression": 0.0, "significance": 0.05},
        ]
    }
    root = _repo(tmp_path, env, policy, multiclass(600, noise=0.5, seed=2))
    _candidate(root, multiclass(600, noise=3.0, seed=3), ["macro_f1", "top_k_accuracy"], ["loss"])
    proc = mlgate("gate", "main", "--json", cwd=root, env=env)
    assert proc.returncode == 1, proc.stderr
    rules = {r["metric"]: r for r in json.loads(proc.stdout)["rules"]}
    assert {m: r["status"] for m, r in rules.items()} == {
        "macro_f1": "fail",
        "top_k_accuracy": "fail",
        "column:loss": "fail",
    }
    assert rules["column:loss"]["file"] == PRED and rules["column:loss"]["p_value"] < 0.01


def _stderr_line(proc: Any) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return str(lines[0])


def test_multiclass_label_without_a_score_column_exits_2(
    tmp_path: Path, env: dict[str, str]
) -> None:
    policy = {"rules": [{"metric": "accuracy", "max_regression": 0.0, "significance": 0.05}]}
    data = multiclass(50, noise=1.0, seed=2)
    root = _repo(tmp_path, env, policy, data)
    lines = data.decode().splitlines()
    lines[0] = lines[0].replace(",score_owl", "")  # the class owl loses its score column
    lines[1:] = [",".join(row.split(",")[:6] + row.split(",")[7:]) for row in lines[1:]]
    first_owl = next(i for i, row in enumerate(lines) if row.split(",")[1] == "owl")
    (root / PRED).write_text("\n".join(lines) + "\n")
    line = _stderr_line(mlgate("gate", "main", cwd=root, env=env))
    assert f"{PRED}: line {first_owl + 1}: column y_true: 'owl' is not a class" in line
    assert "add a score_owl column" in line


def test_non_numeric_regression_target_exits_2(tmp_path: Path, env: dict[str, str]) -> None:
    data = regression(50, noise=1.0, seed=2)
    root = _repo(tmp_path, env, REGRESSION, data)
    lines = data.decode().splitlines()
    lines[17] = lines[17].replace(lines[17].split(",")[1], "n/a", 1)
    (root / PRED).write_text("\n".join(lines) + "\n")
    line = _stderr_line(mlgate("gate", "main", cwd=root, env=env))
    assert f"{PRED}: line 18: column y_true: expected a finite number, got 'n/a'" in line


def test_mismatched_row_ids_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    data = regression(50, noise=1.0, seed=2)
    root = _repo(tmp_path, env, REGRESSION, data)
    worse = regression(50, noise=4.0, seed=3).decode().replace("r30,", "r300,")
    _candidate(root, worse.encode(), ["rmse", "r2", "median_ae"])
    line = _stderr_line(mlgate("gate", "main", cwd=root, env=env))
    assert f"{PRED}: line 32: column row_id: 'r300' is not in " in line, line
    assert "both revisions must score the same rows" in line


def test_declared_task_needs_its_columns(tmp_path: Path, env: dict[str, str]) -> None:
    policy = {**REGRESSION, "task": "binary"}  # a regression file under gate.task: binary
    root = _repo(tmp_path, env, policy, regression(30, noise=1.0, seed=2))
    line = _stderr_line(mlgate("gate", "main", cwd=root, env=env))
    assert f"{PRED}: no column y_score: a binary predictions file has the columns" in line
