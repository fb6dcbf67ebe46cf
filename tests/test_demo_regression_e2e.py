"""End to end: `mlgate demo --task regression`: a release, then two pull requests whose
reports show a regression gate (noise is inconclusive, a real regression fails)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, mlgate

pytestmark = pytest.mark.slow


def test_regression_demo_gates_two_pull_requests(tmp_path: Path, env: dict[str, str]) -> None:
    box = tmp_path / "demo"
    proc = mlgate("demo", str(box), "--task", "regression", cwd=tmp_path, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdicts = [
        line.split(";")[0].strip() for line in proc.stdout.splitlines() if "gate verdict:" in line
    ]
    assert verdicts == ["gate verdict: pass", "gate verdict: fail"], proc.stdout
    assert "released v1.0.0" in proc.stdout and "rmse 51.4974, r2 0.5096" in proc.stdout
    forest = (box / "reports/pr-try-random-forest.md").read_text()
    assert "mlgate gate: **pass**" in forest
    assert "❔ inconclusive | `rmse` max_regression_rel" in forest and "paired bootstrap" in forest
    harder = (box / "reports/pr-more-regularisation.md").read_text()
    assert "mlgate gate: **fail**" in harder
    assert "❌ fail | `rmse` max_regression_rel" in harder and ", significant (p=" in harder
    project = box / "project"
    entries = json.loads(mlgate("history", "--json", cwd=project, env=env).stdout)["deployments"]
    assert [(e["kind"], e["version"]) for e in entries] == [("deploy", "v1.0.0")]
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=project, env=env) == "main"
    assert git("status", "--porcelain", cwd=project, env=env) == ""
    assert not list(box.glob("arriving/*")), "no batches: the regression story has no CT"
