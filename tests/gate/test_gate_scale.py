"""The paired bootstrap at scale (mlgate.gate.scaleboot) against the row bootstrap and a
normal-approximation oracle; predictions.csv read by pyarrow like the csv module reads it.

Tolerances. Two bootstraps with B resamples each, drawn independently, estimate a 2.5% or
97.5% quantile of a roughly normal distribution of spread ``sd`` with a standard error of
about ``2.7 sd / sqrt(B)`` each, so their difference has one of ``3.8 sd / sqrt(B)``; a
p-value ``p`` has one of ``sqrt(p (1 - p) / B)`` each. The small-set tests allow four such
errors (a spurious failure about once in 15,000 runs per comparison, and the seeds are
fixed): at B = 4000, interval ends within ``0.25 sd`` and p-values within
``4 * sqrt(2 p (1 - p) / B) + 2 / B``.
"""

from __future__ import annotations

import csv
import io
import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest

from mlgate.errors import DataError
from mlgate.gate import evaluate_snapshots, fastboot, load_policy, scaleboot, stats
from mlgate.gate.evaluate import Snapshot
from mlgate.gate.stats import Predictions, paired_bootstrap, parse_predictions
from mlgate.ml import scoring

NAMES = list(scoring.METRICS)
DIRS = {n: ("lower" if n in scoring.LOWER_IS_BETTER else "higher") for n in NAMES}


def _pair(n: int, seed: int, noise: float = 1.5, round_to: int | None = 4) -> tuple[Any, Any]:
    """Like bench/bench_gate.py: one latent score, the candidate noisier (same rows)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    base = rng.normal(size=n)

    def side(extra: float) -> tuple[Any, Any, Any]:
        s = 1 / (1 + np.exp(-(2.5 * (2 * y - 1) + base + extra * rng.normal(size=n))))
        s = np.round(s, round_to) if round_to is not None else s
        return y, (s >= 0.5).astype(float), s

    return side(0.5), side(noise)


def _preds(cols: tuple[Any, Any, Any]) -> Predictions:
    y, p, s = cols
    return Predictions(np.array([f"r{i:07d}" for i in range(len(y))]), y, p, s)


def _summary(delta: Any, direction: str, confidence: float = 0.95) -> tuple[float, float, float]:
    delta = delta[~np.isnan(delta)]
    regression = delta if direction == "lower" else -delta
    p = (int((regression <= 0).sum()) + 1) / (delta.size + 1)
    lo, hi = scoring.interval(delta, confidence)
    return p, lo, hi


# -- small sets: the scaled methods against the row bootstrap (same seed) ---------------------
@pytest.mark.parametrize(
    ("n", "noise", "round_to"),
    [(600, 0.8, 4), (3000, 0.7, 2), (3000, 0.6, None), (8000, 0.55, 4)],
)
def test_scaled_methods_agree_with_the_row_bootstrap(
    n: int, noise: float, round_to: int | None
) -> None:
    """fastboot is the row bootstrap itself (tests/gate/test_gate_fastboot.py checks it draw by
    draw against scoring on materialised resamples); the candidate is only slightly noisier,
    so the p-values are not all 1/(B+1)."""
    a, b = _pair(n, seed=n, noise=noise, round_to=round_to)
    samples = 4000
    exact = fastboot.paired_deltas(a, b, NAMES, samples=samples, seed=7, chunk_cells=2_000_000)
    scaled = scaleboot.paired_deltas(a, b, NAMES, samples=samples, seed=7)
    for name in NAMES:
        delta, method = scaled[name]
        assert method == scaleboot.METHODS[name]
        sd = float(np.nanstd(exact[name]))
        p0, lo0, hi0 = _summary(exact[name], DIRS[name])
        p1, lo1, hi1 = _summary(delta, DIRS[name])
        assert abs(lo1 - lo0) <= 0.25 * sd and abs(hi1 - hi0) <= 0.25 * sd, (name, lo0, lo1)
        tol = 4 * math.sqrt(2 * p0 * (1 - p0) / samples) + 2 / samples
        assert abs(p1 - p0) <= tol, (name, p0, p1)


def test_up_to_bins_rows_the_means_are_the_row_bootstrap() -> None:
    """At most BINS rows: every row is its own bin, the draws are multinomial row counts."""
    values = np.random.default_rng(0).exponential(size=50)
    with scaleboot.ThreadPoolExecutor(1) as pool:
        bins = scaleboot.bin_values(values, rng=np.random.default_rng(1), pool=pool)
    means = scaleboot.resampled_means(bins, samples=20_000, rng=np.random.default_rng(2))
    assert bins.values is not None and len(bins.count) == 50
    # the bootstrap of a mean: centred on the mean, variance (1/n) * population variance
    assert means.mean() == pytest.approx(values.mean(), abs=4 * values.std() / 50**0.5 / 141)
    assert means.var() == pytest.approx(values.var() / 50, rel=0.05)


def test_cells_are_the_exact_distribution_of_the_row_bootstrap() -> None:
    """Multinomial cell counts: accuracy's change has the row bootstrap's mean and variance."""
    a, b = _pair(5000, seed=3, noise=0.9)
    counts = np.bincount((a[0] + 2 * a[1] + 4 * b[0] + 8 * b[1]).astype(np.int64), minlength=16)
    deltas = scaleboot.cell_deltas(
        counts, {"accuracy"}, samples=40_000, rng=np.random.default_rng(0)
    )["accuracy"]
    e = (b[0] == b[1]).astype(float) - (a[0] == a[1]).astype(float)
    assert deltas.mean() == pytest.approx(e.mean(), abs=4 * e.std() / 5000**0.5 / 200)
    assert deltas.var() == pytest.approx(e.var() / 5000, rel=0.04)


@pytest.mark.parametrize("round_to", [4, 2, None])
def test_histogram_auc_within_its_documented_error(round_to: int | None) -> None:
    y, _, s = _pair(200_000, seed=5, round_to=round_to)[1]
    with scaleboot.ThreadPoolExecutor(2) as pool:
        auc = scaleboot._Auc(y, s, pool)
    assert auc.error <= scaleboot.AUC_TOLERANCE
    assert abs(auc.auc - float(scoring.roc_auc(y, y, s))) <= max(auc.error, 1e-12)
    if round_to is not None:  # distinct rounded scores never share a bin: exact
        assert auc.error == 0.0


# -- the gate's verdicts: same on a seeded sweep of effects around each rule's limit --------
def _snapshot(rev: str, cols: tuple[Any, Any, Any], metric: str) -> Snapshot:
    value = scoring.score(*cols)[metric]  # only the rule's metric: one bootstrap per gate
    return Snapshot(
        rev=rev * 40, metrics={"metrics/scores.json": {metric: value}}, predictions=_preds(cols)
    )


def _degrade(cols: tuple[Any, Any, Any], k: int, seed: int) -> tuple[Any, Any, Any]:
    """``k`` rows the model had right (by its prediction) pushed towards the wrong side."""
    y, p, s = (c.copy() for c in cols)
    rng = np.random.default_rng(seed)
    rows = rng.choice(np.flatnonzero(p == y), size=k, replace=False)
    s[rows] = np.where(y[rows] == 1, s[rows] * 0.3, 1 - (1 - s[rows]) * 0.3)
    p[rows] = (s[rows] >= 0.5).astype(float)
    return y, p, s


#: About half the paired standard error of each change at 3000 rows, so that the sweep
#: crosses the limit (pass -> inconclusive) and then significance (-> fail).
LIMITS = {
    "accuracy": 0.002,
    "precision": 0.003,
    "recall": 0.003,
    "f1": 0.003,
    "roc_auc": 0.0005,
    "log_loss": 0.003,
}


def test_verdicts_agree_across_a_sweep_of_effects_around_each_limit(monkeypatch: Any) -> None:
    """Each metric's rule (max_regression + significance 0.05), candidates from well inside to
    well beyond the limit; the gate's verdict with the row bootstrap and with the scaled
    methods (forced: EXACT_CELLS = 0) must agree, except where the row bootstrap's own p-value
    is within four Monte-Carlo errors of the significance level (a coin toss for any two
    seeds): those are counted and must be rare."""
    base_cols, cand_cols = _pair(3000, seed=11, noise=0.5)  # same noise, other draws
    close, compared, statuses = 0, 0, set()
    samples = 1000
    for metric, limit in LIMITS.items():
        policy = load_policy_for(metric, limit, samples)
        baseline = _snapshot("a", base_cols, metric)
        for k in range(0, 104, 8):
            cand = _snapshot("b", _degrade(cand_cols, k, seed=k), metric)
            exact = evaluate_snapshots(policy, baseline=baseline, candidate=cand).rules[0]
            monkeypatch.setattr(stats, "EXACT_CELLS", 0)
            scaled = evaluate_snapshots(policy, baseline=baseline, candidate=cand).rules[0]
            monkeypatch.undo()
            assert exact.method == "paired bootstrap"
            assert scaled.method == scaleboot.METHODS[metric]
            statuses.add(exact.status)
            p = exact.p_value
            assert p is not None
            if abs(p - 0.05) <= 4 * math.sqrt(0.05 * 0.95 / samples):
                close += 1
                continue
            compared += 1
            assert scaled.status == exact.status, (metric, k, exact.message, scaled.message)
    assert statuses >= {"pass", "fail", "inconclusive"}
    assert compared >= 60 and close <= compared // 6, (compared, close)


def load_policy_for(metric: str, limit: float, samples: int) -> Any:
    from mlgate.config import Section

    rule = {"metric": metric, "max_regression": limit, "significance": 0.05}
    data = {"bootstrap_samples": samples, "seed": 3, "rules": [rule]}
    return load_policy(Section(data, file="params.yaml", where="gate"))


# -- large sets: against a normal approximation ----------------------------------------------
def _ratio_influence(num: Any, den: Any) -> Any:
    """Per-row influence of ``sum(num) / sum(den)`` (the delta method)."""
    r = num.sum() / den.sum()
    return (num - r * den) / den.mean()


def _influences(cols: tuple[Any, Any, Any]) -> dict[str, Any]:
    y, p, s = cols
    n, pos = len(y), y == 1
    ranks = scoring._average_ranks(s)
    n_pos = pos.sum()
    n_neg = n - n_pos
    auc = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    # placement values from ranks: negatives below a positive, positives above a negative
    order = np.argsort(s, kind="mergesort")
    below_neg = np.empty(n)
    neg_sorted = (~pos[order]).astype(float)
    ss = s[order]
    cum = np.cumsum(neg_sorted)
    first = np.searchsorted(ss, ss, side="left")
    last = np.searchsorted(ss, ss, side="right")
    neg_lt = np.where(first > 0, cum[first - 1], 0.0)
    neg_le = cum[last - 1]
    below_neg[order] = (neg_lt + neg_le) / 2
    v10 = below_neg / n_neg
    pos_sorted = pos[order].astype(float)
    cp = np.cumsum(pos_sorted)
    pos_le = cp[last - 1]
    pos_lt = np.where(first > 0, cp[first - 1], 0.0)
    v01 = np.empty(n)
    v01[order] = (n_pos - pos_le + (pos_le - pos_lt) / 2) / n_pos
    eps = np.finfo(float).eps
    q = np.clip(s, eps, 1 - eps)
    loss = -(y * np.log(q) + (1 - y) * np.log(1 - q))
    return {
        "accuracy": (y == p).astype(float),
        "precision": _ratio_influence(y * p, p),
        "recall": _ratio_influence(y * p, y),
        "f1": _ratio_influence(2 * y * p, p + y),
        "roc_auc": np.where(pos, (v10 - auc) / (n_pos / n), (v01 - auc) / (n_neg / n)),
        "log_loss": loss,
    }


def test_large_sets_agree_with_a_normal_approximation() -> None:
    """500k rows x 1000 resamples takes the scaled path; its intervals and p-values match
    ``change +- z * se`` with se from the per-row influence values (DeLong's for roc_auc):
    interval ends within 0.3 se (the bootstrap quantiles' own error at B = 1000 is about
    0.09 se), p-values within 4 Monte-Carlo errors plus 0.01."""
    n, samples = 500_000, 1000
    a, b = _pair(n, seed=2, noise=0.52)
    got = paired_bootstrap(
        _preds(a), _preds(b), NAMES, DIRS, samples=samples, seed=0, confidence=0.95
    )
    ia, ib = _influences(a), _influences(b)
    va, vb = scoring.score(*a), scoring.score(*b)
    z = NormalDist().inv_cdf(0.975)
    for name in NAMES:
        change = vb[name] - va[name]
        se = float(np.std(ib[name] - ia[name]) / math.sqrt(n))
        stat = got[name]
        assert stat.method == scaleboot.METHODS[name]
        lo, hi = stat.interval
        assert abs(lo - (change - z * se)) <= 0.3 * se, (name, lo, change - z * se, se)
        assert abs(hi - (change + z * se)) <= 0.3 * se, (name, hi, change + z * se, se)
        regression = change if DIRS[name] == "lower" else -change
        p_normal = 1 - NormalDist().cdf(regression / se)
        tol = 4 * math.sqrt(max(p_normal * (1 - p_normal), 1 / samples) / samples) + 0.01
        assert abs(stat.p_value - p_normal) <= tol, (name, stat.p_value, p_normal)


def test_the_method_is_chosen_by_size_and_named_per_metric() -> None:
    small = _pair(2000, seed=1)
    large = _pair(30_000, seed=1)  # 30k rows x 1000 resamples > EXACT_CELLS
    for cols, expect in ((small, None), (large, scaleboot.METHODS)):
        got = paired_bootstrap(
            _preds(cols[0]), _preds(cols[1]), NAMES, DIRS, samples=1000, seed=0, confidence=0.95
        )
        for name in NAMES:
            assert got[name].method == (expect[name] if expect else "paired bootstrap")
    again = paired_bootstrap(
        _preds(large[0]), _preds(large[1]), NAMES, DIRS, samples=1000, seed=0, confidence=0.95
    )
    assert again == paired_bootstrap(
        _preds(large[0]), _preds(large[1]), NAMES, DIRS, samples=1000, seed=0, confidence=0.95
    )


# -- predictions.csv -------------------------------------------------------------------------
def _csv_module(text: str) -> dict[str, list[Any]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    header = rows[0]
    return {c: [r[header.index(c)] for r in rows[1:]] for c in header}


def test_pyarrow_reads_what_the_csv_module_reads() -> None:
    text = (
        'y_score,row_id,extra,y_true,y_pred\n0.25,"a,1",x,1,0\n1e-3,b,y,0,0\n\n'
        '0.9999999999999999,"c ""q""",z,1,1\n0.5,3,w,1,1\n'
    )
    got = parse_predictions(text.encode(), "p.csv")
    ref = _csv_module(text)
    assert got.row_id.to_pylist() == ref["row_id"]
    for col in ("y_true", "y_pred", "y_score"):
        np.testing.assert_array_equal(getattr(got, col), [float(v) for v in ref[col]])
    assert got.y_true.dtype == np.int8 and got.y_score.dtype == np.float64
    other = parse_predictions(b"row_id,y_true,y_pred,y_score\n1,2,1,0.5\n2,0,0,0.1\n", "p.csv")
    assert other.y_true.dtype == np.float64 and other.y_pred.dtype == np.int8


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"row_id,y_true,y_pred,y_score\n1,1,1,0.5\n2,1,1,nan\n",
            "p.csv: line 3: column y_score: expected a finite number, got 'nan'",
        ),
        (b"row_id,y_true,y_pred,y_score\n1,1,,0.5\n", "p.csv: line 2: column y_pred: expected a"),
        (
            b"row_id,y_true,y_pred,y_score\n1,1,1,inf\n",
            "p.csv: line 2: column y_score: expected a finite number, got 'inf'",
        ),
        (
            b"row_id,y_true,y_pred,y_score\n1,1,x,0.5\n",
            "p.csv: line 2: column y_pred: expected a finite number, got 'x'",
        ),
        (b"row_id,y_true,y_pred,y_score\n1,1,1\n", "p.csv: line 2: column y_score: expected a"),
        (
            b"row_id,y_true,y_pred,y_score\n7,1,1,0.5\n7,0,0,0.5\n",
            "column row_id: '7' repeats \\(lines 2 and 3\\)",
        ),
        (b"row_id,y_true\n1,1\n", "p.csv: no column y_pred: a regression predictions file"),
        (b"", "p.csv: no column row_id"),
        (b"row_id,y_true,y_pred,y_score\n\xff,1,1,0.5\n", "not UTF-8"),
    ],
)
def test_bad_predictions_name_the_file_and_line(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_predictions(data, "p.csv")


def test_a_big_file_is_read_in_blocks(monkeypatch: Any) -> None:
    from mlgate.gate import predictions_csv

    monkeypatch.setattr(predictions_csv, "BLOCK_BYTES", 1 << 12)  # many blocks
    n = 5000
    lines = ["row_id,y_true,y_pred,y_score"] + [
        f"{i},{i % 2},{i % 3 % 2},{i / n}" for i in range(n)
    ]
    lines[4000] = "3999x,1,1,nan"
    with pytest.raises(DataError, match="line 4001: column y_score: expected a finite number"):
        parse_predictions("\n".join(lines).encode(), "p.csv")
    lines[4000] = "3999x,1,1,0.5"
    got = parse_predictions("\n".join(lines).encode(), "p.csv")
    assert len(got) == n and got.y_true.dtype == np.int8
    assert got.y_score[3999] == 0.5 and got.y_score[4000] == 4000 / n


def test_rows_pair_by_row_id_whatever_the_order() -> None:
    text = "row_id,y_true,y_pred,y_score\n" + "".join(
        f"{i},{i % 2},{i % 2},{0.1 + 0.8 * (i % 2)}\n" for i in range(40)
    )
    lines = text.splitlines()
    shuffled = "\n".join([lines[0], *reversed(lines[1:])]) + "\n"
    a = parse_predictions(text.encode(), "a")
    b = parse_predictions(shuffled.encode(), "b")
    for sort in (True, False):
        pair = stats.align(a, b, sort=sort)
        assert pair is not None
        assert pair[0].row_id.to_pylist() == pair[1].row_id.to_pylist()
        np.testing.assert_array_equal(pair[0].y_score, pair[1].y_score)
    c = parse_predictions(text.replace("\n39,", "\n99,").encode(), "c")
    assert stats.align(a, c) is None


def test_ids_from_a_file_pair_with_ids_from_numpy() -> None:
    """Continuous training builds Predictions from numpy; the gate parses files: both pair."""
    b = parse_predictions(b"row_id,y_true,y_pred,y_score\n2,1,1,0.9\n1,0,0,0.2\n", "b")
    a = Predictions(
        np.array(["1", "2"]), np.array([0.0, 1.0]), np.array([0, 1]), np.array([0.3, 0.8])
    )
    pair = stats.align(a, b)
    assert pair is not None
    assert pair[0].row_id.to_pylist() == pair[1].row_id.to_pylist() == ["1", "2"]
    np.testing.assert_array_equal(pair[1].y_score, [0.2, 0.9])
