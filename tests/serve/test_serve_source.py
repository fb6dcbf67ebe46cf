"""mlgate.serve.source: following a branch (``--ref``) and a local non-bare ``--repo``.

Real git repositories in ``tmp_path``; the models are small byte strings in a plain-folder
DVC remote (RepoSource fetches through :func:`mlgate.deploy.remote.fetch_model`).
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from mlgate.deploy.pointer import POINTER_PATH, read_pointer, write_pointer
from mlgate.errors import GitError
from mlgate.git import Repo
from mlgate.serve.source import RepoSource
from tests.conftest import BIN, git, run
from tests.serve_support import example_row, free_port, model_bytes, pointer_for


def _store(folder: Path, data: bytes) -> None:
    md5 = hashlib.md5(data).hexdigest()
    (folder / "files" / "md5" / md5[:2]).mkdir(parents=True, exist_ok=True)
    (folder / "files" / "md5" / md5[:2] / md5[2:]).write_bytes(data)


def _deploy(work: Path, env: dict[str, str], data: bytes, version: str) -> str:
    head = git("rev-parse", "HEAD", cwd=work, env=env)  # the commit the model was built at
    write_pointer(work / POINTER_PATH, pointer_for(data, version, commit=head))
    git("add", POINTER_PATH, cwd=work, env=env)
    git("commit", "-q", "-m", f"deploy: {version}", cwd=work, env=env)
    return git("rev-parse", "HEAD", cwd=work, env=env)


@pytest.fixture
def work(tmp_path: Path, env: dict[str, str]) -> Path:
    """A non-bare repository: main deploys v1.0.0, branch staging deploys v2.0.0-rc1; its DVC
    remote is a relative path in .dvc/config, overridden in the git-ignored config.local."""
    work = tmp_path / "work"
    (work / ".dvc").mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work, env=env)
    (work / ".dvc" / "config").write_text(
        "[core]\n    remote = store\n['remote \"store\"']\n    url = ../../not-the-store\n"
    )
    (work / ".dvc" / ".gitignore").write_text("/config.local\n")
    (work / ".dvc" / "config.local").write_text("['remote \"store\"']\n    url = ../../store\n")
    git("add", ".dvc/config", ".dvc/.gitignore", cwd=work, env=env)
    git("commit", "-q", "-m", "dvc remote", cwd=work, env=env)
    for data in (b"model one" * 50, b"model two" * 50):
        _store(tmp_path / "store", data)
    _deploy(work, env, b"model one" * 50, "v1.0.0")
    git("checkout", "-q", "-b", "staging", cwd=work, env=env)
    _deploy(work, env, b"model two" * 50, "v2.0.0-rc1")
    git("checkout", "-q", "main", cwd=work, env=env)
    return work


def _version(source: RepoSource, commit: str) -> str:
    data = source.read(commit, POINTER_PATH)
    assert data is not None
    return str(yaml.safe_load(data)["version"])


def test_ref_follows_the_named_branch_of_a_bare_origin(
    work: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    origin = tmp_path / "origin.git"
    run(["git", "clone", "-q", "--bare", str(work), str(origin)], cwd=tmp_path, env=env)
    default = RepoSource(url=str(origin), ref=None, cache_dir=tmp_path / "c1", env=env)
    assert _version(default, default.poll()) == "v1.0.0"
    staging = RepoSource(url=str(origin), ref="staging", cache_dir=tmp_path / "c2", env=env)
    tip = staging.poll()
    assert tip == git("rev-parse", "staging", cwd=work, env=env)
    assert _version(staging, tip) == "v2.0.0-rc1"
    # a new commit pushed to the branch is seen on the next poll; main is not
    git("checkout", "-q", "staging", cwd=work, env=env)
    newer = _deploy(work, env, b"model one" * 50, "v2.0.0-rc2")
    git("push", "-q", str(origin), "staging", cwd=work, env=env)
    assert staging.poll() == newer and _version(staging, newer) == "v2.0.0-rc2"
    assert _version(default, default.poll()) == "v1.0.0"
    missing = RepoSource(url=str(origin), ref="nope", cache_dir=tmp_path / "c3", env=env)
    with pytest.raises(GitError, match="no branch 'nope'; check --ref"):
        missing.poll()


def test_a_local_non_bare_repo_is_followed_by_commits_and_is_its_own_dvc_project(
    work: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    before = git("status", "--porcelain", "--ignored", cwd=work, env=env)
    source = RepoSource(url=str(work), ref="staging", cache_dir=tmp_path / "cache", env=env)
    tip = source.poll()
    assert tip == git("rev-parse", "staging", cwd=work, env=env)
    # the checked-out branch (main) and uncommitted edits are not what is served
    write_pointer(work / POINTER_PATH, pointer_for(b"model one" * 50, "v9.9.9"))
    assert _version(source, source.poll()) == "v2.0.0-rc1"
    git("checkout", "-q", "--", POINTER_PATH, cwd=work, env=env)
    # the model comes from the remote that .dvc/config.local names, resolved in `work`
    pointer = read_pointer(Repo(work, env), "staging")
    assert pointer is not None
    dest = tmp_path / "fetched" / "model.skops"
    assert source.fetch_model(pointer, tip, dest) == dest
    assert dest.read_bytes() == b"model two" * 50
    # nothing was written into the followed repository
    assert git("status", "--porcelain", "--ignored", cwd=work, env=env) == before
    assert git("rev-parse", "HEAD", cwd=work, env=env) == git(
        "rev-parse", "main", cwd=work, env=env
    )


def test_a_clone_left_half_done_by_a_killed_replica_is_removed(
    work: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    source = RepoSource(url=str(work), ref=None, cache_dir=tmp_path / "cache", env=env)
    stray = source.path.with_name(source.path.name + ".tmp4242")  # another replica's pid
    (stray / ".git").mkdir(parents=True)
    assert _version(source, source.poll()) == "v1.0.0"
    assert not stray.exists()
    assert sorted(p.name for p in source.path.parent.iterdir()) == [source.path.name]


@pytest.mark.slow
@pytest.mark.serial
def test_mlgate_serve_follows_ref_of_a_local_non_bare_repo(
    work: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """The command line: --repo a folder inside a non-bare repository, --ref a branch."""
    import httpx

    for data in (model_bytes(1.0), model_bytes(0.01)):
        _store(tmp_path / "store", data)
    _deploy(work, env, model_bytes(1.0), "v1.0.0")
    git("checkout", "-q", "staging", cwd=work, env=env)
    _deploy(work, env, model_bytes(0.01), "v2.0.0-rc2")
    git("checkout", "-q", "main", cwd=work, env=env)
    port = free_port()
    log = tmp_path / "serve.log"
    args = [
        str(BIN / "mlgate"), "serve", "--repo", str(work / ".dvc"), "--ref", "staging",
        "--port", str(port), "--interval", "1", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    with log.open("wb") as err:
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 60
            version: dict[str, object] = {}
            while time.monotonic() < deadline and version.get("version") != "v2.0.0-rc2":
                assert proc.poll() is None, log.read_text()
                with contextlib.suppress(httpx.TransportError):  # not listening yet
                    version = dict(client.get("/version").json())
                time.sleep(0.1)  # polling for readiness, not a fixed wait
            assert version.get("version") == "v2.0.0-rc2", log.read_text()
            # the pointer's commit: the one before staging's deploy commit
            assert version["commit"] == git("rev-parse", "staging~1", cwd=work, env=env)
            answer = client.post("/predict", json={"rows": [example_row()]})
            assert answer.status_code == 200 and answer.json()["version"] == "v2.0.0-rc2"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    assert git("status", "--porcelain", cwd=work, env=env) == ""
