"""History parsing (pure), rollback planning (pure), and both over a small real git repository."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlgate.deploy.history import Deployment, classify, deployments, history, parse_log
from mlgate.deploy.pointer import POINTER_PATH, ModelRef, Pointer, dumps_pointer, write_pointer
from mlgate.deploy.rollback import plan_rollback, rollback
from mlgate.errors import GitError, RemoteError
from mlgate.git import Repo
from tests.conftest import git, run

A, B, C = "a" * 40, "b" * 40, "c" * 40
BLOB1, BLOB2 = "1" * 40, "2" * 40


def _pointer(version: str, n: int) -> Pointer:
    return Pointer(
        version=version,
        commit=f"{n:040x}",
        model=ModelRef("models/model.skops", f"{n:032x}", f"{n:064x}", 10 + n),
        metrics={"f1": 0.9 + n / 100},
        released_at=datetime(2026, 1, n, tzinfo=UTC),
    )


def _raw(old: str, new: str, path: str = POINTER_PATH, status: str = "M") -> str:
    return f":100644 100644 {old} {new} {status}\t{path}\n"


def _record(sha: str, subject: str, raw: str) -> str:
    return f"\x1e{sha}\x1f2026-01-02T03:04:05+01:00\x1f{subject}\x1f\n\n{raw}"


def test_parse_log_reads_commits_blobs_and_paths() -> None:
    text = (
        _record(C, "rollback: v1.1.0 -> v1.0.0", _raw(BLOB2, BLOB1))
        + _record(B, "deploy: v1.1.0", _raw(BLOB1, BLOB2) + _raw("3" * 40, "4" * 40, "x.txt"))
        + _record(A, "deploy: v1.0.0", _raw("0" * 40, BLOB1, status="A"))
    )
    records = parse_log(text)
    assert [r.commit for r in records] == [C, B, A]
    assert [r.blob for r in records] == [BLOB1, BLOB2, BLOB1]
    assert records[1].paths == (POINTER_PATH, "x.txt")
    assert records[0].date == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    deleted = parse_log(_record(A, "remove", _raw(BLOB1, "0" * 40, status="D")))
    assert deleted[0].blob is None
    assert parse_log("") == []


def test_subject_with_separator_characters_survives() -> None:
    records = parse_log(_record(A, "deploy: v1\x1fodd", _raw("0" * 40, BLOB1)))
    assert records[0].subject == "deploy: v1\x1fodd" and records[0].blob == BLOB1


def test_deployments_classify_and_tolerate_a_bad_pointer() -> None:
    p1, p2 = _pointer("v1.0.0", 1), _pointer("v1.1.0", 2)
    text = (
        _record(C, "rollback: v1.1.0 -> v1.0.0", _raw(BLOB2, BLOB1))
        + _record(B, "deploy: v1.1.0", _raw(BLOB1, BLOB2))
        + _record(A, "deploy: v1.0.0", _raw("0" * 40, BLOB1))
    )
    blobs = {BLOB1: dumps_pointer(p1).encode(), BLOB2: dumps_pointer(p2).encode()}
    entries = deployments(parse_log(text), blobs)
    assert [(e.kind, e.version) for e in entries] == [
        ("rollback", "v1.0.0"),
        ("deploy", "v1.1.0"),
        ("deploy", "v1.0.0"),
    ]
    assert entries[0].pointer == p1
    broken = deployments(parse_log(text), {BLOB1: b"version: 1\n", BLOB2: blobs[BLOB2]})
    assert broken[0].kind == "edit" and broken[0].pointer is None and broken[0].error
    assert classify('Revert "deploy: v1.1.0"', p1) == "rollback"
    assert classify("hand edit", p1) == "edit" and classify("deploy: v1", None) == "removed"


def test_plan_rollback() -> None:
    p1, p2, p3 = _pointer("v1.0.0", 1), _pointer("v1.1.0", 2), _pointer("v1.2.0", 3)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    e = [
        Deployment("deploy", C, when, "deploy: v1.2.0", p3),
        Deployment("deploy", B, when, "deploy: v1.1.0", p2),
        Deployment("deploy", A, when, "deploy: v1.0.0", p1),
    ]
    assert plan_rollback(e, None) == (e[:1], p2)
    assert plan_rollback(e, "v1.0.0") == (e[:2], p1)
    with pytest.raises(GitError, match="already live"):
        plan_rollback(e, "v1.2.0")
    with pytest.raises(GitError, match="never deployed"):
        plan_rollback(e, "v0.1.0")
    with pytest.raises(GitError, match="first release"):
        plan_rollback(e[2:], None)
    with pytest.raises(GitError, match="nothing to roll back"):
        plan_rollback([], None)


# -- a real repository: history from git, and a rollback over several commits ------------------


def _commit_pointer(repo: Path, env: dict[str, str], pointer: Pointer, message: str) -> None:
    write_pointer(repo / POINTER_PATH, pointer)
    git("add", POINTER_PATH, cwd=repo, env=env)
    git("commit", "-q", "-m", message, cwd=repo, env=env)


@pytest.fixture
def deployed(tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DVC repo with three deploy commits and a local DVC remote holding their 'models'."""
    for key in ("HOME", "DVC_NO_ANALYTICS", "DVC_SITE_CACHE_DIR"):
        monkeypatch.setenv(key, env[key])
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo, env=env)
    run(["dvc", "init", "-q"], cwd=repo, env=env)
    run(["dvc", "remote", "add", "-d", "store", str(tmp_path / "store")], cwd=repo, env=env)
    git("add", ".", cwd=repo, env=env)
    git("commit", "-q", "-m", "init", cwd=repo, env=env)
    for n, version in enumerate(("v1.0.0", "v1.1.0", "v1.2.0"), start=1):
        p = _pointer(version, n)
        obj = tmp_path / "store" / "files" / "md5" / p.model.md5[:2] / p.model.md5[2:]
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(b"x" * p.model.size)
        _commit_pointer(repo, env, p, f"deploy: {version}")
    return repo


def test_history_from_git(deployed: Path, env: dict[str, str]) -> None:
    entries = history(Repo(deployed, env))
    assert [(e.kind, e.version) for e in entries] == [
        ("deploy", "v1.2.0"),
        ("deploy", "v1.1.0"),
        ("deploy", "v1.0.0"),
    ]
    head = git("rev-parse", "HEAD", cwd=deployed, env=env)
    assert entries[0].change_commit == head and entries[0].paths == (POINTER_PATH,)
    assert history(Repo(deployed, env), rev="no-such-branch") == []


def test_rollback_to_an_older_version_reverts_several_commits(
    deployed: Path, env: dict[str, str]
) -> None:
    repo = Repo(deployed, env)
    result = rollback(repo, to="v1.0.0")
    assert result.pointer == _pointer("v1.0.0", 1) and len(result.reverted) == 2
    subject = git("log", "-1", "--format=%s", cwd=deployed, env=env)
    assert subject == "rollback: v1.2.0 -> v1.0.0"
    assert git("status", "--porcelain", cwd=deployed, env=env) == ""
    assert not (deployed / ".git" / "sequencer").exists()
    assert not (deployed / ".git" / "REVERT_HEAD").exists()
    entries = history(repo)
    assert entries[0].kind == "rollback" and entries[0].version == "v1.0.0"


def test_rollback_refuses_a_missing_model_and_a_dirty_tree(
    deployed: Path, env: dict[str, str], tmp_path: Path
) -> None:
    repo = Repo(deployed, env)
    head = repo.head()
    md5 = _pointer("v1.1.0", 2).model.md5
    (tmp_path / "store" / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    with pytest.raises(RemoteError, match=r"v1\.1\.0"):
        rollback(repo)
    assert repo.head() == head
    (deployed / POINTER_PATH).write_text("dirty\n")
    with pytest.raises(GitError, match="uncommitted"):
        rollback(repo)


def test_status_and_markdown(deployed: Path, env: dict[str, str]) -> None:
    from mlgate.deploy.render import history_markdown
    from mlgate.deploy.status import status

    repo = Repo(deployed, env)
    st = status(repo)
    assert st.live == _pointer("v1.2.0", 3) and st.change_commit == repo.head()
    assert st.published is None and st.workspace_sha256 is None and st.workspace_differs
    model = deployed / "models" / "model.skops"
    model.parent.mkdir()
    model.write_bytes(b"not the live model")
    doc = status(repo).to_json()
    assert doc["workspace"]["differs_from_live"] is True and doc["live"]["version"] == "v1.2.0"
    md = history_markdown(history(repo))
    assert md.splitlines()[4].startswith("| live | v1.2.0 | deploy |") and md.count("| v1.") == 3
