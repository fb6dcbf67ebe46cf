from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mlgate.ml import scoring


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=4, max_value=200))
def test_scores_match_sklearn(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    y[0], y[1] = 0, 1  # both classes present
    s = np.round(rng.random(n), 2)  # ties on purpose
    p = (s >= 0.5).astype(float)
    got = scoring.score(y, p, s)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert got["precision"] == pytest.approx(skm.precision_score(y, p, zero_division=0))
    assert got["recall"] == pytest.approx(skm.recall_score(y, p, zero_division=0))
    assert got["f1"] == pytest.approx(skm.f1_score(y, p, zero_division=0))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, s), rel=1e-6)


def test_bootstrap_is_seeded_and_vectorised() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100).astype(float)
    s = rng.random(100)
    p = (s > 0.5).astype(float)
    a = scoring.bootstrap_distribution(y, p, s, samples=50, seed=3)
    b = scoring.bootstrap_distribution(y, p, s, samples=50, seed=3)
    for name in scoring.METRICS:
        assert a[name].shape == (50,)
        np.testing.assert_array_equal(a[name], b[name])
    idx = scoring.resample_indices(100, samples=50, seed=3)
    assert a["accuracy"][7] == pytest.approx(skm.accuracy_score(y[idx[7]], p[idx[7]]))
    lo, hi = scoring.interval(a["accuracy"], 0.95)
    assert lo <= hi
