"""End to end: `mlgate demo` builds its sandbox and runs the whole loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, mlgate

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_loop(tmp_path: Path, env: dict[str, str]) -> None:
    box = tmp_path / "demo"
    proc = mlgate("demo", str(box), cwd=tmp_path, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for outcome in ("rolled_back", "invalid_data", "rejected", "released"):
        assert outcome in out, out
    project = box / "project"
    entries = json.loads(mlgate("history", "--json", cwd=project, env=env).stdout)["deployments"]
    assert [(e["kind"], e["version"]) for e in entries] == [
        ("deploy", "v1.1.1"),
        ("rollback", "v1.0.0"),
        ("deploy", "v1.1.0"),
        ("deploy", "v1.0.0"),
    ]
    # the newest deploy is continuous training's: its tagged commit is a CT retrain
    subject = git("log", "-1", "--format=%s", entries[0]["commit"], cwd=project, env=env)
    assert subject.startswith("ct: retrain on batch_001.csv, batch_003.csv, batch_004.csv")
    # origin has everything; the monitoring log is in git; the chart and reports are written
    origin = box / "origin.git"
    assert git("--git-dir", str(origin), "rev-parse", "main", cwd=project, env=env) == git(
        "rev-parse", "main", cwd=project, env=env
    )
    log = json.loads((project / "metrics/monitoring.json").read_text())["records"]
    assert [(r["version"], r["batch"]) for r in log] == [
        ("v1.1.0", "batch_001.csv"),
        ("v1.0.0", "batch_003.csv"),
        ("v1.0.0", "batch_004.csv"),
    ]
    assert (box / "production-metrics.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((box / "reports").glob("*.md"))) == 5
    assert git("status", "--porcelain", cwd=project, env=env) == ""
    # a second run refuses to overwrite the sandbox
    again = mlgate("demo", str(box), cwd=tmp_path, env=env)
    assert again.returncode == 2 and "not empty" in again.stderr
