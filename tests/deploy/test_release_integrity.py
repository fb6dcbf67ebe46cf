"""End to end: release, rollback and status read the model back from the DVC remote.

A remote object can keep its name (the md5) and its size and still hold other bytes; DVC does
not re-hash on push or on an existence check. These tests corrupt one byte of an object in a
local-folder remote and check that ``release`` and ``rollback`` refuse (exit 2, naming the
version, the hash and the remote) with the branch and the pointer as they were, and that
``status`` reports the live model's remote copy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import git, mlgate
from tests.deploy.test_release_e2e import POINTER, _new_version, _pointer, _remote_object, _setup

pytestmark = pytest.mark.slow


def _flip_byte(obj: Path) -> None:
    """Same size, one byte different: what an existence-and-size check cannot see.

    Read-only afterwards, as DVC leaves the objects it writes (a writable object in a folder
    remote is one DVC re-pushes; a read-only one it trusts and skips).
    """
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0xFF
    obj.chmod(0o644)
    obj.write_bytes(bytes(data))
    obj.chmod(0o444)


def _state(proj: Path, env: dict[str, str]) -> tuple[str, str, str]:
    head = git("rev-parse", "HEAD", cwd=proj, env=env)
    dirty = git("status", "--porcelain", "--untracked-files=no", cwd=proj, env=env)
    return head, (proj / POINTER).read_text(), dirty


def test_corrupted_objects_stop_release_and_rollback_and_show_in_status(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    proj, remote = reproduced_project, tmp_path / "dvc-remote"
    _setup(proj, tmp_path, env, dvc_remote=remote)
    git("tag", "v1.0.0", cwd=proj, env=env)
    assert mlgate("release", "v1.0.0", cwd=proj, env=env).returncode == 0
    p1 = _pointer(proj)

    status = json.loads(mlgate("status", "--json", cwd=proj, env=env).stdout)
    assert status["remote"]["checked"] is True and status["remote"]["matches"] is True
    text = mlgate("status", cwd=proj, env=env).stdout
    assert "remote: the live model matches in DVC remote 'test'" in text

    # v1.1.0's object is already in the remote, same size, one byte off: dvc push skips it.
    _new_version(proj, env, c="0.5", tag="v1.1.0")
    model = (proj / "models/model.skops").read_bytes()
    md5 = hashlib.md5(model).hexdigest()
    sha256 = hashlib.sha256(model).hexdigest()
    obj = _remote_object(remote, md5)
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(model)
    _flip_byte(obj)
    before = _state(proj, env)
    refused = mlgate("release", "v1.1.0", cwd=proj, env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    line = refused.stderr.strip()
    assert "\n" not in line and "v1.1.0" in line and md5 in line and sha256 in line
    assert "'test'" in line and "nothing committed" in line
    assert _state(proj, env) == before

    obj.unlink()  # a good copy goes up; the release now passes its read-back
    released = mlgate("release", "v1.1.0", cwd=proj, env=env)
    assert released.returncode == 0, released.stderr
    assert _pointer(proj)["model"]["sha256"] == sha256

    # Rolling back to v1.0.0, whose remote copy is now corrupt: refused, nothing changes.
    _flip_byte(_remote_object(remote, p1["model"]["md5"]))
    before = _state(proj, env)
    back = mlgate("rollback", cwd=proj, env=env)
    assert back.returncode == 2, back.stdout + back.stderr
    line = back.stderr.strip()
    assert "\n" not in line and "refusing to roll back to v1.0.0" in line
    assert p1["model"]["md5"] in line and p1["model"]["sha256"] in line and "'test'" in line
    assert _state(proj, env) == before

    # The same for a missing object.
    _remote_object(remote, p1["model"]["md5"]).unlink()
    gone = mlgate("rollback", "--to", "v1.0.0", cwd=proj, env=env)
    assert gone.returncode == 2 and "not in DVC remote 'test'" in gone.stderr, gone.stderr
    assert p1["model"]["md5"] in gone.stderr
    assert _state(proj, env) == before

    # status: the live model's remote copy, as a field and as a line.
    _flip_byte(_remote_object(remote, md5))
    status = json.loads(mlgate("status", "--json", cwd=proj, env=env).stdout)
    assert status["remote"]["matches"] is False and sha256 in status["remote"]["detail"]
    text = mlgate("status", cwd=proj, env=env)
    assert text.returncode == 0 and "remote: v1.1.0: the copy of model md5" in text.stdout
    offline = json.loads(mlgate("status", "--json", "--no-remote-check", cwd=proj, env=env).stdout)
    assert offline["remote"] == {"checked": False, "matches": None, "detail": ""}


def test_rollback_through_dvc_reads_the_object_back(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """A named ``--remote`` goes through DVC's object database, not the folder shortcut."""
    proj, remote = reproduced_project, tmp_path / "dvc-remote"
    _setup(proj, tmp_path, env, dvc_remote=remote)
    git("tag", "v1.0.0", cwd=proj, env=env)
    assert mlgate("release", "v1.0.0", cwd=proj, env=env).returncode == 0
    p1 = _pointer(proj)
    _new_version(proj, env, c="0.5", tag="v1.1.0")
    assert mlgate("release", "v1.1.0", cwd=proj, env=env).returncode == 0
    _flip_byte(_remote_object(remote, p1["model"]["md5"]))
    before = _state(proj, env)
    back = mlgate("rollback", "--remote", "test", cwd=proj, env=env)
    assert back.returncode == 2, back.stdout + back.stderr
    assert "does not match the pointer" in back.stderr and p1["model"]["sha256"] in back.stderr
    assert _state(proj, env) == before
