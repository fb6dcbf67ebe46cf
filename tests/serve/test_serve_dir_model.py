"""Serving a model that is a folder: its one .skops file is served; any other folder is refused.

Real git + DVC repositories released with ``mlgate release``; ``mlgate serve`` runs as a
subprocess over loopback HTTP.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import BIN, add_origin, git, mlgate, run
from tests.serve_support import example_row, free_port, model_bytes

pytestmark = [pytest.mark.slow, pytest.mark.serial]

WRITER = """\
import json, os, shutil, sys
os.makedirs("models/clf", exist_ok=True)
for name in sys.argv[1:]:
    shutil.copyfile("trained.skops", f"models/clf/{name}")
json.dump({"labels": ["no", "yes"]}, open("models/clf/config.json", "w"))
"""


def _released(root: Path, env: dict[str, str], store: Path, skops_names: list[str]) -> None:
    """A repository whose `artifacts:` model is the folder models/clf, released as v1.0.0."""
    dvc = str(BIN / "dvc")
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root, env=env)
    run([dvc, "init", "-q"], cwd=root, env=env)
    run([dvc, "remote", "add", "-q", "-d", "store", str(store)], cwd=root, env=env)
    (root / "write.py").write_text(WRITER)
    (root / "trained.skops").write_bytes(model_bytes(1.0))
    doc = {
        "stages": {
            "train": {
                "cmd": " ".join(["python3 write.py", *skops_names]),
                "deps": ["write.py", "trained.skops"],
                "outs": ["models/clf"],
            }
        },
        "artifacts": {"clf": {"path": "models/clf", "type": "model"}},
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    run([dvc, "repro", "-q"], cwd=root, env=env)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "pipeline", cwd=root, env=env)
    git("tag", "v1.0.0", cwd=root, env=env)
    proc = mlgate("release", "v1.0.0", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr


def test_a_folder_with_one_skops_file_is_served(tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "repo"
    _released(root, env, tmp_path / "store", ["model.skops"])
    # pull-model scans the skops file inside the folder against the allow-list
    pulled = mlgate("pull-model", "-o", str(tmp_path / "out"), cwd=root, env=env)
    assert pulled.returncode == 0 and "allow-list scan passed" in pulled.stdout, pulled.stderr
    assert (tmp_path / "out" / "clf" / "model.skops").read_bytes() == model_bytes(1.0)
    port = free_port()
    log = tmp_path / "serve.log"
    args = [
        str(BIN / "mlgate"), "serve", "--repo", str(root), "--port", str(port),
        "--interval", "1", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            version = client.get("/version").json()
            assert version["version"] == "v1.0.0"
            assert version["sha256"] == hashlib.sha256(model_bytes(1.0)).hexdigest()
            answer = client.post("/predict", json={"rows": [example_row()] * 2})
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["predictions"]) == 2
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@pytest.mark.parametrize("skops_names", [[], ["a.skops", "b.skops"]], ids=["none", "two"])
def test_a_folder_without_exactly_one_skops_file_is_refused(
    tmp_path: Path, env: dict[str, str], skops_names: list[str]
) -> None:
    root = tmp_path / "repo"
    _released(root, env, tmp_path / "store", skops_names)
    proc = mlgate(
        "serve", "--repo", str(root), "--port", str(free_port()), "--cache-dir",
        str(tmp_path / "cache"), cwd=tmp_path, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "serves only skops models" in line, proc.stderr
    assert "models/clf/" in line and "v1.0.0" in line
    assert not (tmp_path / "cache" / "models").exists()  # nothing fetched


def test_following_a_url_an_unservable_folder_is_rejected_and_the_server_stays_unready(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = tmp_path / "repo"
    _released(root, env, tmp_path / "store", [])
    origin = tmp_path / "origin.git"
    add_origin(root, origin, env)  # a bare repository: no start-up check, the loop judges
    port = free_port()
    log = tmp_path / "serve.log"
    args = [
        str(BIN / "mlgate"), "serve", "--repo", str(origin), "--port", str(port),
        "--interval", "1", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    rejected = client.get("/version").json().get("last_rejected")
                    if rejected:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            assert rejected["reason"] == "bad_pointer"
            assert "serves only skops models" in rejected["message"]
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "bad_pointer" in ready.text
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert not list((tmp_path / "cache").glob("models/*.skops"))  # nothing was fetched
