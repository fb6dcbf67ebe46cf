"""`mlgate diff` as a user runs it, cross-checked with `dvc metrics diff --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, mlgate, run
from tests.gate_support import commit, metrics_repo

NESTED = {
    "accuracy": 0.9,
    "n": 100,
    "per_class": {"0": {"recall": 0.8, "precision": 0.7}, "1": {"recall": 0.95}},
    "deep": {"a": {"b": {"c": 1.5}}, "empty": {}},
}


def _repo(tmp_path: Path, env: dict[str, str]) -> Path:
    root = metrics_repo(tmp_path / "repo", env, extra={"metrics/bootstrap.json": NESTED})
    commit(
        root,
        env,
        "second",
        {
            "metrics/scores.json": {"accuracy": 0.92, "roc_auc": 0.95, "f1": 0.88},
            "metrics/bootstrap.json": {
                **NESTED,
                "n": 120,
                "per_class": {"0": {"recall": 0.85, "precision": 0.7}, "2": {"recall": 1}},
            },
            "metrics/slices.json": None,
        },
    )
    return root


def test_diff_json_between_commits(tmp_path: Path, env: dict[str, str]) -> None:
    root = _repo(tmp_path, env)
    proc = mlgate("diff", "HEAD~1", "HEAD", "--json", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["metrics/scores.json"]["accuracy"] == {"old": 0.9, "new": 0.92, "diff": 0.92 - 0.9}
    assert out["metrics/scores.json"]["f1"] == {"old": None, "new": 0.88}
    assert out["metrics/scores.json"]["log_loss"] == {"old": 0.2, "new": None}
    assert out["metrics/bootstrap.json"]["per_class.0.recall"]["diff"] == pytest.approx(0.05)
    assert "per_class.0.precision" not in out["metrics/bootstrap.json"]  # unchanged
    assert out["metrics/slices.json"]["size=[0,12).n"] == {"old": 50, "new": None}
    everything = json.loads(
        mlgate("diff", "HEAD~1", "HEAD", "--json", "--all", cwd=root, env=env).stdout
    )
    assert everything["metrics/bootstrap.json"]["per_class.0.precision"]["diff"] == 0


def test_diff_default_baseline_and_worktree(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    (root / "metrics" / "scores.json").write_text(
        '{"accuracy": 0.5, "roc_auc": 0.95, "log_loss": 0.2}'
    )
    (root / "params.yaml").write_text(
        (root / "params.yaml").read_text().replace("C: 1.0", "C: 0.5")
    )
    out = json.loads(mlgate("diff", "--json", cwd=root, env=env).stdout)  # baseline: main
    assert out == {"metrics/scores.json": {"accuracy": {"old": 0.9, "new": 0.5, "diff": 0.5 - 0.9}}}
    md = mlgate("diff", "--md", cwd=root, env=env).stdout
    assert "| `accuracy` | 0.9 | 0.5 | -0.4 🔴 |" in md and "| `train.C` | 1 | 0.5 | -0.5" in md
    table = mlgate("diff", cwd=root, env=env)
    assert table.returncode == 0 and "accuracy" in table.stdout and "train.C" in table.stdout


def test_diff_unreadable_metrics_warn_like_dvc(tmp_path: Path, env: dict[str, str]) -> None:
    """A malformed file in one revision: a warning naming it, its values null, exit 0 (DVC too)."""
    root = metrics_repo(tmp_path / "repo", env)
    before = json.loads((root / "metrics" / "scores.json").read_text())
    (root / "metrics" / "scores.json").write_text('{"accuracy": 0.9,')
    proc = mlgate("diff", "HEAD", "--json", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "metrics/scores.json": {k: {"old": v, "new": None} for k, v in before.items()}
    }
    lines = [line for line in proc.stderr.splitlines() if "scores.json" in line]
    assert len(lines) == 1 and lines[0].startswith(
        "mlgate: warning: metrics/scores.json: invalid JSON"
    )
    # a declared file that exists in neither revision is named too (DVC: "failed to load")
    assert (
        "HEAD:metrics/bootstrap.json: declared as metrics in dvc.yaml but not found" in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_diff_shows_nan_and_infinity_as_dvc_does(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    (root / "metrics" / "scores.json").write_text('{"accuracy": NaN, "roc_auc": 1e999}')
    proc = mlgate("diff", "HEAD", "--json", cwd=root, env=env)
    assert proc.returncode == 0 and "scores.json" not in proc.stderr
    assert '"new": NaN' in proc.stdout and '"new": Infinity' in proc.stdout
    table = mlgate("diff", "HEAD", cwd=root, env=env)
    assert table.returncode == 0 and "nan" in table.stdout.lower()


def test_diff_unknown_revision_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    proc = mlgate("diff", "v9.9", cwd=root, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "mlgate: error: unknown revision 'v9.9'"


def test_diff_does_not_import_dvc_sklearn_pandas(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    code = (
        "import sys\n"
        "from mlgate.cli._main import main\n"
        "for argv in (['diff', 'HEAD', '--json'], ['diff', 'HEAD', '--md'], ['diff', 'HEAD']):\n"
        "    assert main(argv) == 0\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'dvc', 'sklearn', 'pandas', 'scipy'})\n"
        "print('HEAVY', heavy)\n"
    )
    proc = run(["python", "-c", code], cwd=root, env=env)
    assert proc.stdout.splitlines()[-1] == "HEAVY []"


# -- cross-check with DVC ----------------------------------------------------------------------
def _dvc_diff(root: Path, env: dict[str, str], *revs: str) -> dict[str, object]:
    proc = run(["dvc", "metrics", "diff", "--json", *revs], cwd=root, env=env)
    return json.loads(proc.stdout or "{}")  # type: ignore[no-any-return]


@pytest.mark.slow
def test_agrees_with_dvc_metrics_diff(tmp_path: Path, env: dict[str, str]) -> None:
    root = _repo(tmp_path, env)
    run(["dvc", "init", "-q"], cwd=root, env=env)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "dvc init", cwd=root, env=env)
    (root / "metrics" / "scores.json").write_text(
        '{"accuracy": 0.5, "roc_auc": 0.97, "extra": {"k": 3}}'
    )
    # two commits; two commits with unchanged values; a commit against the working tree
    for args in (("HEAD~2", "HEAD"), ("HEAD~1", "HEAD", "--all"), ("HEAD~2", "--all")):
        ours = json.loads(mlgate("diff", *args, "--json", cwd=root, env=env).stdout)
        assert ours == _dvc_diff(root, env, *args), args


@pytest.mark.slow
def test_agrees_with_dvc_on_the_reference_project(
    reproduced_project: Path, env: dict[str, str]
) -> None:
    root = reproduced_project
    scores = json.loads((root / "metrics" / "scores.json").read_text())
    scores["accuracy"] -= 0.01
    scores["roc_auc"] = 0.5
    (root / "metrics" / "scores.json").write_text(json.dumps(scores))
    ours = json.loads(mlgate("diff", "HEAD", "--json", "--all", cwd=root, env=env).stdout)
    assert ours == _dvc_diff(root, env, "HEAD", "--all")
    assert set(ours) >= {"metrics/scores.json", "metrics/bootstrap.json", "metrics/slices.json"}


def test_diff_colours_follow_the_policy_direction(tmp_path: Path, env: dict[str, str]) -> None:
    policy = {"rules": [{"metric": "mae", "direction": "lower", "max": 1.0}]}
    root = metrics_repo(tmp_path / "repo", env, policy=policy, scores={"mae": 0.5, "r2": 0.5})
    (root / "metrics" / "scores.json").write_text('{"mae": 0.4, "r2": 0.4}')
    md = mlgate("diff", "--md", cwd=root, env=env).stdout
    assert "| `mae` | 0.5 | 0.4 | -0.1 🟢 |" in md  # the policy says lower is better
    assert "| `r2` | 0.5 | 0.4 | -0.1 🔴 |" in md  # inferred: higher is better
