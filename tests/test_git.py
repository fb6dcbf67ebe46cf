"""The git gateway: reading objects in batches, listing trees, experiments, changed paths."""

from __future__ import annotations

import os
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


def test_cat_file_lists_trees_and_reads_blobs_as_ls_tree_and_cat_blobs(
    repo: Repo, env: dict[str, str], tmp_path: Path
) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "x.txt").write_text("x\n")
    git("init", "-q", "-b", "main", cwd=sub, env=env)
    git("add", "-A", cwd=sub, env=env)
    git("commit", "-q", "-m", "sub", cwd=sub, env=env)
    sub_head = git("rev-parse", "HEAD", cwd=sub, env=env).strip()
    # a submodule entry (mode 160000), an executable, a symlink, odd names, a repeated subtree
    run = repo.root / "run.sh"
    run.write_text("#!/bin/sh\n")
    run.chmod(0o755)
    (repo.root / "link").symlink_to("top.txt")
    (repo.root / "z z" / "ü").mkdir(parents=True)
    (repo.root / "z z" / "ü" / "n-ä.txt").write_text("umlaut\n")
    (repo.root / "copy" / "b").mkdir(parents=True)
    (repo.root / "copy" / "b" / "deep.txt").write_text("deep\n")  # the same tree as a/b
    (repo.root / "a.txt").write_text("sorts between a and a/\n")
    git("add", "-A", cwd=repo.root, env=env)
    git(
        "update-index",
        "--add",
        "--cacheinfo",
        f"160000,{sub_head},vendor/sub",
        cwd=repo.root,
        env=env,
    )
    git("commit", "-q", "-m", "two", cwd=repo.root, env=env)
    for rev in ("HEAD", "HEAD~1", "main"):
        expected = repo.ls_tree(rev)
        with repo.cat_file() as batch:
            got = batch.ls_tree(rev)
            assert list(got.items()) == list(expected.items())  # same order too
            oids = [oid for kind, oid in expected.values() if kind == "blob"] + ["0" * 40]
            assert batch.blobs(oids) == repo.cat_blobs(oids)
    listing = repo.ls_tree("HEAD")
    assert listing["vendor/sub"] == ("commit", sub_head)
    assert listing["z z/ü/n-ä.txt"][0] == "blob"


def test_cat_file_answers_in_order_across_chunks_and_reports_missing(repo: Repo) -> None:
    listing = repo.ls_tree("HEAD")
    top = listing["top.txt"][1]
    names = ["HEAD:top.txt", "HEAD:missing", "nope^{tree}", "HEAD:a", "bad\nname", top]
    names += [f"HEAD:{'x' * 200}-{i}" for i in range(300)] + ["HEAD:a/b/deep.txt"]  # > 64 KiB
    with repo.cat_file() as batch:
        got = batch.get(names)
        assert got[0] == ("blob", b"top\n")
        assert got[1] is None and got[2] is None and got[4] is None
        assert got[3] is not None and got[3][0] == "tree"
        assert got[5] == ("blob", b"top\n")
        assert all(g is None for g in got[6:-1])
        assert got[-1] == ("blob", b"deep\n")
        with pytest.raises(GitError, match="unknown revision 'nope'"):
            batch.ls_tree("nope")
        assert batch.blobs([top]) == {top: b"top\n"}  # still answering after a miss


def test_ls_worktree_start_lists_tracked_and_untracked_but_not_ignored(repo: Repo) -> None:
    (repo.root / ".gitignore").write_text("ignored/\n")
    (repo.root / "ignored").mkdir()
    (repo.root / "ignored" / "dvc.yaml").write_text("")
    (repo.root / "new").mkdir()
    (repo.root / "new" / "dvc.yaml").write_text("")
    wait = repo.ls_worktree_start("dvc.yaml", "deep.txt")
    assert sorted(wait()) == ["a/b/deep.txt", "new/dvc.yaml"]
    assert sorted(repo.ls_worktree("dvc.yaml")) == ["new/dvc.yaml"]


def test_spawned_git_is_found_on_the_given_path_and_reaped(repo: Repo, tmp_path: Path) -> None:
    nowhere = Repo(repo.root, {"PATH": str(tmp_path / "no-git-here")})
    with pytest.raises(GitError, match="git is not installed or not on PATH"):
        nowhere.ls_worktree("dvc.yaml")
    with pytest.raises(GitError, match="git is not installed or not on PATH"):
        nowhere.cat_file()
    batch = repo.cat_file()
    pid = batch._proc.pid
    assert batch.get(["HEAD:top.txt"]) == [("blob", b"top\n")]
    batch.close()
    batch.close()  # twice is fine
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind
    (repo.root / "dvc.yaml").write_text("")
    assert repo.ls_worktree("dvc.yaml") == ["dvc.yaml"]  # runs in the root, from anywhere
