"""Significance for every task (issue 22): metric values against scikit-learn, the direct
paired bootstrap against a materialised-resample oracle, the large-set methods against the
direct one, and a seeded sweep of effect sizes through the gate's rules."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from mlgate.config import Section
from mlgate.gate import fastpaired, measures
from mlgate.gate.evaluate import Snapshot, evaluate_snapshots
from mlgate.gate.policy import Policy, default_direction, load_policy
from mlgate.gate.stats import Predictions, metric_of, paired_bootstrap, parse_predictions
from tests.tasks_support import METRICS, csv_of

TASKS = ("binary", "multiclass", "regression")


def _read(task: str, rows: int, *, noise: float, seed: int, weight: bool = False) -> Predictions:
    columns = ["loss"] if task == "multiclass" else []
    data = csv_of(task, rows, noise=noise, seed=seed, weight=weight)
    return parse_predictions(data, f"{task}.csv", columns=columns)


def sklearn_value(p: Predictions, name: str, idx: Any = None) -> float:
    """``name`` by scikit-learn on the rows ``idx`` (materialised: repeats are rows)."""
    i = np.arange(len(p)) if idx is None else idx
    w = None if p.weight is None else p.weight[i]
    y, yp = np.asarray(p.y_true)[i], np.asarray(p.y_pred)[i]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined metrics of odd resamples: NaN below
        try:
            return _sklearn(p, name, y, yp, i, w)
        except ValueError:
            return float("nan")


def _sklearn(p: Predictions, name: str, y: Any, yp: Any, i: Any, w: Any) -> float:
    if name == "column:loss":
        return float(np.average(p.columns["loss"][i], weights=w))
    if p.task == "regression":
        fn = {
            "rmse": skm.root_mean_squared_error,
            "mae": skm.mean_absolute_error,
            "r2": skm.r2_score,
            "mape": skm.mean_absolute_percentage_error,
            "median_ae": skm.median_absolute_error,
        }[name]
        return float(fn(y, yp, sample_weight=w))
    if p.task == "binary":
        s = p.y_score[i]
        binary = {
            "accuracy": lambda: skm.accuracy_score(y, yp, sample_weight=w),
            "precision": lambda: skm.precision_score(y, yp, sample_weight=w, zero_division=0),
            "recall": lambda: skm.recall_score(y, yp, sample_weight=w, zero_division=0),
            "f1": lambda: skm.f1_score(y, yp, sample_weight=w, zero_division=0),
            "roc_auc": lambda: skm.roc_auc_score(y, s, sample_weight=w),
            "log_loss": lambda: skm.log_loss(y, s, labels=[0, 1], sample_weight=w),
            "pr_auc": lambda: skm.average_precision_score(y, s, sample_weight=w),
            "brier": lambda: skm.brier_score_loss(y, s, sample_weight=w),
        }
        return float(binary[name]())
    s, k = p.scores[i], len(p.classes)
    labels = list(range(k))
    cls = {c: j for j, c in enumerate(p.classes)}
    multi = {
        "accuracy": lambda: skm.accuracy_score(y, yp, sample_weight=w),
        "macro_f1": lambda: skm.f1_score(y, yp, average="macro", sample_weight=w, zero_division=0),
        "weighted_f1": lambda: skm.f1_score(
            y, yp, average="weighted", sample_weight=w, zero_division=0
        ),
        "micro_f1": lambda: skm.f1_score(y, yp, average="micro", sample_weight=w, zero_division=0),
        "precision.dog": lambda: skm.precision_score(
            y, yp, labels=[cls["dog"]], average=None, sample_weight=w, zero_division=0
        )[0],
        "recall.fox": lambda: skm.recall_score(
            y, yp, labels=[cls["fox"]], average=None, sample_weight=w, zero_division=0
        )[0],
        "log_loss": lambda: skm.log_loss(y, s, labels=labels, sample_weight=w),
        "roc_auc_ovr": lambda: skm.roc_auc_score(
            y, s, multi_class="ovr", labels=labels, sample_weight=w
        ),
        "top_k_accuracy": lambda: skm.top_k_accuracy_score(
            y, s, k=2, labels=labels, sample_weight=w
        ),
        "top_3_accuracy": lambda: skm.top_k_accuracy_score(
            y, s, k=3, labels=labels, sample_weight=w
        ),
    }
    return float(multi[name]())


@pytest.mark.parametrize("weight", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task", TASKS)
def test_every_metric_matches_scikit_learn(task: str, weight: bool) -> None:
    p = _read(task, 400, noise=1.0, seed=1, weight=weight)
    for name in METRICS[task]:
        metric = metric_of(p, name)
        assert metric is not None, name
        got, want = measures.point_value(p, metric), sklearn_value(p, name)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (name, got, want)


@pytest.mark.parametrize("weight", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task", TASKS)
def test_direct_bootstrap_is_the_materialised_resamples(task: str, weight: bool) -> None:
    """The direct method (count weights over the rows) equals scoring each materialised
    resample with scikit-learn, resample by resample (same seeded draws)."""
    n, samples, seed = 60, 25, 3
    a = _read(task, n, noise=1.0, seed=1, weight=weight)
    b = _read(task, n, noise=1.3, seed=2, weight=weight)
    wanted = [m for m in (metric_of(a, name) for name in METRICS[task]) if m is not None]
    direct = measures.direct_deltas(
        a, b, wanted, samples=samples, seed=seed, chunk_cells=7 * n
    )  # several chunks
    idx = np.random.default_rng(seed).integers(0, n, size=(samples, n))  # the same draws
    for m in wanted:
        oracle = [sklearn_value(b, m.name, i) - sklearn_value(a, m.name, i) for i in idx]
        np.testing.assert_allclose(direct[m.name], oracle, rtol=1e-9, atol=1e-12, err_msg=m.name)


#: Fast (large-set) methods against the direct bootstrap, same data, different draws:
#: p-values within 0.06 (Monte-Carlo error of two estimates from 2000 resamples is about
#: 0.016 at p = 0.5) and interval ends within 15% of the direct interval's width.
P_TOLERANCE = 0.06
INTERVAL_TOLERANCE = 0.15


@pytest.mark.parametrize("weight", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task", TASKS)
def test_large_set_methods_agree_with_the_direct_bootstrap(task: str, weight: bool) -> None:
    n, samples = 1500, 2000
    a = _read(task, n, noise=1.0, seed=1, weight=weight)
    b = _read(task, n, noise=1.15, seed=2, weight=weight)
    wanted = [m for m in (metric_of(a, name) for name in METRICS[task]) if m is not None]
    direct = measures.direct_deltas(a, b, wanted, samples=samples, seed=0, chunk_cells=1 << 21)
    fast = fastpaired.paired_deltas(a, b, wanted, samples=samples, seed=0)
    for m in wanted:
        d, (f, method) = direct[m.name], fast[m.name]
        assert method.startswith("paired bootstrap (")
        higher = default_direction(m.name) == "higher"
        p_direct = ((-d if higher else d) <= 0).mean()
        p_fast = ((-f if higher else f) <= 0).mean()
        assert abs(p_direct - p_fast) <= P_TOLERANCE, (m.name, p_direct, p_fast)
        lo, hi = np.quantile(d, [0.025, 0.975])
        flo, fhi = np.quantile(f, [0.025, 0.975])
        width = hi - lo
        assert abs(flo - lo) <= INTERVAL_TOLERANCE * width, (m.name, (lo, hi), (flo, fhi))
        assert abs(fhi - hi) <= INTERVAL_TOLERANCE * width, (m.name, (lo, hi), (flo, fhi))


def _snapshot(rev: str, p: Predictions, policy: Policy) -> Snapshot:
    values = {}
    for rule in policy.rules:
        metric = metric_of(p, rule.metric, k=rule.k)
        if metric is not None and metric.kind != "column":
            values[rule.metric] = measures.point_value(p, metric)
    return Snapshot(rev=rev, metrics={policy.metrics_file: values}, predictions=p, short=rev)


def _policy(task: str, *, samples: int = 1000) -> Policy:
    rules = [
        {"metric": m, "max_regression": 0.0, "significance": 0.05}
        for m in METRICS[task]
        if m != "top_3_accuracy"
    ]
    gate = {"task": task, "bootstrap_samples": samples, "rules": rules}
    return load_policy(Section(gate, file="params.yaml", where="gate"))


@pytest.mark.parametrize("rows", [400, 6000], ids=["direct", "large-set"])
@pytest.mark.parametrize("task", TASKS)
def test_seeded_sweep_noise_is_inconclusive_a_real_regression_fails(task: str, rows: int) -> None:
    """Equally good models (other seeds, same noise): every change beyond the tolerance is
    inconclusive except for the false alarms the 5% level allows (each of 5-10 metrics has
    5% per pair, and the metrics of a task move together, so a pair in the tail fails
    several: at most two pairs of four, and a quarter of the checks, here); a
    clearly worse model (3x the noise) fails every rule as significant."""
    policy = _policy(task)
    statuses, alarms = [], 0
    for seed in (2, 4, 6, 8):  # four independent pairs of equally good models
        one, other = (_read(task, rows, noise=1.0, seed=s) for s in (seed, seed + 1))
        result = evaluate_snapshots(
            policy, baseline=_snapshot("a", one, policy), candidate=_snapshot("b", other, policy)
        )
        for r in result.rules:
            assert r.method is not None and r.method.startswith("paired bootstrap")
            statuses.append(r.status)
            if r.status == "inconclusive":
                assert "not significant" in r.message
        alarms += any(r.status == "fail" for r in result.rules)
    assert statuses.count("inconclusive") >= len(statuses) // 4, statuses
    assert alarms <= 2 and statuses.count("fail") <= len(statuses) // 4, statuses
    base = _read(task, rows, noise=1.0, seed=1)
    worse = _read(task, rows, noise=3.0, seed=2)
    result = evaluate_snapshots(
        policy, baseline=_snapshot("a", base, policy), candidate=_snapshot("b", worse, policy)
    )
    failed = {r.metric for r in result.rules if r.status == "fail"}
    expect = set(METRICS[task]) - {"top_3_accuracy"}
    if task == "multiclass":
        expect -= {"column:loss"}  # the loss column is noise (it grows with noise too, below)
    assert expect <= failed, {r.metric: r.message for r in result.rules}
    for r in result.rules:
        if r.metric in expect:
            assert "significant (p=" in r.message and "not significant" not in r.message
            # binary's six original metrics keep fastboot's direct draws up to 2e7 cells
            legacy = task == "binary" and r.metric not in ("pr_auc", "brier")
            scaled = rows * 1000 > (20_000_000 if legacy else 2_000_000)
            expected = "paired bootstrap (" if scaled else "paired bootstrap"
            assert r.method is not None and r.method.startswith(expected), r.method


def test_column_metric_gates_the_mean_of_a_predictions_column() -> None:
    policy = load_policy(
        Section(
            {"rules": [{"metric": "column:loss", "max_regression": 0.0, "significance": 0.05}]},
            file="params.yaml",
            where="gate",
        )
    )
    assert policy.rules[0].direction == "lower" and policy.rules[0].file == policy.predictions_file
    base = _read("multiclass", 3000, noise=0.0, seed=1)
    worse = _read("multiclass", 3000, noise=0.5, seed=2)  # loss column 1.5x on average
    result = evaluate_snapshots(
        policy,
        baseline=Snapshot("a", {}, predictions=base, short="a"),
        candidate=Snapshot("b", {}, predictions=worse, short="b"),
    )
    (rule,) = result.rules
    assert rule.status == "fail" and "significant (p=" in rule.message, rule.message
    assert rule.baseline == pytest.approx(float(np.mean(base.columns["loss"])))
    assert rule.candidate == pytest.approx(float(np.mean(worse.columns["loss"])))
    assert rule.method == "paired bootstrap (bins)"


def test_a_metric_without_resampling_says_its_change_counts() -> None:
    policy = load_policy(
        Section(
            {"rules": [{"metric": "gini", "max_regression": 0.01, "significance": 0.05}]},
            file="params.yaml",
            where="gate",
        )
    )
    p = _read("binary", 200, noise=1.0, seed=1)
    result = evaluate_snapshots(
        policy,
        baseline=Snapshot("a", {policy.metrics_file: {"gini": 0.8}}, predictions=p, short="a"),
        candidate=Snapshot("b", {policy.metrics_file: {"gini": 0.7}}, predictions=p, short="b"),
    )
    (rule,) = result.rules
    assert rule.status == "fail"
    assert "no resampling for gini (binary task, see README): its change counts" in rule.message


def test_paired_bootstrap_picks_methods_by_size() -> None:
    small = (
        _read("regression", 1000, noise=1.0, seed=1),
        _read("regression", 1000, noise=1.0, seed=2),
    )
    names = METRICS["regression"]
    dirs = {n: default_direction(n) for n in names}
    got = paired_bootstrap(*small, names, dirs, samples=1000, seed=0, confidence=0.95)
    assert {s.method for s in got.values()} == {"paired bootstrap"}
    big = _read("regression", 3000, noise=1.0, seed=1), _read("regression", 3000, noise=1.0, seed=2)
    got = paired_bootstrap(*big, names, dirs, samples=1000, seed=0, confidence=0.95)
    assert got["mae"].method == "paired bootstrap (bins)"
    assert got["rmse"].method == "paired bootstrap (linearised bins)"
    # a multiclass baseline and a regression candidate cannot be paired
    mixed = paired_bootstrap(
        small[0], _read("multiclass", 1000, noise=1.0, seed=1), names, dirs,
        samples=100, seed=0, confidence=0.95,
    )  # fmt: skip
    assert mixed == {}
