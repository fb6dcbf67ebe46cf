"""The gate's count-based paired bootstrap agrees with scoring on materialised resamples."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.gate import fastboot
from mlgate.gate.stats import CHUNK_CELLS, Predictions, direct_deltas, paired_bootstrap
from mlgate.ml import scoring

NAMES = list(scoring.METRICS)


def _preds(y: Any, p: Any, s: Any) -> Predictions:
    n = len(y)
    return Predictions(
        row_id=np.array([str(i) for i in range(n)]),
        y_true=np.asarray(y, dtype=float),
        y_pred=np.asarray(p, dtype=float),
        y_score=np.asarray(s, dtype=float),
    )


def _direct(a: Predictions, b: Predictions, samples: int, seed: int) -> dict[str, Any]:
    parts = direct_deltas(a, b, NAMES, samples=samples, seed=seed)
    return {n: np.concatenate([np.atleast_1d(d) for d in parts[n]]) for n in NAMES}


def _fast(a: Predictions, b: Predictions, samples: int, seed: int, chunk: int) -> dict[str, Any]:
    return fastboot.paired_deltas(
        (a.y_true, a.y_pred, a.y_score),
        (b.y_true, b.y_pred, b.y_score),
        NAMES,
        samples=samples,
        seed=seed,
        chunk_cells=chunk,
    )


def _assert_same(direct: dict[str, Any], fast: dict[str, Any]) -> None:
    for name in NAMES:
        assert fast[name].shape == direct[name].shape, name
        np.testing.assert_allclose(fast[name], direct[name], rtol=0, atol=1e-12, err_msg=name)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.integers(0, 1),  # y_true
            st.integers(0, 1),  # y_pred of the baseline
            st.integers(0, 1),  # y_pred of the candidate
            st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]),  # few distinct scores: many ties
            st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]),
        ),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 2**32 - 1),
    chunk=st.sampled_from([1, 7, 64, CHUNK_CELLS]),
)
def test_fast_path_matches_materialised_resamples(
    data: list[tuple[int, int, int, float, float]], seed: int, chunk: int
) -> None:
    y, pa, pb, sa, sb = (list(col) for col in zip(*data, strict=True))
    a, b = _preds(y, pa, sa), _preds(y, pb, sb)
    fast = _fast(a, b, 50, seed, chunk)
    # the chunking changes neither the resamples nor the values
    _assert_same(_direct(a, b, 50, seed), fast)


def test_degenerate_resamples_give_nan_auc_like_scoring() -> None:
    # one positive among 8 rows: many resamples miss it (roc_auc undefined), others do not
    y = [1, 0, 0, 0, 0, 0, 0, 0]
    a = _preds(y, [1, 0, 0, 1, 0, 0, 0, 0], [0.9, 0.1, 0.1, 0.6, 0.2, 0.2, 0.3, 0.1])
    b = _preds(y, [0, 0, 0, 1, 0, 0, 0, 0], [0.4, 0.1, 0.1, 0.6, 0.2, 0.2, 0.3, 0.1])
    direct, fast = _direct(a, b, 400, 5), _fast(a, b, 400, 5, CHUNK_CELLS)
    assert np.isnan(direct["roc_auc"]).any() and not np.isnan(direct["roc_auc"]).all()
    np.testing.assert_array_equal(np.isnan(fast["roc_auc"]), np.isnan(direct["roc_auc"]))
    _assert_same(direct, fast)


def test_fast_path_matches_sklearn_on_one_resample() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(11)
    n = 500
    y = (rng.random(n) < 0.35).astype(float)
    s = np.round(rng.random(n), 2)
    a = _preds(y, (s > 0.5).astype(float), s)
    b = _preds(y, np.zeros(n), np.full(n, 0.5))  # constant model: all scores tied
    fast = _fast(a, b, 1, 3, CHUNK_CELLS)
    idx = np.random.default_rng(3).integers(0, n, size=(1, n))[0]
    yy, pp, ss = y[idx], a.y_pred[idx], s[idx]
    expected_a = {
        "accuracy": metrics.accuracy_score(yy, pp),
        "precision": metrics.precision_score(yy, pp, zero_division=0),
        "recall": metrics.recall_score(yy, pp),
        "f1": metrics.f1_score(yy, pp),
        "roc_auc": metrics.roc_auc_score(yy, ss),
        "log_loss": metrics.log_loss(yy, np.clip(ss, 1e-15, 1 - 1e-15)),
    }
    expected_b = {
        "accuracy": metrics.accuracy_score(yy, np.zeros(n)),
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "roc_auc": 0.5,
        "log_loss": metrics.log_loss(yy, np.full(n, 0.5)),
    }
    for name in NAMES:
        assert fast[name][0] == pytest.approx(expected_b[name] - expected_a[name], abs=1e-9), name


def test_non_binary_labels_fall_back_to_the_direct_computation() -> None:
    a = _preds([0, 1, 2, 1], [0, 1, 1, 1], [0.1, 0.8, 0.7, 0.6])
    b = _preds([0, 1, 2, 1], [0, 0, 1, 1], [0.2, 0.4, 0.7, 0.6])
    assert not fastboot.is_binary(a.y_true, a.y_pred, b.y_true, b.y_pred)
    result = paired_bootstrap(a, b, NAMES, {}, samples=100, seed=0, confidence=0.9)
    # by hand: scoring on the materialised resamples (the count formulas read y == 1 as the
    # only positive class, so taking the fast path here gives another roc_auc); no
    # directions given, so every metric counts as higher-is-better
    idx = np.random.default_rng(0).integers(0, 4, size=(100, 4))
    assert set(result) == set(NAMES)
    for name in NAMES:
        fn = scoring.FUNCTIONS[name]
        delta = np.atleast_1d(
            fn(b.y_true[idx], b.y_pred[idx], b.y_score[idx])
            - fn(a.y_true[idx], a.y_pred[idx], a.y_score[idx])
        )
        delta = delta[~np.isnan(delta)]
        p_value = (int((-delta <= 0).sum()) + 1) / (delta.size + 1)
        lo, hi = np.quantile(delta, [0.05, 0.95])
        assert result[name].method == "paired bootstrap", name
        assert result[name].p_value == pytest.approx(p_value, abs=1e-12), name
        assert result[name].interval == pytest.approx((lo, hi), abs=1e-12), name


def test_paired_bootstrap_runs_on_200k_rows() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    y = (rng.random(n) < 0.4).astype(float)
    sa = np.round(np.clip(0.6 * y + 0.5 * rng.random(n), 0, 1), 3)
    sb = np.round(np.clip(0.5 * y + 0.6 * rng.random(n), 0, 1), 3)
    a = _preds(y, (sa >= 0.5).astype(float), sa)
    b = _preds(y, (sb >= 0.5).astype(float), sb)
    dirs = {n: ("lower" if n in scoring.LOWER_IS_BETTER else "higher") for n in NAMES}
    result = paired_bootstrap(a, b, NAMES, dirs, samples=200, seed=1, confidence=0.95)
    assert set(result) == set(NAMES)
    assert result["roc_auc"].interval[1] < 0  # the noisier candidate is clearly worse
    assert result["roc_auc"].p_value == pytest.approx(1 / 201)
    again = paired_bootstrap(a, b, NAMES, dirs, samples=200, seed=1, confidence=0.95)
    assert again == result
