"""A model that is a folder (a HuggingFace-like directory DVC output), released end to end.

The repository declares ``models/hf`` (config.json, weights.bin, tokenizer.json) under
``artifacts:``; dvc.lock records it as ``<md5>.dir``. Through the CLI, in real git + DVC
repositories: release (the pointer carries a manifest of every file), a second release,
history, status, pull-model (into a temporary folder, renamed once every file verifies),
rollback; then a tampered or missing file in the remote makes release, rollback and
pull-model refuse, naming the file, with nothing committed or written. Once on a local
folder remote, once on an S3-protocol server (moto on loopback).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN, git, mlgate, run
from tests.s3_support import Credentials, S3Server

pytestmark = pytest.mark.slow

POINTER = "deploy/production.yaml"
FILES = ("config.json", "tokenizer.json", "weights.bin")

WRITER = """\
import json, os, random, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
os.makedirs("models/hf/extra", exist_ok=True)
os.makedirs("eval", exist_ok=True)
rng = random.Random(p["seed"])
open("models/hf/weights.bin", "wb").write(bytes(rng.randrange(256) for _ in range(40000)))
json.dump({"hidden": p["seed"]}, open("models/hf/config.json", "w"))
json.dump({"vocab": ["a", "b"]}, open("models/hf/tokenizer.json", "w"))
open("models/hf/extra/notes.txt", "w").write("same in every version\\n")
json.dump({"acc": p["acc"]}, open("eval/metrics.json", "w"))
"""


def _project(root: Path, env: dict[str, str], remote: list[list[str]]) -> None:
    dvc = str(BIN / "dvc")
    git("init", "-q", "-b", "main", cwd=root, env=env)
    run([dvc, "init", "-q"], cwd=root, env=env)
    for args in remote:
        run([dvc, "remote", *args], cwd=root, env=env)
    (root / "write.py").write_text(WRITER)
    (root / "params.yaml").write_text(yaml.safe_dump({"train": {"seed": 1, "acc": 0.9}}))
    doc = {
        "stages": {
            "train": {
                "cmd": "python3 write.py",
                "deps": ["write.py"],
                "params": ["train"],
                "outs": ["models/hf", {"eval/metrics.json": {"cache": False}}],
            }
        },
        "metrics": ["eval/metrics.json"],
        "artifacts": {"hf": {"path": "models/hf", "type": "model"}},
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    run([dvc, "repro", "-q"], cwd=root, env=env)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "pipeline", cwd=root, env=env)


def _bump(root: Path, env: dict[str, str], seed: int, tag: str) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump({"train": {"seed": seed, "acc": 0.9}}))
    run([BIN / "dvc", "repro", "-q"], cwd=root, env=env)
    git("commit", "-q", "-am", f"seed {seed}", cwd=root, env=env)
    git("tag", tag, cwd=root, env=env)


def _ok(*args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = mlgate(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def _refused(code: int, *args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = mlgate(*args, cwd=cwd, env=env)
    assert proc.returncode == code, (args, proc.returncode, proc.stdout, proc.stderr)
    line = proc.stderr.strip()
    assert line and "\n" not in line and "Traceback" not in line, proc.stderr
    return line


def _pointer(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / POINTER).read_text())
    return data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest(folder: Path) -> list[dict[str, Any]]:
    """What the pointer must list, computed here from the files themselves."""
    out = []
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = f.read_bytes()
        out.append(
            {
                "path": f.relative_to(folder).as_posix(),
                "md5": hashlib.md5(data).hexdigest(),
                "sha256": _sha(data),
                "size": len(data),
            }
        )
    return sorted(out, key=lambda e: e["path"])


def _check_pointer(root: Path, version: str) -> dict[str, Any]:
    p = _pointer(root)
    model = p["model"]
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["train"]["outs"]
    locked = next(o for o in lock if o["path"] == "models/hf")
    assert p["version"] == version
    assert model["path"] == "models/hf" and model["md5"] == locked["md5"]
    assert model["md5"].endswith(".dir")
    assert model["files"] == _manifest(root / "models" / "hf")
    lines = "".join(f"{f['sha256']} {f['size']} {f['path']}\n" for f in model["files"])
    assert model["sha256"] == _sha(lines.encode())
    assert model["size"] == sum(f["size"] for f in model["files"]) == locked["size"]
    return p


def _state(root: Path, env: dict[str, str]) -> tuple[str, bytes, str]:
    return (
        git("rev-parse", "HEAD", cwd=root, env=env),
        (root / POINTER).read_bytes(),
        git("status", "--porcelain", "--untracked-files=no", cwd=root, env=env),
    )


def _file(p: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in p["model"]["files"] if f["path"] == name)


def _flip(data: bytes) -> bytes:
    out = bytearray(data)
    out[len(out) // 2] ^= 0xFF
    return bytes(out)


def _tamper(obj: Path, data: bytes | None = None) -> bytes:
    """Overwrite a folder-remote object, keeping it read-only as DVC left it (DVC rechecks
    a writable object and would quietly replace it); returns the bytes it held."""
    good = obj.read_bytes()
    obj.chmod(0o644)
    obj.write_bytes(_flip(good) if data is None else data)
    obj.chmod(0o444)
    return good


def test_folder_model_release_rollback_pull_status_and_tampering(
    tmp_path: Path, env: dict[str, str]
) -> None:
    store = tmp_path / "store"
    root = tmp_path / "repo"
    root.mkdir()
    _project(
        root, env, [["add", "-q", "-d", "store", str(store)], ["modify", "store", "verify", "true"]]
    )
    git("tag", "v1.0.0", cwd=root, env=env)
    out = _ok("release", "v1.0.0", cwd=root, env=env)
    assert "released v1.0.0" in out and "models/hf/ (folder: 4 files" in out
    p1 = _check_pointer(root, "v1.0.0")
    v1_files = {f.name: f.read_bytes() for f in (root / "models" / "hf").rglob("*") if f.is_file()}
    # every file and the listing are in the remote, byte for byte
    for f in p1["model"]["files"]:
        obj = store / "files" / "md5" / f["md5"][:2] / f["md5"][2:]
        assert _sha(obj.read_bytes()) == f["sha256"]
    dir_md5 = p1["model"]["md5"]
    assert (store / "files" / "md5" / dir_md5[:2] / dir_md5[2:]).is_file()

    status = json.loads(_ok("status", "--json", cwd=root, env=env))
    assert status["workspace"]["differs_from_live"] is False
    assert status["remote"]["matches"] is True

    _bump(root, env, 2, "v1.1.0")
    _ok("release", "v1.1.0", cwd=root, env=env)
    p2 = _check_pointer(root, "v1.1.0")
    assert _file(p2, "weights.bin") != _file(p1, "weights.bin")
    assert _file(p2, "tokenizer.json") == _file(p1, "tokenizer.json")  # one object, shared
    history = json.loads(_ok("history", "--json", cwd=root, env=env))
    assert [d["version"] for d in history["deployments"]] == ["v1.1.0", "v1.0.0"]
    assert history["deployments"][1]["model"]["files"] == p1["model"]["files"]
    table = _ok("history", "--md", cwd=root, env=env)
    assert "| live | v1.1.0 | deploy |" in table and p2["model"]["sha256"][:12] in table
    said = _ok("status", cwd=root, env=env)
    assert "live: v1.1.0" in said and "workspace: models/hf is the live model" in said

    # pull-model: the folder named as in the artifact, every file verified, no leftovers
    pulled = tmp_path / "pulled"
    said = _ok("pull-model", "--version", "v1.0.0", "-o", str(pulled), cwd=root, env=env)
    assert "a folder of 4 files" in said and "no skops file in it, so nothing scanned" in said
    assert sorted(p.name for p in pulled.iterdir()) == ["hf"]
    assert _manifest(pulled / "hf") == p1["model"]["files"]
    assert (pulled / "hf" / "weights.bin").read_bytes() == v1_files["weights.bin"]
    # again, over the existing folder: replaced by v1.1.0's files
    data = json.loads(_ok("pull-model", "-o", str(pulled), "--json", cwd=root, env=env))
    assert data["verified"]["files"] == p2["model"]["files"]
    assert _manifest(pulled / "hf") == p2["model"]["files"]
    assert sorted(p.name for p in pulled.iterdir()) == ["hf"]

    # v1.0.0's weights tampered in the remote (same size): rollback refuses, naming the file
    w1 = _file(p1, "weights.bin")["md5"]
    obj1 = store / "files" / "md5" / w1[:2] / w1[2:]
    good = _tamper(obj1)
    before = _state(root, env)
    line = _refused(2, "rollback", cwd=root, env=env)
    assert "refusing to roll back to v1.0.0" in line and "models/hf/weights.bin" in line
    assert _state(root, env) == before
    # pull-model of it: exit 1 (verification failed), the file named, the target untouched
    line = _refused(1, "pull-model", "--version", "v1.0.0", "-o", str(pulled), cwd=root, env=env)
    assert "models/hf/weights.bin" in line and "fails verification" in line
    assert _manifest(pulled / "hf") == p2["model"]["files"]
    assert sorted(p.name for p in pulled.iterdir()) == ["hf"]  # no temporary folder left
    fresh = tmp_path / "fresh" / "deeper"
    _refused(1, "pull-model", "--version", "v1.0.0", "-o", str(fresh), cwd=root, env=env)
    assert not (tmp_path / "fresh").exists()
    # put the good bytes back: rollback verifies every file and goes through
    _tamper(obj1, good)
    assert "v1.1.0 -> v1.0.0" in _ok("rollback", cwd=root, env=env)
    assert _pointer(root) == p1

    # v1.1.0's weights tampered: releasing it again refuses (dvc push skips an object the
    # remote has), the pointer and the branch as they were
    w2 = _file(p2, "weights.bin")["md5"]
    obj2 = store / "files" / "md5" / w2[:2] / w2[2:]
    _tamper(obj2)
    before = _state(root, env)
    line = _refused(2, "release", "v1.1.0", cwd=root, env=env)
    assert "refusing to release v1.1.0" in line and "models/hf/weights.bin" in line
    assert _state(root, env) == before

    # a missing file: status says which, rollback has nothing older to go to, and a new
    # release pushes it again (each object is checked for itself, not taken from the listing)
    t = _file(p1, "tokenizer.json")["md5"]
    (store / "files" / "md5" / t[:2] / t[2:]).unlink()
    status = json.loads(_ok("status", "--json", cwd=root, env=env))
    assert status["remote"]["matches"] is False
    assert "models/hf/tokenizer.json" in status["remote"]["detail"]
    _bump(root, env, 3, "v1.2.0")
    _ok("release", "v1.2.0", cwd=root, env=env)
    _check_pointer(root, "v1.2.0")
    assert (store / "files" / "md5" / t[:2] / t[2:]).is_file()
    status = json.loads(_ok("status", "--json", cwd=root, env=env))
    assert status["remote"]["matches"] is True


def test_folder_missing_from_cache_and_remote_is_refused(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _project(root, env, [["add", "-q", "-d", "store", str(tmp_path / "store")]])
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["train"]["outs"]
    weights = _manifest(root / "models" / "hf")[-1]
    assert weights["path"] == "weights.bin"
    cache = root / ".dvc" / "cache" / "files" / "md5"
    (cache / weights["md5"][:2] / weights["md5"][2:]).unlink()  # one file gone from the cache
    git("tag", "v1.0.0", cwd=root, env=env)
    line = _refused(2, "release", "v1.0.0", cwd=root, env=env)
    assert "models/hf/" in line and "dvc push" in line, line
    assert not (root / "deploy").exists()
    assert any(o["md5"].endswith(".dir") for o in lock)


def test_release_from_a_clone_whose_cache_lacks_the_folder(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """CI releases from a fresh clone: the files are read from the remote and hashed there."""
    root = tmp_path / "repo"
    root.mkdir()
    _project(root, env, [["add", "-q", "-d", "store", str(tmp_path / "store")]])
    run([BIN / "dvc", "push", "-q"], cwd=root, env=env)
    expected = _manifest(root / "models" / "hf")
    git("tag", "v1.0.0", cwd=root, env=env)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(root), str(clone)], cwd=tmp_path, env=env)
    assert not (clone / ".dvc" / "cache").exists() and not (clone / "models" / "hf").exists()
    _ok("release", "v1.0.0", cwd=clone, env=env)
    assert _pointer(clone)["model"]["files"] == expected
    # one file of it corrupted in the remote: a second clone's release refuses, naming it
    weights = next(f for f in expected if f["path"] == "weights.bin")["md5"]
    _tamper(tmp_path / "store" / "files" / "md5" / weights[:2] / weights[2:])
    other = tmp_path / "other"
    run(["git", "clone", "-q", str(root), str(other)], cwd=tmp_path, env=env)
    line = _refused(2, "release", "v1.0.0", cwd=other, env=env)
    assert "models/hf/weights.bin" in line and "corrupt" in line
    assert not (other / "deploy").exists()


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[S3Server, Credentials]]:
    with S3Server() as server:
        yield server, server.enable_auth()


def test_folder_model_on_s3(
    tmp_path: Path, env: dict[str, str], s3: tuple[S3Server, Credentials]
) -> None:
    server, creds = s3
    server.client(creds).create_bucket(Bucket="folders")
    env = {**env, **creds.env(), "AWS_MAX_ATTEMPTS": "2"}
    root = tmp_path / "repo"
    root.mkdir()
    _project(
        root,
        env,
        [
            ["add", "-q", "-d", "s3", "s3://folders/mlgate"],
            ["modify", "s3", "endpointurl", server.url],
            ["modify", "s3", "verify", "true"],
        ],
    )
    client = server.client(creds)
    git("tag", "v1.0.0", cwd=root, env=env)
    out = _ok("release", "v1.0.0", cwd=root, env=env)
    assert "s3://folders/mlgate/files/md5/" in out
    p1 = _check_pointer(root, "v1.0.0")
    for f in p1["model"]["files"]:
        key = f"mlgate/files/md5/{f['md5'][:2]}/{f['md5'][2:]}"
        assert _sha(client.get_object(Bucket="folders", Key=key)["Body"].read()) == f["sha256"]
    _bump(root, env, 2, "v1.1.0")
    _ok("release", "v1.1.0", cwd=root, env=env)
    p2 = _check_pointer(root, "v1.1.0")
    assert json.loads(_ok("status", "--json", cwd=root, env=env))["remote"]["matches"] is True
    assert "v1.1.0 -> v1.0.0" in _ok("rollback", cwd=root, env=env)
    pulled = tmp_path / "pulled"
    _ok("pull-model", "--version", "v1.1.0", "-o", str(pulled), cwd=root, env=env)
    assert _manifest(pulled / "hf") == p2["model"]["files"]

    w2 = _file(p2, "weights.bin")["md5"]
    key = f"mlgate/files/md5/{w2[:2]}/{w2[2:]}"
    data = client.get_object(Bucket="folders", Key=key)["Body"].read()
    client.put_object(Bucket="folders", Key=key, Body=_flip(data))
    line = _refused(
        1, "pull-model", "--version", "v1.1.0", "-o", str(tmp_path / "x"), cwd=root, env=env
    )
    assert "models/hf/weights.bin" in line and "'s3'" in line
    assert creds.secret_access_key not in line
    assert not (tmp_path / "x").exists()
    before = _state(root, env)
    line = _refused(2, "release", "v1.1.0", cwd=root, env=env)
    assert "models/hf/weights.bin" in line
    assert _state(root, env) == before
