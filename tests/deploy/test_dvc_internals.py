"""A contract test for the DVC internals mlgate uses beyond DVC's CLI (``deploy/remote.py``,
``deploy/tree.py``, ``dvcstore.py``): pyproject pins ``dvc<4``; a DVC release that renames
or reshapes one of these fails here, naming it, instead of in a release or a gate run."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import dvc


def _params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


def test_dvc_is_the_major_version_pyproject_pins() -> None:
    assert int(dvc.__version__.split(".")[0]) == 3
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"dvc>=3.50,<4"' in text


def test_signatures_mlgate_calls() -> None:
    from dvc.data_cloud import DataCloud
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc_data.hashfile.db import HashFileDB
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.transfer import TransferResult

    assert issubclass(DvcException, Exception)
    assert _params(Repo.__init__)[:2] == ["self", "root_dir"]
    # repo.cloud.get_remote_odb(name, "push"), (None, "fetch", hash_name="md5-dos2unix")
    assert _params(DataCloud.get_remote_odb)[:4] == ["self", "name", "command", "hash_name"]
    # repo.cloud.push([HashInfo("md5", md5)], remote=remote) -> result.failed
    push = _params(DataCloud.push)
    assert push[:2] == ["self", "objs"] and "remote" in push
    # repo.cloud.transfer(cache_odb, odb, batch, cache_odb=cache_odb)
    transfer = inspect.signature(DataCloud.transfer).parameters
    assert list(transfer)[:4] == ["self", "src_odb", "dest_odb", "objs"]
    assert any(p.kind is p.VAR_KEYWORD for p in transfer.values())
    assert {"transferred", "failed"} <= set(TransferResult._fields)
    info = HashInfo("md5", "0" * 32)
    assert (info.name, info.value) == ("md5", "0" * 32)
    for method in ("oid_to_path", "exists"):
        assert callable(getattr(HashFileDB, method)), method


def test_a_real_remote_answers_as_mlgate_reads_it(tmp_path: Path) -> None:
    """On a DVC project with a folder remote: the cache and remote object databases have the
    attributes deploy/remote.py, deploy/tree.py and dvcstore.py read."""
    from dvc.repo import Repo

    project, store = tmp_path / "project", tmp_path / "store"
    project.mkdir()
    store.mkdir()

    def dvc_cli(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, check=True,
                       capture_output=True)  # fmt: skip

    dvc_cli("init", "--no-scm", "-q")
    dvc_cli("remote", "add", "-d", "store", str(store))
    repo = Repo(str(project))
    try:
        assert repo.config["core"].get("remote") == "store"
        local = repo.cache.local
        oid = "d41d8cd98f00b204e9800998ecf8427e"
        assert Path(local.oid_to_path(oid)).name == oid[2:]
        for command, hash_name in (("push", "md5"), ("fetch", "md5-dos2unix")):
            odb = repo.cloud.get_remote_odb(None, command, hash_name=hash_name)
            path = odb.oid_to_path(oid)
            assert odb.exists(oid) is False
            assert str(odb.fs.unstrip_protocol(path)).endswith(oid[2:])
        objects = Path(local.oid_to_path(oid))
        objects.parent.mkdir(parents=True)
        objects.write_bytes(b"")
        from dvc_data.hashfile.hash_info import HashInfo

        result = repo.cloud.push([HashInfo("md5", oid)], remote="store")
        assert not result.failed
        odb = repo.cloud.get_remote_odb("store", "push")
        assert odb.exists(oid) and int(odb.fs.size(odb.oid_to_path(oid))) == 0
        with odb.fs.open(odb.oid_to_path(oid), "rb") as handle:
            assert handle.read() == b""
    finally:
        repo.close()
