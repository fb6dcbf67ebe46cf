"""Is the pipeline up to date at a commit? Checked from git objects against dvc.lock."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from mlgate.deploy.pipeline import check_pipeline, read_scores
from mlgate.errors import DataError
from mlgate.git import Repo
from tests.conftest import git

SCORES = b'{"accuracy": 0.9, "nested": {"f1": 0.8, "label": "x"}, "flag": true}\n'
STAGE = b"print('train')\n"


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _lock(**changes: object) -> dict:
    model = {"path": "models/model.skops", "hash": "md5", "md5": "a" * 32, "size": 7}
    model.update(changes)
    return {
        "schema": "2.0",
        "stages": {
            "train": {
                "cmd": "python stages/train.py",
                "deps": [
                    {"path": "stages/train.py", "hash": "md5", "md5": _md5(STAGE), "size": 15},
                    {"path": "data/prepared", "hash": "md5", "md5": "b" * 32 + ".dir"},
                ],
                "params": {"params.yaml": {"train.C": 1.0, "data": {"seed": 1}}},
                "outs": [
                    model,
                    {"path": "metrics/scores.json", "hash": "md5", "md5": _md5(SCORES)},
                ],
            }
        },
    }


def _repo(tmp_path: Path, env: dict[str, str], lock: dict, params: str, scores: bytes) -> Repo:
    root = tmp_path / "repo"
    for rel, data in {
        "dvc.lock": yaml.safe_dump(lock).encode(),
        "params.yaml": params.encode(),
        "metrics/scores.json": scores,
        "stages/train.py": STAGE,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    git("init", "-q", "-b", "main", cwd=root, env=env)
    git("add", ".", cwd=root, env=env)
    git("commit", "-q", "-m", "c", cwd=root, env=env)
    return Repo(root, env)


MODEL = "models/model.skops"
PARAMS = "train:\n  C: 1.0\ndata:\n  seed: 1\n"


def test_up_to_date(tmp_path: Path, env: dict[str, str]) -> None:
    repo = _repo(tmp_path, env, _lock(), PARAMS, SCORES)
    model = check_pipeline(repo, "HEAD", label="v1.0.0", model_path=MODEL)
    assert (model.path, model.md5, model.size) == ("models/model.skops", "a" * 32, 7)
    # numbers only (text and booleans dropped); an absent file gives nothing to record
    assert read_scores(repo, "HEAD", path="metrics/scores.json") == {
        "accuracy": 0.9,
        "nested.f1": 0.8,
    }
    assert read_scores(repo, "HEAD", path="metrics/none.json") == {}


@pytest.mark.parametrize(
    ("lock", "params", "scores", "message"),
    [
        (_lock(), PARAMS, SCORES.replace(b"0.9", b"0.7"), "metrics/scores.json does not match"),
        (_lock(), PARAMS.replace("C: 1.0", "C: 2.0"), SCORES, "train.C differs"),
        (_lock(), PARAMS.replace("seed: 1", "seed: 2"), SCORES, "data differs"),
        (_lock(hash=None), PARAMS, SCORES, "DVC 2 hashes"),
        (_lock(path="models/other.skops"), PARAMS, SCORES, "records no output models/model"),
    ],
)
def test_stale_or_odd_locks_are_refused(
    tmp_path: Path, env: dict[str, str], lock: dict, params: str, scores: bytes, message: str
) -> None:
    repo = _repo(tmp_path, env, lock, params, scores)
    with pytest.raises(DataError, match=message) as info:
        check_pipeline(repo, "HEAD", label="v1.0.0", model_path=MODEL)
    assert str(info.value).startswith("v1.0.0: ")


def test_a_folder_output_is_a_directory_model(tmp_path: Path, env: dict[str, str]) -> None:
    """Issue 13: a model that is a DVC folder output (``.dir`` in dvc.lock) is accepted."""
    repo = _repo(tmp_path, env, _lock(md5="c" * 32 + ".dir"), PARAMS, SCORES)
    model = check_pipeline(repo, "HEAD", label="v1.0.0", model_path=MODEL)
    assert (model.path, model.md5) == ("models/model.skops", "c" * 32 + ".dir")


def test_a_changed_dependency_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    repo = _repo(tmp_path, env, _lock(), PARAMS, SCORES)
    (repo.root / "stages/train.py").write_text("print('changed')\n")
    git("commit", "-q", "-am", "edit stage", cwd=repo.root, env=env)
    with pytest.raises(DataError, match=r"stages/train\.py changed since dvc\.lock"):
        check_pipeline(repo, "HEAD", label="v1.0.0", model_path=MODEL)
    check_pipeline(
        repo, "HEAD~1", label="v0.9.0", model_path=MODEL
    )  # the earlier commit is still fine
