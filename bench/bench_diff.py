"""Benchmark: `mlgate diff BASE` against `dvc metrics diff BASE`, in the same run.

Run from the repository root (one command):

    .venv/bin/python bench/bench_diff.py            # or: --runs 31

It clones this repository into a temporary folder (the reference project with its
committed metrics), perturbs the working tree's metrics so there is something to diff,
checks that both tools agree (``--json``), then times whole processes, alternating the two
tools run by run, and prints medians, the ratio and the versions. Target: >= 15x.
Rows: ``table`` and ``--json`` are warm runs (mlgate's content-addressed parse cache in
``.git/mlgate-cache.json`` filled by the warm-up, as on any second run); ``cold`` deletes
that cache before every mlgate run, so mlgate parses the YAML (and imports PyYAML) each time.

The ``cached`` rows use a second project laid out as DVC's docs lay it out: a stage whose
output folder ``eval/`` is cached (not in git) and a top-level ``metrics: [eval/metrics.json]``;
two tagged revisions. ``cached`` reads both from the local DVC cache; ``remote`` runs in a
clone with no cache, so both tools fetch the objects from the DVC remote (a local folder).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET = 15.0  # issue 20 (issue 12 asked for 10x)


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the process and its children such as git)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def _prepare(tmp: Path, env: dict[str, str]) -> Path:
    repo = tmp / "project"
    _run(["git", "clone", "-q", str(ROOT), str(repo)], tmp, env)
    scores = repo / "metrics" / "scores.json"
    data = json.loads(scores.read_text())
    data = {k: v * 0.99 for k, v in data.items()}  # a candidate that changed every score
    scores.write_text(json.dumps(data, indent=2))
    return repo


CACHED_DVC_YAML = """\
stages:
  evaluate:
    cmd: python3 write.py
    deps: [write.py]
    params: [acc]
    outs: [eval]
metrics:
  - eval/metrics.json
"""
WRITER = """\
import json, os, pathlib
acc = float(pathlib.Path("params.yaml").read_text().split(":")[1])
os.makedirs("eval", exist_ok=True)
json.dump({"acc": acc, "loss": 1 - acc, "per_class": {"a": acc, "b": acc / 2}},
          open("eval/metrics.json", "w"))
"""


def _prepare_cached(tmp: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """A DVC-style project with cached metrics (two tags), and a clone without the cache."""
    repo, store, clone = tmp / "cached", tmp / "store", tmp / "clone"
    repo.mkdir()
    dvc = str(BIN / "dvc")
    _run(["git", "init", "-q", "-b", "main"], repo, env)
    _run([dvc, "init", "-q"], repo, env)
    _run([dvc, "remote", "add", "-q", "-d", "store", str(store)], repo, env)
    (repo / "dvc.yaml").write_text(CACHED_DVC_YAML)
    (repo / "write.py").write_text(WRITER)
    for tag, acc in (("v1", 0.9), ("v2", 0.8)):
        (repo / "params.yaml").write_text(f"acc: {acc}\n")
        _run([dvc, "repro", "-q"], repo, env)
        _run([dvc, "push", "-q"], repo, env)
        _run(["git", "add", "-A"], repo, env)
        _run(["git", "commit", "-q", "-m", tag], repo, env)
        _run(["git", "tag", tag], repo, env)
    _run(["git", "clone", "-q", str(repo), str(clone)], tmp, env)
    return repo, clone


def _versions(env: dict[str, str]) -> dict[str, str]:
    def out(cmd: list[str]) -> str:
        return subprocess.run(cmd, env=env, capture_output=True, text=True).stdout.strip()

    return {
        "python": platform.python_version(),
        "mlgate": out([str(BIN / "mlgate"), "--version"]).removeprefix("mlgate "),
        "dvc": out([str(BIN / "dvc"), "--version"]),
        "git": out(["git", "--version"]).removeprefix("git version "),
        "cpus": str(os.cpu_count()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs per command (default 21)")
    parser.add_argument("--base", default="HEAD", help="baseline revision (default HEAD)")
    args = parser.parse_args()
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "NO_COLOR": "1", "COLUMNS": "120"}
    env.pop("GITHUB_ACTIONS", None)
    # as a user runs them: with cached bytecode (the warm-up runs write it) for both tools
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-"))
    try:
        repo = _prepare(tmp, env)
        cached, clone = _prepare_cached(tmp, env)
        mlgate, dvc = str(BIN / "mlgate"), str(BIN / "dvc")
        for where, base, cand in (
            (repo, args.base, []),
            (cached, "v1", ["v2"]),
            (clone, "v1", ["v2"]),
        ):
            ours = json.loads(_run([mlgate, "diff", base, *cand, "--json"], where, env).stdout)
            theirs = json.loads(
                _run([dvc, "metrics", "diff", base, *cand, "--json"], where, env).stdout
            )
            if ours != theirs or not ours:
                print(
                    f"MISMATCH between mlgate diff --json and dvc metrics diff --json in {where}",
                    file=sys.stderr,
                )
                return 1
        cached_pair = (
            [mlgate, "diff", "v1", "v2", "--json"],
            [dvc, "metrics", "diff", "v1", "v2", "--json"],
        )
        places = {"cached": cached, "remote": clone}
        pairs = {
            "table": ([mlgate, "diff", args.base], [dvc, "metrics", "diff", args.base]),
            "--json": (
                [mlgate, "diff", args.base, "--json"],
                [dvc, "metrics", "diff", args.base, "--json"],
            ),
            # mlgate's parse cache (.git/mlgate-cache.json) deleted before every run
            "cold": (
                [mlgate, "diff", args.base, "--json"],
                [dvc, "metrics", "diff", args.base, "--json"],
            ),
            "cached": cached_pair,  # outs: [eval] + metrics: [eval/metrics.json], local cache
            "remote": cached_pair,  # the same in a clone without a cache: from the DVC remote
        }
        cache = repo / ".git" / "mlgate-cache.json"
        for name, pair in pairs.items():  # warm the OS file cache
            for cmd in pair:
                _time(cmd, places.get(name, repo), env)
        print(" ".join(f"{k}={v}" for k, v in _versions(env).items()))
        print(
            f"runs={args.runs} per command, alternating; whole processes (CPU: user+system incl. git)"
        )
        print(f"{'':8} {'wall (median)':>27}   {'CPU (median)':>27}")
        print(
            f"{'output':8} {'mlgate':>9} {'dvc':>10} {'ratio':>7}   {'mlgate':>9} {'dvc':>10} {'ratio':>7}"
        )
        worst = float("inf")
        for name, (a, b) in pairs.items():
            ta: list[tuple[float, float]] = []
            tb: list[tuple[float, float]] = []
            where = places.get(name, repo)
            for i in range(args.runs):
                if name == "cold":
                    cache.unlink(missing_ok=True)
                first, second = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
                first[1].append(_time(first[0], where, env))
                second[1].append(_time(second[0], where, env))
            wa, wb = (statistics.median(t[0] for t in ts) for ts in (ta, tb))
            ca, cb = (statistics.median(t[1] for t in ts) for ts in (ta, tb))
            if name in ("table", "--json"):  # the target: the usual (warm) run on plain files
                worst = min(worst, wb / wa)
            print(
                f"{name:8} {wa * 1000:6.0f} ms {wb * 1000:7.0f} ms {wb / wa:6.1f}x"
                f"   {ca * 1000:6.0f} ms {cb * 1000:7.0f} ms {cb / ca:6.1f}x"
            )
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average during the run: {load} (on {os.cpu_count()} CPUs)")
        verdict = "met" if worst >= TARGET else "MISSED"
        print(
            f"target >= {TARGET:g}x (warm rows on plain files): {verdict} (worst {worst:.1f}x); "
            "outputs agree in all three projects"
        )
        return 0 if worst >= TARGET else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
