"""`mlgate gate` and `mlgate report` through the CLI: exit codes, JSON, GitHub Actions files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, mlgate, run
from tests.gate_support import commit, metrics_repo, predictions_csv

WORSE = {"accuracy": 0.9, "roc_auc": 0.90, "log_loss": 0.2}  # roc_auc drops 0.05 > 0.02


def _actions_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    summary.write_text("earlier step\n")
    return {
        **env,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }


def test_exit_codes_pass_fail(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    ok = mlgate("gate", cwd=root, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "gate: pass" in ok.stdout and "roc_auc" in ok.stdout
    (root / "metrics" / "scores.json").write_text(json.dumps(WORSE))
    bad = mlgate("gate", cwd=root, env=env)
    assert bad.returncode == 1 and "gate: fail" in bad.stdout
    assert "worse by 0.05 > allowed 0.02" in bad.stdout


def test_json_verdict(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    base = git("rev-parse", "HEAD", cwd=root, env=env)
    (root / "metrics" / "scores.json").write_text(json.dumps(WORSE))
    proc = mlgate("gate", "main", "--json", cwd=root, env=env)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1 and doc["verdict"] == "fail"
    assert doc["baseline"] == {"rev": base, "short": base[:7]}
    assert doc["candidate"]["rev"] == "workspace"
    failed = [r for r in doc["rules"] if r["status"] == "fail"]
    assert [
        (r["metric"], r["check"], r["baseline"], r["candidate"], r["limit"]) for r in failed
    ] == [("roc_auc", "max_regression", 0.95, 0.90, 0.02)]


def test_missing_metric_fails_with_exit_1(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    (root / "metrics" / "scores.json").write_text('{"accuracy": 0.9, "roc_auc": 0.95}')
    proc = mlgate("gate", cwd=root, env=env)
    assert proc.returncode == 1 and "no log_loss in metrics/scores.json" in proc.stdout


def test_first_pr_without_baseline_metrics(tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root, env=env)
    commit(root, env, "empty start", {"README.md": "hi\n"})
    repo = metrics_repo(root / "x", env)  # just to get the files written
    for p in ("dvc.yaml", "params.yaml", "metrics"):
        (repo / p).rename(root / p)
    proc = mlgate("gate", "--json", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["policy"]["from"] == "candidate"
    assert any("first adoption" in n for n in doc["notes"])
    assert any("baseline declares no metrics" in n for n in doc["notes"])


def _one_line_error(proc: object, *needles: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)  # type: ignore[attr-defined]
    lines = proc.stderr.splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("mlgate: error: "), lines
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    ("path", "content", "needles"),
    [
        (
            "metrics/scores.json",
            '{"roc_auc": Infinity}',
            ("metrics/scores.json", "roc_auc", "finite number"),
        ),
        ("metrics/scores.json", '{"roc_auc": 0.9', ("metrics/scores.json", "invalid JSON")),
        (
            "metrics/scores.json",
            '{"roc_auc": "high", "log_loss": 0.1}',
            ('metrics/scores.json: roc_auc: expected a number, got "high"',),
        ),
        ("params.yaml", "gate: [\n", ("params.yaml: invalid YAML",)),
        ("dvc.yaml", "stages: {a: {metrics: x}}\n", ("dvc.yaml: stages.a.metrics",)),
        (
            "metrics/predictions.csv",
            "row_id,y_true,y_pred,y_score\n1,1,1,nan\n",
            ("predictions.csv: line 2",),
        ),
    ],
)
def test_bad_input_exit_2(
    tmp_path: Path, env: dict[str, str], path: str, content: str, needles: tuple[str, ...]
) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    (root / path).write_text(content)
    _one_line_error(mlgate("gate", cwd=root, env=env), *needles)


def test_bad_policy_in_baseline_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    bad = {"rules": [{"metric": "roc_auc"}, {"metric": "f1", "max_regression": "x"}]}
    root = metrics_repo(tmp_path / "repo", env, policy=bad)
    proc = mlgate("gate", "main", cwd=root, env=env)
    _one_line_error(
        proc, 'main:params.yaml: gate.rules[1].max_regression: expected a number, got "x"'
    )


def test_unknown_revision_and_shallow_clone_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    _one_line_error(mlgate("gate", "nope", cwd=root, env=env), "unknown revision 'nope'")
    commit(root, env, "two", {"metrics/scores.json": {"roc_auc": 0.96, "log_loss": 0.1}})
    shallow = tmp_path / "shallow"
    run(
        ["git", "clone", "-q", "--depth", "1", f"file://{root}", str(shallow)],
        cwd=tmp_path,
        env=env,
    )
    _one_line_error(mlgate("gate", "HEAD~1", cwd=shallow, env=env), "shallow", "fetch-depth: 0")
    pr_env = {**env, "GITHUB_BASE_REF": "release"}
    _one_line_error(mlgate("gate", cwd=shallow, env=pr_env), "origin/release", "fetch-depth: 0")


def test_github_actions_files_and_annotations(tmp_path: Path, env: dict[str, str]) -> None:
    policy = {
        "rules": [
            {"metric": "roc_auc", "max_regression": 0.02},
            {"metric": "accuracy", "max_regression": 0.01},
        ]
    }
    root = metrics_repo(tmp_path / "repo", env, policy=policy)
    (root / "metrics" / "scores.json").write_text(
        json.dumps({"accuracy": 0.891, "roc_auc": 0.90, "log_loss": 0.2})  # accuracy: near miss
    )
    aenv = _actions_env(env, tmp_path)
    proc = mlgate("gate", cwd=root, env=aenv)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert (
        "::error title=mlgate gate%3A roc_auc max_regression::worse by 0.05 > allowed 0.02" in lines
    )
    assert any(
        line.startswith("::warning title=mlgate gate%3A accuracy max_regression::")
        for line in lines
    )
    summary = Path(aenv["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("earlier step\n## ❌ mlgate gate: **fail**")
    assert Path(aenv["GITHUB_OUTPUT"]).read_text() == "verdict=fail\n"
    # --json keeps stdout pure JSON; annotations go to stderr
    again = mlgate("gate", "--json", cwd=root, env=aenv)
    assert json.loads(again.stdout)["verdict"] == "fail" and "::error " in again.stderr
    # outside Actions nothing is written
    Path(aenv["GITHUB_OUTPUT"]).unlink()
    mlgate("gate", cwd=root, env=env)
    assert not Path(aenv["GITHUB_OUTPUT"]).exists()


def test_report_command(tmp_path: Path, env: dict[str, str]) -> None:
    y = [0, 1] * 40
    root = metrics_repo(
        tmp_path / "repo",
        env,
        extra={"metrics/predictions.csv": predictions_csv(y, [0.3 + 0.4 * v for v in y])},
    )
    (root / "metrics" / "scores.json").write_text(json.dumps(WORSE))
    aenv = _actions_env(env, tmp_path)
    out = tmp_path / "out" / "report.md"
    proc = mlgate("report", "-o", str(out), cwd=root, env=aenv)
    assert proc.returncode == 0, proc.stderr  # the report is not the gate
    md = out.read_text()
    assert md.startswith("<!-- mlgate-report -->\n## ❌ mlgate gate: **fail**")
    assert "xychart-beta" in md and len(md) <= 65_536
    assert md in Path(aenv["GITHUB_STEP_SUMMARY"]).read_text()
    assert Path(aenv["GITHUB_OUTPUT"]).read_text() == f"verdict=fail\nreport={out}\n"
    stdout = mlgate("report", cwd=root, env=env)
    assert stdout.returncode == 0 and stdout.stdout == md


def test_gate_does_not_import_dvc_sklearn_pandas(tmp_path: Path, env: dict[str, str]) -> None:
    y = [0, 1] * 40
    root = metrics_repo(
        tmp_path / "repo",
        env,
        policy={"rules": [{"metric": "roc_auc", "max_regression": 0.0, "significance": 0.05}]},
        extra={"metrics/predictions.csv": predictions_csv(y, [0.3 + 0.4 * v for v in y])},
    )
    code = (
        "import sys\n"
        "from mlgate.cli._main import main\n"
        "assert main(['gate', '--json']) == 0\n"
        "assert main(['gate']) == 0\n"
        "assert 'mlgate.ml.scoring' in sys.modules  # the paired bootstrap ran\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'dvc', 'sklearn', 'pandas', 'scipy'})\n"
        "print('HEAVY', heavy)\n"
    )
    proc = run(["python", "-c", code], cwd=root, env=env)
    assert proc.stdout.splitlines()[-1] == "HEAVY []"


def test_gate_and_report_take_a_candidate_revision(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    git("checkout", "-q", "-b", "exp", cwd=root, env=env)
    worse = commit(root, env, "worse", {"metrics/scores.json": WORSE})
    git("checkout", "-q", "main", cwd=root, env=env)  # the working tree is the good baseline
    assert mlgate("gate", "main", cwd=root, env=env).returncode == 0
    proc = mlgate("gate", "main", "exp", "--json", cwd=root, env=env)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "fail" and doc["candidate"]["rev"] == worse
    report = mlgate("report", "main", "exp", cwd=root, env=env)
    assert report.returncode == 0, report.stderr
    assert "## ❌ mlgate gate: **fail**" in report.stdout


@pytest.mark.parametrize("command", ["gate", "report"])
def test_usage_error_prints_the_subcommands_usage(
    tmp_path: Path, env: dict[str, str], command: str
) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    proc = mlgate(command, "main", "main", "extra", cwd=root, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"usage: mlgate {command} ")
    assert f"mlgate {command}: error: unrecognized arguments: extra" in proc.stderr
