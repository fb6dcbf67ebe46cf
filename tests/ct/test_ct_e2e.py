"""End to end: `mlgate ct` on a real git + DVC project with a bare origin and a DVC remote.

New batch -> monitoring commit and a pull request at the loopback GitHub stand-in; no new
data -> nothing changes; a bad batch -> exit 1 naming the violation; a deployed model worse
than its predecessor on the next batch -> a rollback commit at origin.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.conftest import add_origin, git, mlgate, run

if TYPE_CHECKING:
    from tests.github_stub import GitHubStub

pytestmark = pytest.mark.slow

#: Deterministic rules (no significance test): a regression beyond the limit fails.
POLICY = {
    "rules": [
        {"metric": "roc_auc", "min": 0.8},
        {"metric": "log_loss", "max_regression_rel": 0.5},
        {"metric": "f1", "max_regression": 0.05},
    ]
}


def _setup(proj: Path, tmp_path: Path, env: dict[str, str]) -> Path:
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["gate"] = POLICY
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git("commit", "-q", "-m", "gate policy", "--", "params.yaml", cwd=proj, env=env)
    origin = tmp_path / "origin.git"
    add_origin(proj, origin, env)
    remote = tmp_path / "dvc-remote"
    run(["dvc", "remote", "add", "--local", "-d", "-f", "t", str(remote)], cwd=proj, env=env)
    git("tag", "v1.0.0", cwd=proj, env=env)
    assert mlgate("release", "v1.0.0", "--push", cwd=proj, env=env).returncode == 0
    return origin


def _batch(proj: Path, name: str, start: int, stop: int, edit=None) -> Path:
    """Rows ``start:stop`` of the reference data as a new batch (new row ids)."""
    with (proj / "data/breast_cancer.csv").open() as handle:
        rows = list(csv.DictReader(handle))[start:stop]
    for i, row in enumerate(rows):
        row["row_id"] = str(100_000 + start + i)
        if edit:
            edit(i, row)
    path = proj / "data/incoming" / name
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _ct(proj: Path, env: dict[str, str], *args: str):
    proc = mlgate("ct", "--json", *args, cwd=proj, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_new_batch_opens_a_pull_request_and_no_new_data_changes_nothing(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str], github_stub: GitHubStub
) -> None:
    proj = reproduced_project
    origin = _setup(proj, tmp_path, env)
    env = {**env, **github_stub.env()}
    head = git("rev-parse", "HEAD", cwd=proj, env=env)

    code, out = _ct(proj, env)
    assert (code, out["outcome"]) == (0, "no_new_data")
    assert git("rev-parse", "HEAD", cwd=proj, env=env) == head
    assert git("status", "--porcelain", cwd=proj, env=env) == ""

    _batch(proj, "batch_001.csv", 0, 200)
    code, out = _ct(proj, env)
    assert (code, out["outcome"]) == (0, "pr_opened"), out["message"]
    branch = out["branch"]
    assert branch.startswith("ct/") and branch.endswith("-batch_001")
    assert out["held_out"]["rows"] > 20
    assert out["monitoring"]["version"] == "v1.0.0"
    assert out["gate"]["verdict"] == "pass"
    # the pull request at the stand-in carries the report
    assert len(github_stub.pulls) == 1
    pull = github_stub.pulls[0]
    assert pull["head"]["ref"] == branch and pull["base"]["ref"] == "main"
    assert "mlgate ct" in pull["body"] and "Monitoring" in pull["body"]
    assert "batch_001.csv" in pull["body"]
    # origin: the branch with the retrained pipeline; main with the monitoring log
    at_branch = git(
        "--git-dir", str(origin), "show", f"{branch}:data/batches.json", cwd=proj, env=env
    )
    assert json.loads(at_branch)["batches"][0] == {
        **json.loads(at_branch)["batches"][0],
        "name": "batch_001.csv",
        "trained": True,
    }
    log = json.loads(
        git("--git-dir", str(origin), "show", "main:metrics/monitoring.json", cwd=proj, env=env)
    )
    assert [r["batch"] for r in log["records"]] == ["batch_001.csv"]
    # back on main, clean, and a second run does not open a second pull request
    assert git("branch", "--show-current", cwd=proj, env=env) == "main"
    assert run(["dvc", "status", "-q"], cwd=proj, env=env, check=False).returncode == 1  # new data
    code, out = _ct(proj, env)
    assert (code, out["outcome"]) == (0, "pending")
    assert len(github_stub.pulls) == 1


def test_bad_batch_stops_the_cycle_naming_the_violation(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    proj = reproduced_project
    _setup(proj, tmp_path, env)
    head = git("rev-parse", "HEAD", cwd=proj, env=env)

    def negative(i: int, row: dict[str, str]) -> None:
        if i < 3:
            row["mean_radius"] = "-5.0"

    _batch(proj, "batch_001.csv", 0, 150, negative)
    proc = mlgate("ct", "--mode", "release", cwd=proj, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("invalid data: batch_001.csv: range mean_radius: 3 values"), last
    assert "  violation: column 'mean_radius': range: 3 values outside" in proc.stdout
    assert git("rev-parse", "HEAD", cwd=proj, env=env) == head
    assert not (proj / "metrics/monitoring.json").exists()


def test_worse_deployed_model_is_rolled_back(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    from mlgate.deploy.release import release
    from mlgate.gate import Policy, Snapshot, evaluate_snapshots
    from mlgate.git import Repo

    proj = reproduced_project
    origin = _setup(proj, tmp_path, env)
    # v1.1.0: a heavily regularised model (badly calibrated), released past the gate on purpose
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["train"]["C"] = 0.0005
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "--quiet"], cwd=proj, env=env)
    git("add", "params.yaml", "dvc.lock", "metrics", cwd=proj, env=env)
    git("commit", "-q", "-m", "over-regularised", cwd=proj, env=env)
    git("tag", "v1.1.0", cwd=proj, env=env)
    waved = evaluate_snapshots(Policy(), baseline=None, candidate=Snapshot("x", {}))
    release(Repo(proj, env), "v1.1.0", push=True, gate=lambda *_a, **_k: waved)

    _batch(proj, "batch_001.csv", 200, 400)
    code, out = _ct(proj, env, "--mode", "release")
    assert (code, out["outcome"]) == (0, "rolled_back"), out["message"]
    assert out["post_deploy"]["predecessor"] == "v1.0.0"
    assert out["rollback"]["to"] == "v1.0.0"
    at_origin = yaml.safe_load(
        git("--git-dir", str(origin), "show", "main:deploy/production.yaml", cwd=proj, env=env)
    )
    assert at_origin["version"] == "v1.0.0"
    subject = git("--git-dir", str(origin), "log", "-1", "--format=%s", "main", cwd=proj, env=env)
    assert subject == "rollback: v1.1.0 -> v1.0.0"
    kinds = [
        e["kind"]
        for e in json.loads(mlgate("history", "--json", cwd=proj, env=env).stdout)["deployments"]
    ]
    assert kinds == ["rollback", "deploy", "deploy"]


def _tree_state(proj: Path, env: dict[str, str]) -> dict[str, object]:
    """HEAD, index, status and the bytes of every file (the DVC cache and tmp aside)."""
    import hashlib

    skip = (".git/", ".dvc/cache/", ".dvc/tmp/")
    files = {
        p.relative_to(proj).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(proj.rglob("*"))
        if p.is_file() and not p.relative_to(proj).as_posix().startswith(skip)
    }
    return {
        "head": git("rev-parse", "HEAD", cwd=proj, env=env),
        "index": git("ls-files", "--stage", cwd=proj, env=env),  # staged content
        "status": git("status", "--porcelain", "--ignored", cwd=proj, env=env),
        "dvc": run(["dvc", "status", "--json"], cwd=proj, env=env).stdout,
        "files": files,
    }


def test_dry_run_changes_nothing(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    proj = reproduced_project
    _setup(proj, tmp_path, env)
    _batch(proj, "batch_001.csv", 0, 200)
    before = _tree_state(proj, env)
    assert before["status"]  # the new batch, untracked
    code, out = _ct(proj, env, "--dry-run", "--mode", "release")
    assert (code, out["outcome"]) == (0, "dry_run"), out["message"]
    assert out["monitoring"]["version"] == "v1.0.0"  # monitored, but nothing written
    after = _tree_state(proj, env)
    assert after["files"] == before["files"]
    assert after == before
    # what a person reads: the gate as `mlgate gate` prints it, each prefix said once
    text = mlgate("ct", "--dry-run", cwd=proj, env=env)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "baseline v1.0.0 -> candidate retrained (working tree); policy from baseline" in lines
    assert any(
        line.split() == ["status", "metric", "check", "baseline", "candidate", "limit", "why"]
        for line in lines
    )
    assert lines[-1] == (
        "dry run: the retrained model passes the gate; without --dry-run this cycle would open "
        "a pull request"
    )
    assert _tree_state(proj, env) == before
