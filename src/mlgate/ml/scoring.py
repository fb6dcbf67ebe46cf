"""Binary-classification metrics in plain numpy, vectorised over bootstrap resamples.

The evaluate stage and the gate's significance test both use these functions, so the
numbers a gate resamples are computed exactly like the ones in ``metrics/scores.json``.
Only numpy is imported (the gate must not pay for scikit-learn's import). Tests check
every function against ``sklearn.metrics``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")

#: Metrics where a lower value is better; every other metric here is higher-is-better.
LOWER_IS_BETTER = frozenset({"log_loss"})

Array = NDArray[np.float64]


def _counts(y: Array, p: Array) -> tuple[Array, Array, Array, Array]:
    tp = (y * p).sum(axis=-1)
    fp = ((1 - y) * p).sum(axis=-1)
    fn = (y * (1 - p)).sum(axis=-1)
    tn = ((1 - y) * (1 - p)).sum(axis=-1)
    return tp, fp, fn, tn


def _safe_div(a: Array, b: Array) -> Array:
    return np.asarray(np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0))


def accuracy(y: Array, p: Array, s: Array) -> Array:
    return np.asarray((y == p).mean(axis=-1), dtype=float)


def precision(y: Array, p: Array, s: Array) -> Array:
    tp, fp, _, _ = _counts(y, p)
    return _safe_div(tp, tp + fp)


def recall(y: Array, p: Array, s: Array) -> Array:
    tp, _, fn, _ = _counts(y, p)
    return _safe_div(tp, tp + fn)


def f1(y: Array, p: Array, s: Array) -> Array:
    tp, fp, fn, _ = _counts(y, p)
    return _safe_div(2 * tp, 2 * tp + fp + fn)


def roc_auc(y: Array, p: Array, s: Array) -> Array:
    """Mann-Whitney form of the AUC, with average ranks for ties (as scikit-learn)."""
    y2, s2 = np.atleast_2d(y), np.atleast_2d(s)
    out = np.empty(y2.shape[0])
    for i in range(y2.shape[0]):
        ranks = _average_ranks(s2[i])
        n_pos = y2[i].sum()
        n_neg = y2.shape[1] - n_pos
        if n_pos == 0 or n_neg == 0:
            out[i] = np.nan
            continue
        out[i] = (ranks[y2[i] == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return out if np.ndim(y) > 1 else out[0]


def _average_ranks(x: Array) -> Array:
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x))
    # boundaries of tie groups in sorted order
    change = np.flatnonzero(np.diff(sorted_x)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(x)]))
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each group
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def log_loss(y: Array, p: Array, s: Array) -> Array:
    eps = np.finfo(float).eps
    q = np.clip(s, eps, 1 - eps)
    return np.asarray(-(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(axis=-1), dtype=float)


FUNCTIONS: dict[str, Callable[[Array, Array, Array], Array]] = {
    "accuracy": accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "roc_auc": roc_auc,
    "log_loss": log_loss,
}


def score(y_true: Array, y_pred: Array, y_score: Array) -> dict[str, float]:
    """All :data:`METRICS` on one sample."""
    y, p, s = (np.asarray(a, dtype=float) for a in (y_true, y_pred, y_score))
    return {name: float(FUNCTIONS[name](y, p, s)) for name in METRICS}


def threshold_counts(y_true: object, y_score: object) -> tuple[Array, Array]:
    """True and false positives at each distinct score, highest score first: the points
    of the ROC and precision-recall curves (``sklearn.metrics._binary_clf_curve``'s counts).

    >>> tp, fp = threshold_counts([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.4])
    >>> tp.tolist(), fp.tolist()
    ([1.0, 2.0, 2.0], [0.0, 1.0, 2.0])
    """
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each threshold
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return tp, fp.astype(float)


def resample_indices(n: int, *, samples: int, seed: int) -> NDArray[np.int64]:
    """``samples`` x ``n`` bootstrap indices from a seeded generator."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(samples, n))


def bootstrap_distribution(
    y_true: Array, y_pred: Array, y_score: Array, *, samples: int, seed: int
) -> dict[str, Array]:
    """Each metric over ``samples`` bootstrap resamples of the rows (NaN-free rows only)."""
    y, p, s = (np.asarray(a, dtype=float) for a in (y_true, y_pred, y_score))
    idx = resample_indices(len(y), samples=samples, seed=seed)
    yb, pb, sb = y[idx], p[idx], s[idx]
    return {name: FUNCTIONS[name](yb, pb, sb) for name in METRICS}


def interval(values: Array, confidence: float) -> tuple[float, float]:
    """Percentile interval of ``values`` (NaNs from degenerate resamples ignored)."""
    alpha = (1 - confidence) / 2
    lo, hi = np.nanquantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)
