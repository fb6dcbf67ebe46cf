"""History parsing (pure), rollback planning (pure), and both over a small real git repository."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlgate.deploy.history import (
    Deployment,
    classify,
    deployments,
    history,
    in_effect,
    parse_log,
)
from mlgate.deploy.pointer import POINTER_PATH, ModelRef, Pointer, dumps_pointer, write_pointer
from mlgate.deploy.rollback import plan_rollback, rollback
from mlgate.errors import GitError, RemoteError
from mlgate.git import Repo
from tests.conftest import git, run

A, B, C = "a" * 40, "b" * 40, "c" * 40
BLOB1, BLOB2 = "1" * 40, "2" * 40


def _model(n: int) -> bytes:
    """The bytes of model ``n``: the pointers name their real md5, sha256 and size, since
    rollback reads the object back from the remote and checks all three."""
    return f"model number {n}\n".encode()


def _pointer(version: str, n: int) -> Pointer:
    data = _model(n)
    md5 = hashlib.md5(data).hexdigest()
    return Pointer(
        version=version,
        commit=f"{n:040x}",
        model=ModelRef("models/model.skops", md5, hashlib.sha256(data).hexdigest(), len(data)),
        metrics={"f1": 0.9 + n / 100},
        released_at=datetime(2026, 1, n, tzinfo=UTC),
    )


def _raw(old: str, new: str, path: str = POINTER_PATH, status: str = "M") -> str:
    return f":100644 100644 {old} {new} {status}\t{path}\n"


def _record(sha: str, message: str, raw: str) -> str:
    return f"\x1e{sha}\x1f2026-01-02T03:04:05+01:00\x1f{message}\n\x1f\n\n{raw}"


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


def test_parse_log_reads_what_a_commit_reverts() -> None:
    mlgate_body = f"rollback: v1.2.0 -> v1.0.0\n\nThis reverts commit {C} (deploy: v1.2.0).\n"
    mlgate_body += f"This reverts commit {B} (deploy: v1.1.0).\n"
    git_body = f'Revert "deploy: v1.1.0"\n\nThis reverts commit {B}.\n'
    trailer = "hand rollback\nover two lines\n\nbecause.\n\nReverts: abcdef1\nSigned-off-by: x\n"
    text = (
        _record(C, mlgate_body, _raw(BLOB2, BLOB1))
        + _record(B, git_body, _raw(BLOB1, BLOB2))
        + _record(A, trailer, _raw(BLOB2, BLOB1))
        + _record("d" * 40, "deploy: v1\n\nmentions This reverts commit aaaaaaa mid-line", "")
    )
    records = parse_log(text)
    assert [r.reverts for r in records] == [(C, B), (B,), ("abcdef1",), ()]
    assert [r.subject for r in records[:3]] == [
        "rollback: v1.2.0 -> v1.0.0",
        'Revert "deploy: v1.1.0"',
        "hand rollback over two lines",
    ]
    assert records[0].blob == BLOB1 and records[0].paths == (POINTER_PATH,)
    # A record separator inside a message does not start a new record.
    odd = parse_log(_record(A, "deploy: v1\n\nbody \x1e with RS", _raw("0" * 40, BLOB1)))
    assert len(odd) == 1 and odd[0].blob == BLOB1


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


WHEN = datetime(2026, 1, 1, tzinfo=UTC)
P = {v: _pointer(v, n) for n, v in enumerate(("v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"), start=1)}


def _deploy(sha: str, version: str) -> Deployment:
    return Deployment("deploy", sha, WHEN, f"deploy: {version}", P[version], (POINTER_PATH,))


def _rollback(sha: str, to: str, *reverts: Deployment) -> Deployment:
    """The commit ``rollback()`` makes from ``plan_rollback``'s answer."""
    subject = f"rollback: ... -> {to}"
    shas = tuple(r.change_commit for r in reverts)
    return Deployment("rollback", sha, WHEN, subject, P[to], (POINTER_PATH,), None, shas)


def _sha(n: int) -> str:
    return f"{n:x}" * 40


def test_plan_rollback() -> None:
    p1, p2 = P["v1.0.0"], P["v1.1.0"]
    e = [_deploy(C, "v1.2.0"), _deploy(B, "v1.1.0"), _deploy(A, "v1.0.0")]
    assert plan_rollback(e, None) == (e[:1], p2)
    assert plan_rollback(e, "v1.0.0") == (e[:2], p1)
    with pytest.raises(GitError, match="already live"):
        plan_rollback(e, "v1.2.0")
    with pytest.raises(GitError, match="never deployed"):
        plan_rollback(e, "v0.1.0")
    with pytest.raises(GitError, match="expected a release version"):
        plan_rollback(e, "latest")
    with pytest.raises(GitError, match="first release"):
        plan_rollback(e[2:], None)
    with pytest.raises(GitError, match="nothing to roll back"):
        plan_rollback([], None)


def test_plan_rollback_twice_steps_back_through_the_deploys() -> None:
    d1, d2, d3 = _deploy(A, "v1.0.0"), _deploy(B, "v1.1.0"), _deploy(C, "v1.2.0")
    e = [d3, d2, d1]
    reverts, target = plan_rollback(e, None)
    assert (reverts, target) == ([d3], P["v1.1.0"])
    e = [_rollback(_sha(4), "v1.1.0", *reverts), *e]
    assert in_effect(e) == [True, False, True, True]
    # The second rollback reverts v1.1.0's deploy, not the first rollback.
    reverts, target = plan_rollback(e, None)
    assert (reverts, target) == ([d2], P["v1.0.0"])
    e = [_rollback(_sha(5), "v1.0.0", *reverts), *e]
    with pytest.raises(GitError, match=r"nothing to roll back: v1\.0\.0 is the first release"):
        plan_rollback(e, None)
    # v1.2.0 and v1.1.0 were rolled back: --to cannot go "back" to them.
    with pytest.raises(GitError, match=r"deploy it again with `mlgate release v1\.2\.0`"):
        plan_rollback(e, "v1.2.0")


def test_plan_rollback_then_release_then_rollback() -> None:
    d1, d2, d3 = _deploy(A, "v1.0.0"), _deploy(B, "v1.1.0"), _deploy(C, "v1.2.0")
    r1 = _rollback(_sha(4), "v1.1.0", d3)
    d4 = _deploy(_sha(5), "v1.3.0")
    e = [d4, r1, d3, d2, d1]
    assert plan_rollback(e, None) == ([d4], P["v1.1.0"])  # the pointer as r1 left it
    r2 = _rollback(_sha(6), "v1.1.0", d4)
    e = [r2, *e]
    assert in_effect(e) == [True, False, True, False, True, True]
    assert plan_rollback(e, None) == ([d2], P["v1.0.0"])
    # --to skips what is already undone, in one commit.
    assert plan_rollback(e[1:], "v1.0.0") == ([d4, d2], P["v1.0.0"])


def test_plan_rollback_to_a_version_and_then_once_more() -> None:
    d = [_deploy(_sha(n), v) for n, v in enumerate(P, start=1)][::-1]  # v1.3.0 first
    reverts, target = plan_rollback(d, "v1.1.0")
    assert (reverts, target) == (d[:2], P["v1.1.0"])
    e = [_rollback(_sha(9), "v1.1.0", *reverts), *d]
    assert plan_rollback(e, None) == ([d[2]], P["v1.0.0"])
    with pytest.raises(GitError, match="already live"):
        plan_rollback(e, "v1.1.0")


def test_plan_rollback_takes_pointer_edits_and_reverted_rollbacks_into_account() -> None:
    d1, d2 = _deploy(A, "v1.0.0"), _deploy(B, "v1.1.0")
    edit = Deployment("edit", C, WHEN, "pointer: fix metrics", P["v1.1.0"], (POINTER_PATH,))
    assert plan_rollback([edit, d2, d1], None) == ([edit, d2], P["v1.0.0"])
    # `git revert` of a rollback (abbreviated SHA) brings the rolled-back deploy back.
    r1 = _rollback(_sha(4), "v1.0.0", d2)
    redo = Deployment(
        "edit", _sha(5), WHEN, 'Revert "rollback"', P["v1.1.0"], (), None, (_sha(4)[:7],)
    )
    e = [redo, r1, d2, d1]
    assert in_effect(e) == [True, False, True, True]
    assert plan_rollback(e, None) == ([d2], P["v1.0.0"])
    with pytest.raises(GitError, match="no deploy commit"):
        plan_rollback([edit], None)


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
        obj.write_bytes(_model(n))
        _commit_pointer(repo, env, p, f"deploy: {version}")
    return repo


def test_history_from_git_and_rollback_twice_then_release(
    deployed: Path, env: dict[str, str]
) -> None:
    entries = history(Repo(deployed, env))
    assert [(e.kind, e.version) for e in entries] == [
        ("deploy", "v1.2.0"),
        ("deploy", "v1.1.0"),
        ("deploy", "v1.0.0"),
    ]
    head = git("rev-parse", "HEAD", cwd=deployed, env=env)
    assert entries[0].change_commit == head and entries[0].paths == (POINTER_PATH,)
    assert history(Repo(deployed, env), rev="no-such-branch") == []

    # Rolling back twice steps back through the deploys; then a release, then a rollback.
    repo = Repo(deployed, env)
    assert rollback(repo).pointer == _pointer("v1.1.0", 2)
    second = rollback(repo)
    assert (second.previous.version, second.pointer) == ("v1.1.0", _pointer("v1.0.0", 1))
    assert git("log", "-1", "--format=%s", cwd=deployed, env=env) == "rollback: v1.1.0 -> v1.0.0"
    head = repo.head()
    with pytest.raises(GitError, match="first release"):
        rollback(repo)
    assert repo.head() == head
    _commit_pointer(deployed, env, _pointer("v1.2.0", 3), "deploy: v1.2.0")  # released again
    third = rollback(repo)
    assert (third.previous.version, third.pointer.version) == ("v1.2.0", "v1.0.0")
    kinds = [(e.kind, e.version) for e in history(repo)]
    assert kinds[:3] == [("rollback", "v1.0.0"), ("deploy", "v1.2.0"), ("rollback", "v1.0.0")]
    # `git revert` of that rollback by hand brings v1.2.0 back; the next rollback undoes it.
    git("revert", "--no-edit", "HEAD", cwd=deployed, env=env)
    fourth = rollback(repo)
    assert (fourth.previous.version, fourth.pointer.version) == ("v1.2.0", "v1.0.0")
    assert fourth.reverted == (third.reverted[0],)


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


@pytest.mark.parametrize("to", [None, "v1.0.0"], ids=["newest", "to-v1.0.0"])
def test_rollback_refuses_a_deploy_commit_that_changed_other_files(
    deployed: Path, env: dict[str, str], to: str | None
) -> None:
    """Reverting such a commit would undo the other change too: refused, nothing changes."""
    repo = Repo(deployed, env)
    git("checkout", "-q", "HEAD~1", "--", POINTER_PATH, cwd=deployed, env=env)  # v1.1.0 again
    git("reset", "-q", "--soft", "HEAD~1", cwd=deployed, env=env)  # redo v1.2.0's deploy ...
    write_pointer(deployed / POINTER_PATH, _pointer("v1.2.0", 3))
    (deployed / "params.yaml").write_text("train: {C: 0.5}\n")  # ... with a params change
    git("add", POINTER_PATH, "params.yaml", cwd=deployed, env=env)
    git("commit", "-q", "-m", "deploy: v1.2.0", cwd=deployed, env=env)
    head = repo.head()
    assert set(history(repo)[0].paths) == {"params.yaml", POINTER_PATH}
    with pytest.raises(GitError, match=r"changed params\.yaml besides deploy/production\.yaml"):
        rollback(repo, to=to)
    assert repo.head() == head
    assert git("status", "--porcelain", cwd=deployed, env=env) == ""
    assert (deployed / "params.yaml").read_text() == "train: {C: 0.5}\n"


def test_status_and_markdown(deployed: Path, env: dict[str, str]) -> None:
    from mlgate.deploy.render import history_markdown
    from mlgate.deploy.status import status

    repo = Repo(deployed, env)
    st = status(repo, model_path="models/model.skops")
    assert st.live == _pointer("v1.2.0", 3) and st.change_commit == repo.head()
    assert st.published is None and st.workspace_sha256 is None and st.workspace_differs
    model = deployed / "models" / "model.skops"
    model.parent.mkdir()
    model.write_bytes(b"not the live model")
    doc = status(repo, model_path="models/model.skops").to_json()
    assert doc["workspace"]["differs_from_live"] is True and doc["live"]["version"] == "v1.2.0"
    md = history_markdown(history(repo))
    assert md.splitlines()[4].startswith("| live | v1.2.0 | deploy |") and md.count("| v1.") == 3


@pytest.mark.parametrize("remote", [None, "store"], ids=["folder", "through-dvc"])
def test_rollback_refuses_a_same_size_corrupted_object(
    deployed: Path, env: dict[str, str], tmp_path: Path, remote: str | None
) -> None:
    """An existence-and-size check passes here; reading the object back does not."""
    repo = Repo(deployed, env)
    head, before = repo.head(), (deployed / POINTER_PATH).read_bytes()
    target = _pointer("v1.1.0", 2).model
    obj = tmp_path / "store" / "files" / "md5" / target.md5[:2] / target.md5[2:]
    obj.write_bytes(_model(2).replace(b"2", b"7"))  # same size, other bytes
    with pytest.raises(RemoteError) as info:
        rollback(repo, remote=remote)
    message = str(info.value)
    assert "refusing to roll back to v1.1.0" in message and target.sha256 in message
    assert "'store'" in message and "does not match the pointer" in message
    assert repo.head() == head and (deployed / POINTER_PATH).read_bytes() == before
