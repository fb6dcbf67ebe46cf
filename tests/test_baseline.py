"""mlgate.baseline: the default baseline without a GitHub base ref or an ``origin``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.baseline import resolve_baseline
from mlgate.errors import GitError
from mlgate.git import Repo
from tests.conftest import git
from tests.gate_support import commit, metrics_repo


def _repo(tmp_path: Path, env: dict[str, str], *branches: str) -> tuple[Repo, dict[str, str]]:
    """A repository without ``origin``: a first commit, then each of ``branches`` forked
    from it with a commit of its own, then ``feature`` (checked out) grown from the last
    branch. Returns each branch's tip and the first commit (``"first"``)."""
    root = metrics_repo(tmp_path / "repo", env)  # one commit on `main`, no origin
    tips = {"first": git("rev-parse", "HEAD", cwd=root, env=env)}
    git("checkout", "-q", "--detach", cwd=root, env=env)
    git("branch", "-q", "-D", "main", cwd=root, env=env)
    for name in branches:
        git("checkout", "-q", "-b", name, tips["first"], cwd=root, env=env)
        tips[name] = commit(root, env, f"work on {name}", {f"{name}.txt": name})
    git("checkout", "-q", "-b", "feature", cwd=root, env=env)
    commit(root, env, "feature work", {"feature.txt": "x"})
    return Repo(root, env), tips


@pytest.mark.parametrize(
    ("branches", "expected"),
    [
        (("main",), "main"),
        (("master",), "master"),
        (("master", "main"), "main"),  # feature grew from main: main's tip
        (("main", "master"), "first"),  # feature grew from master: where it left main
    ],
)
def test_without_origin_main_then_master(
    tmp_path: Path, env: dict[str, str], branches: tuple[str, ...], expected: str
) -> None:
    repo, tips = _repo(tmp_path, env, *branches)
    assert repo.run("remote", check=False).stdout == b""  # really no origin
    assert resolve_baseline(repo, environ={}) == tips[expected]


def test_without_origin_main_or_master_says_what_to_name(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo, _ = _repo(tmp_path, env, "trunk")
    with pytest.raises(GitError, match=r"no default branch .*name a baseline revision"):
        resolve_baseline(repo, environ={})


def test_gitlab_merge_request_diff_base_sha_is_the_baseline(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo, tips = _repo(tmp_path, env, "main")
    environ = {
        "GITLAB_CI": "true",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": tips["first"],  # GitLab's merge-base, taken as is
    }
    assert resolve_baseline(repo, environ=environ) == tips["first"]


def test_gitlab_merge_request_target_branch_merge_base(tmp_path: Path, env: dict[str, str]) -> None:
    repo, tips = _repo(tmp_path, env, "main")
    git("update-ref", "refs/remotes/origin/release", tips["main"], cwd=repo.root, env=env)
    environ = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "release"}
    assert resolve_baseline(repo, environ=environ) == tips["main"]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "release"},
            r"origin/release \(from CI_MERGE_REQUEST_TARGET_BRANCH_NAME\).*GIT_DEPTH: 0",
        ),
        (
            {"CI_MERGE_REQUEST_DIFF_BASE_SHA": "b" * 40},
            r"b{40} \(from CI_MERGE_REQUEST_DIFF_BASE_SHA\) is not in this clone.*GIT_DEPTH: 0",
        ),
        ({"CI_MERGE_REQUEST_DIFF_BASE_SHA": "--all"}, r"expected a full commit SHA"),
    ],
)
def test_gitlab_baseline_missing_from_the_clone_names_the_fix(
    tmp_path: Path, env: dict[str, str], environ: dict[str, str], message: str
) -> None:
    repo, _ = _repo(tmp_path, env, "main")
    with pytest.raises(GitError, match=message):
        resolve_baseline(repo, environ=environ)
