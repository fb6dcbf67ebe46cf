"""fetch_model: a plain-folder DVC remote read directly, read as DVC reads it; DVC otherwise."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlgate.deploy import remote
from mlgate.deploy.pointer import ModelRef, Pointer
from mlgate.deploy.remote import _local_folder_object, fetch_model
from mlgate.errors import DataError, RemoteError

DATA = b"model bytes " * 100


def pointer(data: bytes = DATA) -> Pointer:
    return Pointer(
        version="v1.0.0",
        commit="a" * 40,
        model=ModelRef(
            path="models/model.skops",
            md5=hashlib.md5(data).hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        ),
        metrics={},
        released_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def store(folder: Path, data: bytes = DATA) -> Path:
    md5 = hashlib.md5(data).hexdigest()
    obj = folder / "files" / "md5" / md5[:2] / md5[2:]
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    return obj


def project(tmp_path: Path, config: str, local: str | None = None) -> Path:
    root = tmp_path / "project"
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(config)
    if local is not None:
        (root / ".dvc" / "config.local").write_text(local)
    return root


@pytest.fixture
def no_dvc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if fetch_model opens DVC (the plain-folder path must not)."""

    def refuse(_root: Path) -> None:
        raise AssertionError("DVC was opened")

    monkeypatch.setattr(remote, "_dvc_repo", refuse)


def test_absolute_folder_remote_is_read_without_dvc(tmp_path: Path, no_dvc: None) -> None:
    obj = store(tmp_path / "store")
    root = project(
        tmp_path,
        f"[core]\n    remote = store\n['remote \"store\"']\n    url = {tmp_path / 'store'}\n"
        "    verify = true\n",
    )
    assert _local_folder_object(root, pointer().model.md5) == obj
    dest = tmp_path / "cache" / "deep" / "model.skops"
    assert fetch_model(root, pointer(), dest) == dest
    assert dest.read_bytes() == DATA


def test_relative_url_is_resolved_against_the_dvc_folder_and_config_local_wins(
    tmp_path: Path,
) -> None:
    obj = store(tmp_path / "project" / "local-store")
    store(tmp_path / "elsewhere")
    root = project(
        tmp_path,
        f"[core]\n    remote = Shared\n    no_scm = true\n['remote \"shared\"']\n    url = {tmp_path / 'elsewhere'}\n",
        local="['remote \"shared\"']\n    URL = ../local-store\n",
    )
    found = _local_folder_object(root, pointer().model.md5)
    assert found is not None and found.resolve() == obj
    with remote._dvc_repo(root) as repo:  # DVC itself reads the same files the same way
        _, odb = remote._remote_odb(repo, None)
        assert Path(odb.oid_to_path(pointer().model.md5)).resolve() == obj


@pytest.mark.parametrize(
    "config",
    [
        "[core]\n    remote = s3\n['remote \"s3\"']\n    url = s3://bucket/path\n",
        "[core]\n    remote = home\n['remote \"home\"']\n    url = ~/store\n",
        "[core]\n    remote = store\n['remote \"store\"']\n    url = {store}\n    shared = group\n",
        "['remote \"store\"']\n    url = {store}\n",  # no default remote
        "[core]\n    remote = other\n['remote \"store\"']\n    url = {store}\n",
        "not [ a config",
    ],
    ids=["url-scheme", "home", "extra-option", "no-default", "unknown-default", "unreadable"],
)
def test_anything_else_is_left_to_dvc(tmp_path: Path, config: str) -> None:
    store(tmp_path / "store")
    root = project(tmp_path, config.replace("{store}", str(tmp_path / "store")))
    assert _local_folder_object(root, pointer().model.md5) is None


def test_an_object_missing_from_the_folder_is_left_to_dvc(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        f"[core]\n    remote = store\n['remote \"store\"']\n    url = {tmp_path / 'store'}\n",
    )
    assert _local_folder_object(root, pointer().model.md5) is None
    assert _local_folder_object(root, "../../etc/passwd") is None


def test_a_tampered_object_is_refused_and_nothing_is_left(tmp_path: Path, no_dvc: None) -> None:
    obj = store(tmp_path / "store")
    obj.write_bytes(DATA[:-1] + b"!")  # same size, other bytes
    root = project(
        tmp_path,
        f"[core]\n    remote = store\n['remote \"store\"']\n    url = {tmp_path / 'store'}\n",
    )
    dest = tmp_path / "cache" / "deep" / "model.skops"
    with pytest.raises(RemoteError, match="fails verification") as err:
        fetch_model(root, pointer(), dest)
    assert pointer().model.sha256 in str(err.value)
    assert not (tmp_path / "cache").exists()  # the folders made for it are gone again


def _wrong_sha256() -> Pointer:
    """The pointer of DATA with only the sha256 wrong: md5 (the object's name) and size fit."""
    good = pointer()
    bad = ModelRef(path=good.model.path, md5=good.model.md5, sha256="0" * 64, size=len(DATA))
    return Pointer(
        version=good.version,
        commit=good.commit,
        model=bad,
        metrics={},
        released_at=good.released_at,
    )


@pytest.mark.parametrize("through_dvc", [False, True], ids=["folder", "dvc"])
def test_a_pointer_whose_sha256_alone_disagrees_is_refused(
    tmp_path: Path, env: dict[str, str], through_dvc: bool
) -> None:
    store(tmp_path / "store")  # the untouched object: its md5 and size match the pointer
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, env=env, check=True)
    (root / ".dvc" / "config").write_text(
        f"[core]\n    remote = store\n    no_scm = True\n['remote \"store\"']\n"
        f"    url = {tmp_path / 'store'}\n" + ("    shared = group\n" if through_dvc else "")
    )
    assert (_local_folder_object(root, pointer().model.md5) is None) is through_dvc
    dest = tmp_path / "cache" / "model.skops"
    with pytest.raises(RemoteError, match="fails verification") as err:
        fetch_model(root, _wrong_sha256(), dest)
    assert "0" * 64 in str(err.value) and pointer().model.sha256 in str(err.value)
    assert not (tmp_path / "cache").exists()


def test_other_remotes_go_through_dvc(tmp_path: Path, env: dict[str, str]) -> None:
    obj = store(tmp_path / "store")
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, env=env, check=True)
    (root / ".dvc" / "config").write_text(
        f"[core]\n    remote = store\n    no_scm = True\n['remote \"store\"']\n"
        f"    url = {tmp_path / 'store'}\n    shared = group\n"
    )
    assert _local_folder_object(root, pointer().model.md5) is None
    dest = tmp_path / "out" / "model.skops"
    assert fetch_model(root, pointer(), dest).read_bytes() == DATA
    obj.unlink()
    with pytest.raises(RemoteError, match="is not in DVC remote 'store'"):
        fetch_model(root, pointer(), tmp_path / "out" / "again.skops")
    assert not (tmp_path / "out" / "again.skops").exists()


def test_a_model_in_neither_cache_nor_remote_says_what_to_run(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, env=env, check=True)
    (root / ".dvc" / "config").write_text(
        f"[core]\n    remote = store\n    no_scm = True\n['remote \"store\"']\n"
        f"    url = {tmp_path / 'store'}\n"
    )
    ref = pointer().model
    with pytest.raises(DataError) as err:
        remote.push_model(root, md5=ref.md5, size=ref.size, version="v1.0.0")
    message = str(err.value)
    assert err.value.exit_code == 2
    assert message.startswith(f"v1.0.0: model md5 {ref.md5} named by dvc.lock")
    assert "with v1.0.0 checked out, run `dvc repro` then `dvc push -r store`" in message
    assert "push before tagging" in message
