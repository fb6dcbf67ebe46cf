"""``mlgate pull-model`` says what it checked, and scans a skops file before writing it.

Each test releases by hand (a pointer committed in a real git repository, the object in a
folder DVC remote), then runs the installed ``mlgate pull-model`` as a subprocess. The scan
reads the archive's schema only (skops' ``get_untrusted_types``): nothing is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from mlgate.deploy.pointer import ModelRef, dumps_pointer, example_pointer
from tests.conftest import git, init_repo, mlgate

pytestmark = pytest.mark.slow  # each case starts mlgate and scikit-learn a few times

POINTER = "deploy/production.yaml"


def _skops_model() -> bytes:
    from sklearn.linear_model import LogisticRegression

    from mlgate.ml.model import dumps

    return dumps(LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]))


def _skops_calling_system() -> bytes:
    import skops.io as sio

    return bytes(sio.dumps(os.system))  # a skops file that would hand out os.system


def _released(tmp_path: Path, env: dict[str, str], data: bytes, name: str) -> Path:
    """A repository whose pointer names ``data`` (stored in a folder remote) as models/NAME."""
    repo = tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    remote = tmp_path / "remote"
    (repo / ".dvc" / "config").write_text(
        f"[core]\n    remote = store\n['remote \"store\"']\n    url = {remote}\n"
    )
    md5 = hashlib.md5(data).hexdigest()
    obj = remote / "files" / "md5" / md5[:2] / md5[2:]
    obj.parent.mkdir(parents=True)
    obj.write_bytes(data)
    init_repo(repo, env)
    ref = ModelRef(f"models/{name}", md5, hashlib.sha256(data).hexdigest(), len(data))
    head = git("rev-parse", "HEAD", cwd=repo, env=env)
    pointer = replace(example_pointer(), version="v1.0.0", commit=head, model=ref)
    (repo / "deploy").mkdir()
    (repo / POINTER).write_text(dumps_pointer(pointer))
    git("add", POINTER, cwd=repo, env=env)
    git("commit", "-q", "-m", "deploy: v1.0.0", cwd=repo, env=env)
    return repo


def test_a_skops_model_is_verified_and_scanned(tmp_path: Path, env: dict[str, str]) -> None:
    data = _skops_model()
    repo = _released(tmp_path, env, data, "model.skops")
    out = tmp_path / "out"
    pulled = mlgate("pull-model", "-o", str(out), cwd=repo, env=env)
    assert pulled.returncode == 0, pulled.stderr
    first, checks = pulled.stdout.splitlines()
    assert Path(first) == out / "model.skops" and (out / "model.skops").read_bytes() == data
    sha256, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
    for said in (f"size {len(data)} bytes", md5, sha256, "allow-list scan passed"):
        assert said in checks
    doc = json.loads(mlgate("pull-model", "--json", "-o", str(out), cwd=repo, env=env).stdout)
    assert doc["verified"] == {"size": len(data), "md5": md5, "sha256": sha256}
    assert doc["scan"] is not None and isinstance(doc["scan"]["types"], list)


@pytest.mark.parametrize(
    ("make", "name", "said"),
    [
        (lambda: pickle.dumps({"weights": [1, 2, 3]}), "model.skops", "a pickle"),
        (lambda: b"just some text\n", "model.skops", "not a skops file"),
        (lambda: b"PK\x03\x04" + b"\x00" * 64, "model.skops", "not a readable skops"),
        (_skops_calling_system, "model.skops", "posix.system"),
    ],
    ids=["pickle", "not-zip", "corrupt-zip", "posix-system"],
)
def test_a_file_failing_the_scan_is_exit_2_and_nothing_is_left(
    tmp_path: Path, env: dict[str, str], make, name: str, said: str
) -> None:
    data = make()
    repo = _released(tmp_path, env, data, name)
    out = tmp_path / "out" / "models"
    refused = mlgate("pull-model", "-o", str(out), cwd=repo, env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    line = refused.stderr.strip()
    assert "\n" not in line and said in line and "v1.0.0" in line and "--no-scan" in line
    assert not (tmp_path / "out").exists()  # no file, no folder made for it

    unchecked = mlgate("pull-model", "--no-scan", "-o", str(out), cwd=repo, env=env)
    assert unchecked.returncode == 0, unchecked.stderr
    assert "warning: --no-scan" in unchecked.stderr
    assert "not scanned (--no-scan)" in unchecked.stdout
    assert (out / name).read_bytes() == data  # size, md5 and sha256 still checked


def test_a_model_in_another_format_is_moved_and_hash_checked_never_loaded(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """`model.pkl` declared under artifacts: (issue 13): verified bytes, no scan, no load."""
    data = pickle.dumps({"weights": [1, 2, 3]})
    repo = _released(tmp_path, env, data, "model.pkl")
    out = tmp_path / "out"
    pulled = mlgate("pull-model", "-o", str(out), cwd=repo, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "not a skops file, so not scanned: mlgate moves it and never loads it" in pulled.stdout
    assert (out / "model.pkl").read_bytes() == data
    doc = json.loads(mlgate("pull-model", "--json", "-o", str(out), cwd=repo, env=env).stdout)
    assert doc["scan"] is None and doc["verified"]["sha256"] == hashlib.sha256(data).hexdigest()
