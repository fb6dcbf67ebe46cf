"""Benchmark: fetching a released folder model, `mlgate pull-model` vs `dvc pull`.

Run from the repository root (one command):

    .venv/bin/python bench/bench_dir_model.py            # or: --runs 7 --weights-mb 200 --small 50

It builds a DVC project in a temporary folder whose model, declared under ``artifacts:``,
is a HuggingFace-like folder: ``weights.bin`` of ``--weights-mb`` random bytes plus
``--small`` small JSON files, with a DVC remote in a local folder (``verify = true``), and
releases it once with ``mlgate release v1.0.0`` (its time is reported too, with the time of
a plain ``dvc push`` of the same folder to a fresh remote).

Then, alternating, each run times one whole process:

- ``mlgate pull-model -o OUT`` (reads every file from the remote, checks size, md5 and
  sha256 of each against the pointer's manifest, renames the verified folder into place);
- the peer, ``dvc pull models/hf`` in a clone with an empty cache and workspace (with
  ``verify = true`` DVC re-hashes what it downloads, md5 only; then it checks the folder out).

Outside the timings the output folder, or the clone's cache and folder, are removed.
Medians, the ratio, and the machine's load average before and after (a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
WRITE = """\
import json, os, random, sys
mb, small = float(sys.argv[1]), int(sys.argv[2])
rng = random.Random(1)
os.makedirs("models/hf/extra", exist_ok=True)
open("models/hf/weights.bin", "wb").write(rng.randbytes(int(mb * 2**20)))
for i in range(small):
    json.dump({"i": i, "pad": "x" * 2000}, open(f"models/hf/extra/f{i:03d}.json", "w"))
json.dump({"hidden": 768}, open("models/hf/config.json", "w"))
json.dump({"acc": 0.9}, open("metrics.json", "w"))
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--weights-mb", type=float, default=100.0)
    parser.add_argument("--small", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dir-model-"))
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "HOME": str(tmp / "home"),
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    (tmp / "home").mkdir()
    root, store = tmp / "repo", tmp / "store"
    root.mkdir()
    dvc, mlgate = str(BIN / "dvc"), str(BIN / "mlgate")
    try:
        _run(["git", "init", "-q", "-b", "main"], root, env)
        _run([dvc, "init", "-q"], root, env)
        _run([dvc, "remote", "add", "-q", "-d", "store", str(store)], root, env)
        _run([dvc, "remote", "modify", "store", "verify", "true"], root, env)
        (root / "write.py").write_text(WRITE)
        dvc_yaml = {
            "stages": {
                "train": {
                    "cmd": f"python3 write.py {args.weights_mb} {args.small}",
                    "deps": ["write.py"],
                    "outs": ["models/hf", {"metrics.json": {"cache": False}}],
                }
            },
            "artifacts": {"hf": {"path": "models/hf", "type": "model"}},
        }
        (root / "dvc.yaml").write_text(json.dumps(dvc_yaml))  # JSON is YAML
        _run([dvc, "repro", "-q"], root, env)
        _run(["git", "add", "-A"], root, env)
        _run(["git", "commit", "-q", "-m", "pipeline"], root, env)
        _run(["git", "tag", "v1.0.0"], root, env)
        load_before = os.getloadavg()
        release = _run([mlgate, "release", "v1.0.0"], root, env)
        # the peer of the push half: `dvc push` of the same folder to an empty folder remote
        _run([dvc, "remote", "add", "-q", "fresh", str(tmp / "fresh")], root, env)
        push = _run([dvc, "push", "-q", "-r", "fresh"], root, env)
        _run(["git", "checkout", "-q", "--", ".dvc/config"], root, env)
        files = sum(1 for p in (root / "models" / "hf").rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in (root / "models" / "hf").rglob("*") if p.is_file())

        clone = tmp / "clone"
        _run(["git", "clone", "-q", str(root), str(clone)], tmp, env)
        ours: list[float] = []
        peer: list[float] = []
        out = tmp / "out"
        for i in range(args.runs):
            order = ("mlgate", "dvc") if i % 2 == 0 else ("dvc", "mlgate")
            for who in order:
                if who == "mlgate":
                    shutil.rmtree(out, ignore_errors=True)
                    ours.append(_run([mlgate, "pull-model", "-o", str(out)], root, env))
                else:
                    shutil.rmtree(clone / ".dvc" / "cache", ignore_errors=True)
                    shutil.rmtree(clone / "models", ignore_errors=True)
                    peer.append(_run([dvc, "pull", "-q", "models/hf"], clone, env))
        load_after = os.getloadavg()
        m_ours, m_peer = statistics.median(ours), statistics.median(peer)
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
        print(f"folder: {files} files, {size / 2**20:.1f} MiB; runs: {args.runs} (alternating)")
        print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f}")
        print(f"mlgate release v1.0.0 (gate, push, read-back of every file): {release:.2f} s")
        print(f"dvc push of the same folder to an empty remote:               {push:.2f} s")
        print(f"mlgate pull-model (verified, atomic): median {m_ours:.2f} s  {ours}")
        print(f"dvc pull (verify = true):             median {m_peer:.2f} s  {peer}")
        print(f"ratio dvc pull / mlgate pull-model: {m_peer / m_ours:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
