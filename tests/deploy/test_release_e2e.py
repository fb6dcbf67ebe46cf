"""End to end: release, rollback, history, status and pull-model on a real git + DVC project.

Each test works on a copy of the reproduced reference project with a bare git ``origin`` and
a local DVC remote (``verify = true``) in ``tmp_path``; ``mlgate`` runs as a subprocess.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import add_origin, git, mlgate, run

pytestmark = pytest.mark.slow

POINTER = "deploy/production.yaml"
#: A deterministic policy for these tests (no significance test, so no randomness at the edge).
POLICY = {"rules": [{"metric": "f1", "max_regression": 0.03}, {"metric": "roc_auc", "min": 0.9}]}


def _setup(project: Path, tmp_path: Path, env: dict[str, str], *, dvc_remote: Path) -> None:
    """A bare origin, a local DVC remote with verify = true, and our gate policy committed."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gate"] = POLICY
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git("commit", "-q", "-m", "gate policy", "--", "params.yaml", cwd=project, env=env)
    add_origin(project, tmp_path / "origin.git", env)
    dvc = ["dvc", "remote"]
    run([*dvc, "add", "--local", "-d", "-f", "test", str(dvc_remote)], cwd=project, env=env)
    run([*dvc, "modify", "--local", "test", "verify", "true"], cwd=project, env=env)


def _pointer(project: Path) -> dict:
    return yaml.safe_load((project / POINTER).read_text())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _remote_object(remote: Path, md5: str) -> Path:
    return remote / "files" / "md5" / md5[:2] / md5[2:]


def _set_c(project: Path, value: str) -> None:
    params = project / "params.yaml"
    data = yaml.safe_load(params.read_text())
    data["train"]["C"] = float(value)
    params.write_text(yaml.safe_dump(data, sort_keys=False))


def _new_version(project: Path, env: dict[str, str], *, c: str, tag: str) -> None:
    """Change params, `dvc repro`, commit and tag: what a data scientist does for a release."""
    _set_c(project, c)
    run(["dvc", "repro", "--quiet"], cwd=project, env=env)
    git("add", "params.yaml", "dvc.lock", "metrics", cwd=project, env=env)
    git("commit", "-q", "-m", f"train with C={c}", cwd=project, env=env)
    git("tag", tag, cwd=project, env=env)


def test_release_rollback_history_pull(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    proj, remote = reproduced_project, tmp_path / "dvc-remote"
    _setup(proj, tmp_path, env, dvc_remote=remote)
    git("tag", "v1.0.0", cwd=proj, env=env)

    first = mlgate("release", "v1.0.0", cwd=proj, env=env)
    assert first.returncode == 0, first.stderr
    p1 = _pointer(proj)
    assert p1["version"] == "v1.0.0"
    assert p1["commit"] == git("rev-parse", "v1.0.0", cwd=proj, env=env)
    assert p1["model"]["sha256"] == _sha256(proj / "models/model.skops")
    assert p1["metrics"] == json.loads((proj / "metrics/scores.json").read_text())
    assert git("log", "-1", "--format=%s", cwd=proj, env=env) == "deploy: v1.0.0"
    assert _remote_object(remote, p1["model"]["md5"]).is_file()

    _new_version(proj, env, c="0.5", tag="v1.1.0")
    second = mlgate("release", "v1.1.0", "--push", cwd=proj, env=env)
    assert second.returncode == 0, second.stderr
    p2 = _pointer(proj)
    assert p2["version"] == "v1.1.0"
    assert p2["model"]["sha256"] == _sha256(proj / "models/model.skops") != p1["model"]["sha256"]
    head = git("rev-parse", "HEAD", cwd=proj, env=env)
    assert git("rev-parse", "origin/main", cwd=proj, env=env) == head  # --push

    again = mlgate("release", "v1.1.0", cwd=proj, env=env)  # the live version: a no-op
    assert again.returncode == 0, again.stderr
    assert "already live" in again.stdout
    assert git("rev-parse", "HEAD", cwd=proj, env=env) == head

    _new_version(proj, env, c="0.001", tag="v1.2.0")  # f1 drops by about 0.05: a regression
    regress_head = git("rev-parse", "HEAD", cwd=proj, env=env)
    bad = mlgate("release", "v1.2.0", cwd=proj, env=env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "gate failed" in bad.stdout and "f1" in bad.stdout
    assert _pointer(proj) == p2  # untouched
    assert git("rev-parse", "HEAD", cwd=proj, env=env) == regress_head
    assert git("status", "--porcelain", "--untracked-files=no", cwd=proj, env=env) == ""

    back = mlgate("rollback", cwd=proj, env=env)
    assert back.returncode == 0, back.stderr
    assert git("log", "-1", "--format=%s", cwd=proj, env=env) == "rollback: v1.1.0 -> v1.0.0"
    assert git("rev-parse", "HEAD^", cwd=proj, env=env) == regress_head  # a new (revert) commit
    assert _pointer(proj) == p1
    for p in (p1, p2):  # the remote still holds both models
        assert _remote_object(remote, p["model"]["md5"]).is_file()

    out = tmp_path / "fetched"
    pulled = mlgate("pull-model", "--version", "v1.0.0", "-o", str(out), cwd=proj, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert _sha256(out / "model.skops") == p1["model"]["sha256"]
    live = mlgate("pull-model", "-o", str(tmp_path / "live"), cwd=proj, env=env)
    assert live.returncode == 0, live.stderr
    assert _sha256(tmp_path / "live" / "model.skops") == p1["model"]["sha256"]

    hist = mlgate("history", "--json", cwd=proj, env=env)
    assert hist.returncode == 0, hist.stderr
    entries = json.loads(hist.stdout)["deployments"]
    assert [e["kind"] for e in entries] == ["rollback", "deploy", "deploy"]
    assert [e["version"] for e in entries] == ["v1.0.0", "v1.1.0", "v1.0.0"]
    assert entries[1]["model"]["sha256"] == p2["model"]["sha256"]
    md = mlgate("history", "--md", cwd=proj, env=env).stdout
    assert md.count("| v1.") == 3 and "rollback" in md
    table = mlgate("history", cwd=proj, env=env)
    assert table.returncode == 0 and "v1.1.0" in table.stdout

    status = json.loads(mlgate("status", "--json", cwd=proj, env=env).stdout)
    assert status["live"]["version"] == "v1.0.0"
    assert status["workspace"]["differs_from_live"] is True  # the workspace has v1.2.0's model
    assert status["published"] is False  # the rollback is not pushed yet

    # The rollback is not rolled back: v1.0.0 is the first release, nothing earlier is left.
    again = mlgate("rollback", cwd=proj, env=env)
    assert again.returncode == 2 and "first release" in again.stderr, again.stdout + again.stderr
    assert git("log", "-1", "--format=%s", cwd=proj, env=env) == "rollback: v1.1.0 -> v1.0.0"


def test_corrupted_remote_object_fails_pull_and_rollback_refusals(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    proj, remote = reproduced_project, tmp_path / "dvc-remote"
    _setup(proj, tmp_path, env, dvc_remote=remote)
    git("tag", "v1.0.0", cwd=proj, env=env)
    assert mlgate("release", "v1.0.0", cwd=proj, env=env).returncode == 0
    pointer = _pointer(proj)

    nothing = mlgate("rollback", cwd=proj, env=env)  # the first release: nothing earlier
    assert nothing.returncode == 2 and "nothing to roll back" in nothing.stderr

    # only the pointer's sha256 is wrong: md5 and size fit the (intact) remote object
    out = tmp_path / "out"
    text = (proj / POINTER).read_text()
    assert text.count(pointer["model"]["sha256"]) == 1
    (proj / POINTER).write_text(text.replace(pointer["model"]["sha256"], "e" * 64))
    wrong = mlgate("pull-model", "-o", str(out), cwd=proj, env=env)
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert "fails verification" in wrong.stderr and "e" * 64 in wrong.stderr
    assert not out.exists()
    (proj / POINTER).write_text(text)

    obj = _remote_object(remote, pointer["model"]["md5"])
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte
    obj.chmod(0o644)
    obj.write_bytes(bytes(data))
    pulled = mlgate("pull-model", "-o", str(out), cwd=proj, env=env)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert "v1.0.0" in pulled.stderr and pointer["model"]["sha256"] in pulled.stderr
    assert not out.exists()  # nothing left at the destination

    obj.unlink()  # a missing object: the same refusal, naming version and hash
    missing = mlgate("pull-model", "-o", str(out), cwd=proj, env=env)
    assert missing.returncode == 2 and pointer["model"]["md5"] in missing.stderr
    assert not out.exists()


def test_failures_part_way_leave_pointer_and_branch_unchanged(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    proj = reproduced_project
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the remote's parent folder should be\n")
    _setup(proj, tmp_path, env, dvc_remote=blocker / "remote")  # unreachable: push fails
    git("tag", "v1.0.0", cwd=proj, env=env)
    head = git("rev-parse", "HEAD", cwd=proj, env=env)

    def unchanged() -> None:
        assert not (proj / POINTER).exists()
        assert git("rev-parse", "HEAD", cwd=proj, env=env) == head
        assert git("status", "--porcelain", cwd=proj, env=env) == ""

    failed = mlgate("release", "v1.0.0", cwd=proj, env=env)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "push" in failed.stderr and "v1.0.0" in failed.stderr
    unchanged()

    # The DVC push works, but origin refuses the deploy commit: the local commit is undone.
    good = tmp_path / "dvc-remote"
    run(["dvc", "remote", "modify", "--local", "test", "url", str(good)], cwd=proj, env=env)
    hook = tmp_path / "origin.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    rejected = mlgate("release", "v1.0.0", "--push", cwd=proj, env=env)
    assert rejected.returncode == 2, rejected.stdout + rejected.stderr
    assert "undone" in rejected.stderr
    unchanged()

    # Refusals before anything happens: bad tag names, unknown tags, a dirty tree.
    assert mlgate("release", "1.0.0", cwd=proj, env=env).returncode == 2
    assert mlgate("release", "v9.9.9", cwd=proj, env=env).returncode == 2
    (proj / "params.yaml").write_text((proj / "params.yaml").read_text() + "\n# dirty\n")
    dirty = mlgate("release", "v1.0.0", cwd=proj, env=env)
    assert dirty.returncode == 2 and "uncommitted" in dirty.stderr
    git("checkout", "-q", "--", "params.yaml", cwd=proj, env=env)
    git("checkout", "-q", "-b", "feature", cwd=proj, env=env)  # a tag off the default branch
    git("commit", "-q", "--allow-empty", "-m", "wip", cwd=proj, env=env)
    git("tag", "v2.0.0", cwd=proj, env=env)
    git("checkout", "-q", "main", cwd=proj, env=env)
    off = mlgate("release", "v2.0.0", cwd=proj, env=env)
    assert off.returncode == 2 and "not on the history of main" in off.stderr
    _set_c(proj, "0.25")  # params changed without `dvc repro`: the lock is stale at the tag
    git("commit", "-q", "-m", "forgot dvc repro", "--", "params.yaml", cwd=proj, env=env)
    git("tag", "v1.0.1", cwd=proj, env=env)
    stale = mlgate("release", "v1.0.1", cwd=proj, env=env)
    assert stale.returncode == 2 and "not up to date" in stale.stderr
    assert not (proj / POINTER).exists()

    hook.unlink()
    ok = mlgate("release", "v1.0.0", "--push", cwd=proj, env=env)
    assert ok.returncode == 0, ok.stderr
    assert git("rev-parse", "origin/main", cwd=proj, env=env) == git(
        "rev-parse", "HEAD", cwd=proj, env=env
    )
