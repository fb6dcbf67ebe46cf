"""Benchmark: `mlgate exp` (gate and rank N experiments) against `dvc exp show` (list them).

Run from the repository root (one command):

    .venv/bin/python bench/bench_exp.py            # or: --experiments 50 --runs 7

It builds a small DVC project in a temporary folder (one stage writing metrics.json from
params.yaml, a gate policy), runs N real experiments with `dvc exp run -S train.C=...`,
then times whole processes, alternating the two tools run by run: `mlgate exp --json`
(reads the baseline once, gates every experiment, sorts them) and `dvc exp show --json`
(reads and shows the same experiments, judging none). It also times `mlgate gate` of one
experiment, so the cost of fifty against one is visible. Medians, ratios and versions.
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
WRITER = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
json.dump({"acc": round(0.9 - abs(p["C"] - 1) / 10, 4), "loss": p["C"] / 10},
          open("metrics.json", "w"))
"""
PARAMS = """\
train:
  C: 1.0
gate:
  metrics_file: metrics.json
  rules:
    - metric: acc
      max_regression: 0.02
"""
DVC_YAML = """\
stages:
  train:
    cmd: python3 write.py
    deps: [write.py]
    params: [train]
    metrics: [metrics.json]
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode not in (0, 1):  # 1: a gate that fails is still a measured run
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.decode()}")
    return time.perf_counter() - start


def _project(root: Path, env: dict[str, str], n: int) -> None:
    dvc = str(BIN / "dvc")
    root.mkdir()
    _run(["git", "init", "-q", "-b", "main"], root, env)
    _run([dvc, "init", "-q"], root, env)
    (root / "write.py").write_text(WRITER)
    (root / "params.yaml").write_text(PARAMS)
    (root / "dvc.yaml").write_text(DVC_YAML)
    _run([dvc, "repro", "-q"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@e", "commit", "-q", "-m", "base"],
        root,
        env,
    )
    started = time.perf_counter()
    for i in range(n):
        c = round(0.5 + i * (1.5 / max(n - 1, 1)), 4)
        _run([dvc, "exp", "run", "-q", "-S", f"train.C={c}", "-n", f"exp-{i:03d}"], root, env)
        if (i + 1) % 10 == 0:
            print(
                f"  {i + 1}/{n} experiments run ({time.perf_counter() - started:.0f} s)", flush=True
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=50, help="experiments to run (50)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (7)")
    args = parser.parse_args()
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-exp-"))
    try:
        root = tmp / "project"
        print(f"running {args.experiments} experiments with `dvc exp run` ...", flush=True)
        _project(root, env, args.experiments)
        mlgate, dvc = str(BIN / "mlgate"), str(BIN / "dvc")
        ranked = json.loads(_run([mlgate, "exp", "--json"], root, env))
        if len(ranked) != args.experiments:
            print(
                f"mlgate exp saw {len(ranked)} experiments, expected {args.experiments}",
                file=sys.stderr,
            )
            return 1
        cmds = {
            "mlgate exp --json": [mlgate, "exp", "--json"],
            "dvc exp show --json": [dvc, "exp", "show", "--json"],
            "mlgate gate (one)": [mlgate, "gate", "HEAD", "exp-000", "--json"],
        }
        for cmd in cmds.values():  # warm-up (bytecode, OS cache)
            subprocess.run(cmd, cwd=root, env=env, capture_output=True, check=False)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for i in range(args.runs):
            order = list(cmds.items()) if i % 2 == 0 else list(reversed(cmds.items()))
            for name, cmd in order:
                times[name].append(_time(cmd, root, env))
        versions = {
            "python": platform.python_version(),
            "dvc": _run([dvc, "--version"], root, env).strip(),
            "cpus": str(os.cpu_count()),
        }
        print(" ".join(f"{k}={v}" for k, v in versions.items()))
        print(
            f"experiments={args.experiments} runs={args.runs} (medians of whole processes, alternating)"
        )
        med = {k: statistics.median(v) for k, v in times.items()}
        for name, value in med.items():
            print(f"{name:22} {value * 1000:8.0f} ms")
        print(
            f"dvc exp show / mlgate exp: {med['dvc exp show --json'] / med['mlgate exp --json']:.1f}x"
        )
        print(
            f"mlgate exp / one gate:     {med['mlgate exp --json'] / med['mlgate gate (one)']:.1f}x"
        )
        passing = sum(1 for d in ranked if d["status"] == "pass")
        print(
            f"verdicts: {passing} pass, {len(ranked) - passing} other; best {ranked[0]['experiment']['name']}"
        )
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average during the run: {load} (on {os.cpu_count()} CPUs)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
