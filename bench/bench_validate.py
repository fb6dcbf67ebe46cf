"""Benchmark: `mlgate validate` vs pandera + scipy ks_2samp + numpy PSI, whole processes.

    python bench/bench_validate.py [--rows 1000000] [--runs 5] [--big-rows 10000000]

Generates (seeded) a reference table and a current table of 20 columns (floats, integers,
low-cardinality strings, a key, some nulls; three columns shifted) as Parquet in a temp
dir, infers the schema and the profile from the reference with `mlgate schema infer`, then
alternates the two whole processes (cold imports included, as CI pays them) and reports
median wall time, the ratio and peak RSS of each. With ``--big-rows`` it also validates a
larger file (mlgate only) to show memory stays bounded. Needs the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BIN = Path(sys.executable).parent
FLOATS = 9
INTS = 5
STRINGS = 5


def make_table(rows: int, seed: int, *, shift: bool, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {"id": pa.array(np.arange(start, start + rows, dtype=np.int64))}
    for i in range(FLOATS):
        if i % 3 == 0:
            v = rng.normal(50 + i, 10, rows)
        elif i % 3 == 1:
            v = rng.lognormal(1, 0.6, rows)
        else:
            v = rng.uniform(0, 100, rows)
        if shift and i == 0:
            v = v + 3.0  # a drifted column (0.3 sd)
        mask = rng.random(rows) < 0.01 if i in (1, 4) else None
        cols[f"f{i}"] = pa.array(v, mask=mask)
    for i in range(INTS):
        v = rng.integers(0, 1000 * (i + 1), rows)
        if shift and i == 1:
            v = (v * 1.2).astype(np.int64) % (1000 * (i + 1))
        cols[f"i{i}"] = pa.array(v)
    for i in range(STRINGS):
        k = 4 + 4 * i
        p = np.arange(1, k + 1, dtype=np.float64)[::-1]
        p = p / p.sum()
        if shift and i == 2:
            p = np.roll(p, 1)
        codes = rng.choice(k, size=rows, p=p)
        words = np.array([f"cat_{i}_{j}" for j in range(k)], dtype=object)
        mask = rng.random(rows) < 0.02 if i == 3 else None
        cols[f"s{i}"] = pa.array(words[codes], mask=mask)
    return pa.table(cols)


def write_big(path: Path, rows: int) -> None:
    chunk = 1_000_000
    first = make_table(min(chunk, rows), 7, shift=True)
    with pq.ParquetWriter(path, first.schema) as writer:
        writer.write_table(first)
        done = first.num_rows
        while done < rows:
            n = min(chunk, rows - done)
            writer.write_table(make_table(n, 7 + done, shift=True, start=done))
            done += n


PEER = textwrap.dedent(
    '''
    """What a user would write otherwise: pandera checks + scipy ks_2samp + numpy PSI."""
    import sys, json
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa
    import yaml
    from scipy.stats import ks_2samp

    data, reference, schema_path = sys.argv[1:4]
    spec = yaml.safe_load(open(schema_path))["columns"]
    df = pd.read_parquet(data)
    ref = pd.read_parquet(reference)
    types = {"integer": "int64", "float": "float64", "string": "str", "boolean": "bool"}
    columns = {}
    for name, s in spec.items():
        checks = []
        if s.get("min") is not None:
            checks.append(pa.Check.ge(s["min"]))
        if s.get("max") is not None:
            checks.append(pa.Check.le(s["max"]))
        if s.get("allowed") is not None:
            checks.append(pa.Check.isin(s["allowed"]))
        columns[name] = pa.Column(
            types[s["dtype"]], checks=checks, nullable=bool(s.get("nullable")),
            unique=bool(s.get("unique")),
        )
    violations = 0
    try:
        pa.DataFrameSchema(columns, strict=True).validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        violations = len(exc.failure_cases)

    def psi(r, a, floor=1e-4):
        r = np.maximum(r, floor); a = np.maximum(a, floor)
        return float(np.sum((a - r) * np.log(a / r)))

    drift = {}
    for name, s in spec.items():
        if s.get("unique"):
            continue
        cur = df[name].dropna(); old = ref[name].dropna()
        if s["dtype"] in ("integer", "float") and s.get("allowed") is None:
            edges = np.unique(np.quantile(old, np.linspace(0, 1, 11)[1:-1]))
            rb = np.bincount(np.searchsorted(edges, old), minlength=len(edges) + 1) / len(old)
            cb = np.bincount(np.searchsorted(edges, cur), minlength=len(edges) + 1) / len(cur)
            drift[name] = (psi(rb, cb), float(ks_2samp(old, cur).statistic))
        else:
            rv = old.value_counts(normalize=True); cv = cur.value_counts(normalize=True)
            keys = rv.index.union(cv.index)
            drift[name] = (psi(rv.reindex(keys, fill_value=0).to_numpy(),
                               cv.reindex(keys, fill_value=0).to_numpy()), None)
    print(json.dumps({"violations": violations, "drifted": sum(p > 0.25 for p, _ in drift.values())}))
    '''
)

# A wrapper process whose only child is the measured command: its RUSAGE_CHILDREN is that
# command's peak RSS and CPU time (user + system, all threads).
RSS = (
    "import resource,subprocess,sys;p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
    "r=resource.getrusage(resource.RUSAGE_CHILDREN);print(p.returncode,r.ru_maxrss,r.ru_utime+r.ru_stime)"
)


def timed(cmd: list[str]) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS MiB, exit code, CPU seconds) of one whole process."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", RSS, *cmd], capture_output=True, text=True, check=True
    ).stdout.split()
    return time.perf_counter() - start, int(out[1]) / 1024, int(out[0]), float(out[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reference-rows", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big-rows", type=int, default=0, help="also validate a file this large")
    args = ap.parse_args()
    versions = ["mlgate", "pyarrow", "numpy", "pandas", "pandera", "scipy"]
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print("versions: " + ", ".join(f"{n} {md.version(n)}" for n in versions))
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        d = Path(tmp)
        pq.write_table(make_table(args.reference_rows, 1, shift=False), d / "reference.parquet")
        pq.write_table(make_table(args.rows, 2, shift=True), d / "current.parquet")
        (d / "peer.py").write_text(PEER)
        subprocess.run(
            [
                BIN / "mlgate",
                "schema",
                "infer",
                d / "reference.parquet",
                "-o",
                d / "schema.yaml",
                "--profile",
                d / "profile.json",
            ],
            check=True,
            capture_output=True,
        )
        ours = [
            str(BIN / "mlgate"),
            "validate",
            str(d / "current.parquet"),
            "--schema",
            str(d / "schema.yaml"),
            "--profile",
            str(d / "profile.json"),
            "--params",
            str(d / "none.yaml"),
            "--json",
        ]
        peer = [
            sys.executable,
            str(d / "peer.py"),
            str(d / "current.parquet"),
            str(d / "reference.parquet"),
            str(d / "schema.yaml"),
        ]
        print(
            f"data: {args.rows:,} rows x 20 columns Parquet; reference {args.reference_rows:,} rows"
        )
        timed(ours), timed(peer)  # warm the page cache for both
        t_ours, t_peer = [], []
        for _ in range(args.runs):
            t_ours.append(timed(ours))
            t_peer.append(timed(peer))
        mo = statistics.median(t[0] for t in t_ours)
        mp = statistics.median(t[0] for t in t_peer)
        print(
            f"mlgate validate      : median {mo:.2f} s, peak RSS {max(t[1] for t in t_ours):.0f} MiB, exit {t_ours[0][2]}  runs {[round(t[0], 2) for t in t_ours]}"
        )
        print(
            f"pandera+scipy+numpy  : median {mp:.2f} s, peak RSS {max(t[1] for t in t_peer):.0f} MiB  runs {[round(t[0], 2) for t in t_peer]}"
        )
        co = statistics.median(t[3] for t in t_ours)
        cp = statistics.median(t[3] for t in t_peer)
        print(f"CPU (user+sys) median: mlgate {co:.2f} s, peer {cp:.2f} s, ratio {cp / co:.1f}x")
        print(f"speed-up (wall)      : {mp / mo:.1f}x (target >= 5x)")
        if args.big_rows:
            big = d / "big.parquet"
            write_big(big, args.big_rows)
            cmd = [*ours]
            cmd[2] = str(big)
            runs = [timed(cmd) for _ in range(3)]
            print(
                f"mlgate validate {args.big_rows:,} rows: median {statistics.median(r[0] for r in runs):.2f} s (CPU {statistics.median(r[3] for r in runs):.2f} s), peak RSS {max(r[1] for r in runs):.0f} MiB (target < 1024 MiB), file {big.stat().st_size / 2**20:.0f} MiB, exit {runs[0][2]}"
            )


if __name__ == "__main__":
    main()
