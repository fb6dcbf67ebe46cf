"""The evaluate stage's curves (``plots/roc.json``, ``plots/prc.json``) are scikit-learn's
points exactly, computed with numpy (:func:`mlgate.ml.scoring.threshold_counts`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_curve

from mlgate.ml.evaluation import curves


def _sklearn(y: np.ndarray, s: np.ndarray) -> tuple[list[dict[str, float]], ...]:
    fpr, tpr, _ = roc_curve(y, s)
    prec, rec, _ = precision_recall_curve(y, s)
    roc = [
        {"fpr": round(float(a), 6), "tpr": round(float(b), 6)}
        for a, b in zip(fpr, tpr, strict=True)
    ]
    prc = [
        {"recall": round(float(a), 6), "precision": round(float(b), 6)}
        for a, b in zip(rec, prec, strict=True)
    ]
    return roc, prc


@pytest.mark.parametrize("seed", range(40))
def test_curves_are_scikit_learns_points_byte_for_byte(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    y = rng.integers(0, 2, n)
    y[0], y[-1] = 0, 1  # both classes
    digits = int(rng.integers(1, 4))
    s = rng.random(n) if seed % 4 == 0 else np.round(rng.random(n), digits)  # ties
    assert json.dumps(curves(y, s)) == json.dumps(_sklearn(y, s))
