"""Benchmark: `mlgate release` and `mlgate rollback` wall time, local folder vs S3 remote.

Run from the repository root (one command; needs the `dev` extra for moto and dvc-s3):

    .venv/bin/python bench/bench_release.py            # or: --runs 7 --model-mb 20

It builds a small DVC project in a temporary folder (one stage writing a model file of
``--model-mb`` random bytes and a metrics file, the model declared under ``artifacts:``, a
gate policy) twice: once with a DVC remote in a local folder, once with an S3 remote on an
S3-protocol server on 127.0.0.1 (moto's standalone server, through dvc-s3). Each run tags a
new version (`dvc repro` outside the timing), times the whole `mlgate release vX.Y.Z`
process, then the whole `mlgate rollback` process. Separately, in process, it times the
read-back that both commands now do before they commit: opening DVC's remote object
database, then reading the object and hashing it (size, md5, sha256). Medians.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
WRITE = """\
import json, random, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rng = random.Random(p["seed"])
open("model.bin", "wb").write(rng.randbytes(int(p["mb"] * 2**20)))
json.dump({"acc": 0.9 + p["seed"] / 1e6}, open("metrics.json", "w"))
"""
DVC_YAML = """\
stages:
  train:
    cmd: python3 write.py
    deps: [write.py]
    params: [train]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
artifacts:
  model:
    path: model.bin
    type: model
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    _run(cmd, cwd, env)
    return time.perf_counter() - start


def _params(seed: int, mb: float) -> str:
    return (
        f"train:\n  seed: {seed}\n  mb: {mb}\n"
        "gate:\n  metrics_file: metrics.json\n  rules:\n    - metric: acc\n      min: 0.5\n"
    )


def _project(root: Path, env: dict[str, str], mb: float, remote: list[list[str]]) -> None:
    root.mkdir(parents=True)
    (root / "write.py").write_text(WRITE)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "params.yaml").write_text(_params(1, mb))
    _run(["git", "init", "-q", "-b", "main"], root, env)
    _run([str(BIN / "dvc"), "init", "-q"], root, env)
    for args in remote:
        _run([str(BIN / "dvc"), "remote", *args], root, env)
    _run([str(BIN / "dvc"), "repro", "-q"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-q", "-m", "v1"], root, env)
    _run(["git", "tag", "v1.0.0"], root, env)
    _run([str(BIN / "mlgate"), "release", "v1.0.0"], root, env)


def _version(root: Path, env: dict[str, str], seed: int, mb: float) -> str:
    (root / "params.yaml").write_text(_params(seed, mb))
    _run([str(BIN / "dvc"), "repro", "-q"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-q", "-m", f"seed {seed}"], root, env)
    tag = f"v1.{seed}.0"
    _run(["git", "tag", tag], root, env)
    return tag


def _read_back(root: Path, remote: str, runs: int) -> tuple[float, float]:
    """Medians of (open DVC + read + hash, read + hash alone) for the live model."""
    from mlgate.deploy.pointer import read_pointer
    from mlgate.deploy.remote import Digest, _dvc_repo, _read_back, _remote_odb
    from mlgate.git import Repo

    pointer = read_pointer(Repo(root))
    assert pointer is not None
    want = Digest(pointer.model.md5, pointer.model.sha256, pointer.model.size)
    whole, alone = [], []
    for _ in range(runs):
        start = time.perf_counter()
        with _dvc_repo(root) as repo:
            name, odb = _remote_odb(repo, remote)
            middle = time.perf_counter()
            _read_back(name, odb, want, version=pointer.version)
        end = time.perf_counter()
        whole.append(end - start)
        alone.append(end - middle)
    return statistics.median(whole), statistics.median(alone)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model-mb", type=float, default=5.0)
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    import boto3

    creds = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}
    os.environ.update(creds, AWS_DEFAULT_REGION="us-east-1", DVC_NO_ANALYTICS="1")  # in process
    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
    ).create_bucket(Bucket="bench")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-release-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_"))},
            "HOME": str(home),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
            "AWS_DEFAULT_REGION": "us-east-1",
            **creds,
        }
        remotes = {
            "local folder": [
                ["add", "-d", "store", str(Path(tmp) / "remote")],
                ["modify", "store", "verify", "true"],
            ],
            "S3 protocol (moto, 127.0.0.1)": [
                ["add", "-d", "store", "s3://bench/mlgate"],
                ["modify", "store", "endpointurl", url],
                ["modify", "store", "verify", "true"],
            ],
        }
        for k, (label, config) in enumerate(remotes.items()):
            root = Path(tmp) / f"project{k}"
            _project(root, env, args.model_mb, config)
            release, rollback = [], []
            for run in range(args.runs):
                tag = _version(root, env, 2 + run, args.model_mb)
                release.append(_time([str(BIN / "mlgate"), "release", tag], root, env))
                rollback.append(_time([str(BIN / "mlgate"), "rollback"], root, env))
            whole, alone = _read_back(root, "store", args.runs)
            rows.append(
                (label, statistics.median(release), statistics.median(rollback), whole, alone)
            )
    server.stop()

    print(f"mlgate release / rollback, model {args.model_mb:g} MB, {args.runs} runs, medians")
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(
        f"{'remote':32} {'release':>9} {'rollback':>9} {'read-back':>10} "
        f"{'read+hash':>10} {'of release':>10}"
    )
    for label, rel, rb, whole, alone in rows:
        print(f"{label:32} {rel:8.2f}s {rb:8.2f}s {whole:9.3f}s {alone:9.3f}s {whole / rel:9.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
