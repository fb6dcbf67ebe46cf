"""The git gateway: reading objects in batches, listing trees, experiments, changed paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.errors import GitError
from mlgate.git import Repo
from tests.conftest import git


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> Repo:
    root = tmp_path / "repo"
    (root / "a" / "b").mkdir(parents=True)
    (root / "top.txt").write_text("top\n")
    (root / "a" / "b" / "deep.txt").write_text("deep\n")
    git("init", "-q", "-b", "main", cwd=root, env=env)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "one", cwd=root, env=env)
    return Repo(root, env)


def test_show_many_and_cat_blobs_read_one_batch(repo: Repo) -> None:
    got = repo.show_many("HEAD", ["top.txt", "a/b/deep.txt", "missing.txt", "a"])
    assert got == {"top.txt": b"top\n", "a/b/deep.txt": b"deep\n", "missing.txt": None, "a": None}
    listing = repo.ls_tree("HEAD")
    assert listing["a"][0] == "tree" and listing["a/b/deep.txt"][0] == "blob"
    oids = [listing["top.txt"][1], listing["a/b/deep.txt"][1], "0" * 40]
    assert repo.cat_blobs(oids) == {oids[0]: b"top\n", oids[1]: b"deep\n"}
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        repo.show_many("nope", ["top.txt"])
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        repo.ls_tree("nope")


def test_diff_trees_gives_each_commit_its_changes(repo: Repo, env: dict[str, str]) -> None:
    base = repo.head()
    (repo.root / "top.txt").write_text("changed\n")
    (repo.root / "new.txt").write_text("new\n")
    (repo.root / "a" / "b" / "deep.txt").unlink()
    git("add", "-A", cwd=repo.root, env=env)
    git("commit", "-q", "-m", "two", cwd=repo.root, env=env)
    head = repo.head()
    changes = repo.diff_trees([(head, base), (base, base)])
    assert sorted((s, p) for s, p, _ in changes[head]) == [
        ("A", "new.txt"),
        ("D", "a/b/deep.txt"),
        ("M", "top.txt"),
    ]
    assert changes[base] == []
    added = next(oid for s, p, oid in changes[head] if p == "new.txt")
    assert repo.cat_blobs([added]) == {added: b"new\n"}


def test_changed_paths_names_both_sides_of_a_rename(repo: Repo, env: dict[str, str]) -> None:
    git("mv", "top.txt", "renamed.txt", cwd=repo.root, env=env)
    (repo.root / "untracked file.txt").write_text("x")
    assert sorted(repo.changed_paths()) == ["renamed.txt", "top.txt", "untracked file.txt"]


def test_experiment_names_resolve_like_dvc(repo: Repo, env: dict[str, str]) -> None:
    head = repo.head()
    refs = {"lowc": head, "other": head}
    for name, sha in refs.items():  # refs/exps/<2>/<38>/<name>, as `dvc exp run -n` writes
        git("update-ref", f"refs/exps/{head[:2]}/{head[2:]}/{name}", sha, cwd=repo.root, env=env)
    assert repo.resolve("lowc") == head
    assert {e.name for e in repo.experiment_refs()} == {"lowc", "other"}
    assert repo.resolve_experiment("nosuch") is None
    git("commit", "-q", "--allow-empty", "-m", "two", cwd=repo.root, env=env)
    second = repo.head()
    ref = f"refs/exps/{second[:2]}/{second[2:]}/lowc"
    git("update-ref", ref, second, cwd=repo.root, env=env)
    assert repo.resolve("lowc") == second  # the one run from HEAD wins
    git("commit", "-q", "--allow-empty", "-m", "three", cwd=repo.root, env=env)
    with pytest.raises(GitError, match="'lowc' is ambiguous"):
        repo.resolve("lowc")
