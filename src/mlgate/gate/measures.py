"""Every metric of :mod:`mlgate.gate.tasks` as a function of per-row weights, vectorised.

A bootstrap resample is fully described by how often it draws each row; a metric on the
resample equals the metric on the original rows weighted by those counts (times the file's
``weight`` column, when there is one). So one implementation serves the point value
(``W`` = the weights, one row) and the direct paired bootstrap (``W`` = resamples x rows
counts, drawn as ``rng.integers(0, n, size=(chunk, n))``, the draws of
:mod:`mlgate.gate.fastboot`). Scores are sorted once; ranks, medians and average precision
per resample are cumulative sums of ``W`` in that order. Tests check every metric against
scikit-learn, with and without sample weights. Only numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlgate.gate.fastboot import resample_counts

if TYPE_CHECKING:
    from mlgate.gate.stats import Predictions
    from mlgate.gate.tasks import Metric

Array = NDArray[np.float64]
EPS = float(np.finfo(float).eps)


def _div(a: Array, b: Array) -> Array:
    return np.asarray(np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0))


class Groups:
    """Rows sorted by a score, in tie groups (ascending), for weighted rank statistics."""

    def __init__(self, s: Array) -> None:
        self.order = np.argsort(s)  # any order within a tie group: sums per group only
        ss = s[self.order]
        self.starts = np.concatenate(([0], np.flatnonzero(np.diff(ss)) + 1))

    def sums(self, w: Array) -> Array:
        """Per tie group sums of ``w`` (resamples x rows) -> resamples x groups."""
        return np.asarray(np.add.reduceat(w[:, self.order], self.starts, axis=1), dtype=float)


def auc_from_groups(pos: Array, neg: Array) -> Array:
    """Mann-Whitney AUC from weighted positives/negatives per ascending tie group."""
    below = np.cumsum(neg, axis=1) - neg
    p, q = pos.sum(axis=1), neg.sum(axis=1)
    u = (pos * (below + neg / 2)).sum(axis=1)
    bad = (p <= 0) | (q <= 0)
    return np.asarray(np.where(bad, np.nan, u / np.where(bad, 1.0, p * q)), dtype=float)


def ap_from_groups(pos: Array, neg: Array) -> Array:
    """Average precision (scikit-learn's step sum) from ascending tie groups."""
    tp = np.cumsum(pos[:, ::-1], axis=1)
    fp = np.cumsum(neg[:, ::-1], axis=1)
    p = tp[:, -1]
    prec = _div(tp, tp + fp)
    ap = (pos[:, ::-1] * prec).sum(axis=1)
    return np.asarray(np.where(p > 0, ap / np.where(p > 0, p, 1.0), np.nan), dtype=float)


def weighted_median(values: Array, order: Any, w: Array) -> Array:
    """Per resample: the averaged inverted-CDF median (numpy's median for whole counts)."""
    c = np.cumsum(w[:, order], axis=1)
    half = c[:, -1:] / 2
    sv = values[order]
    lo = (c < half * (1 - 1e-12)).sum(axis=1)  # first position reaching half
    hi = (c <= half * (1 + 1e-12)).sum(axis=1)  # first position beyond half
    n = len(values) - 1
    return np.asarray((sv[np.minimum(lo, n)] + sv[np.minimum(hi, n)]) / 2, dtype=float)


def confusion(y: Any, p: Any, k: int, w: Array) -> Array:
    """Weighted confusion matrices ``[resample, true, predicted]`` (resamples x k x k)."""
    rows = w.shape[0]
    key = (np.asarray(y, dtype=np.int64) * k + np.asarray(p, dtype=np.int64))[None, :]
    key = key + np.arange(rows, dtype=np.int64)[:, None] * (k * k)
    cm = np.bincount(key.ravel(), weights=w.ravel(), minlength=rows * k * k)
    return np.asarray(cm.reshape(rows, k, k), dtype=np.float64)


def from_confusion(cm: Array, metric: Metric, task: str) -> Array:
    """A count metric from confusion matrices (binary: class 1 is the positive class)."""
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    total = support.sum(axis=1)
    kind = metric.kind
    if kind in ("accuracy", "micro_f1"):
        return _div(tp.sum(axis=1), total)
    if task == "binary" and kind in ("precision", "recall", "f1"):
        cls = 1
    else:
        cls = metric.cls if metric.cls is not None else -1
    if kind == "precision":
        return _div(tp[:, cls], predicted[:, cls])
    if kind == "recall":
        return _div(tp[:, cls], support[:, cls])
    f1 = _div(2 * tp, support + predicted)
    if kind == "f1":
        return np.asarray(f1[:, cls])
    if kind == "macro_f1":
        present = (support + predicted) > 0  # scikit-learn's labels: those in the data
        return _div((f1 * present).sum(axis=1), present.sum(axis=1).astype(float))
    return _div((f1 * support).sum(axis=1), support.sum(axis=1))  # weighted_f1


class Side:
    """One revision's predictions, with per-row terms prepared once for every metric."""

    def __init__(self, pred: Predictions) -> None:
        self.p, self.task = pred, pred.task
        self.n = len(pred)
        self._cache: dict[Any, Any] = {}

    def cached(self, key: Any, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def term(self, metric: Metric) -> Array:
        """The per-row value whose weighted mean is ``metric`` (a mean metric only)."""
        p, kind = self.p, metric.kind
        if kind == "column":
            return np.asarray(p.columns[str(metric.column)], dtype=np.float64)
        if kind == "brier":
            return np.asarray((p.y_score - p.y_true) ** 2, dtype=float)
        if kind == "log_loss" and self.task == "binary":
            q = np.clip(p.y_score, EPS, 1 - EPS)
            return np.asarray(-np.log(np.where(p.y_true == 1, q, 1 - q)), dtype=float)
        if kind == "log_loss":
            true = p.scores[np.arange(self.n), p.y_true]
            return np.asarray(-np.log(np.clip(true, EPS, 1 - EPS)), dtype=float)
        if kind == "top_k_accuracy":
            top: Array = self.cached(("top", metric.k), lambda: self._top_k(metric.k))
            return top
        e = np.asarray(p.y_pred, dtype=np.float64) - np.asarray(p.y_true, dtype=np.float64)
        if kind == "mae":
            return np.abs(e)
        if kind == "mape":
            return np.abs(e) / np.maximum(np.abs(np.asarray(p.y_true, dtype=np.float64)), EPS)
        if kind in ("rmse", "r2"):
            return e * e
        raise KeyError(kind)

    def _top_k(self, k: int) -> Array:
        """1 where the true class is among the ``k`` highest scores (scikit-learn's ties:
        among equal scores, the higher class index ranks first)."""
        s, y = self.p.scores, np.asarray(self.p.y_true, dtype=np.int64)
        true = s[np.arange(self.n), y][:, None]
        cls = np.arange(s.shape[1])[None, :]
        ahead = (s > true) | ((s == true) & (cls > y[:, None]))
        return np.asarray(ahead.sum(axis=1) < k, dtype=float)

    def binary_labels(self, cls: int | None) -> tuple[Any, Any]:
        """``(y, score)`` of a one-vs-rest problem (binary: the file's labels and score)."""
        if cls is None:
            return self.p.y_true, self.p.y_score
        return (np.asarray(self.p.y_true) == cls), self.p.scores[:, cls]

    def groups(self, cls: int | None) -> Groups:
        g: Groups = self.cached(("groups", cls), lambda: Groups(self.binary_labels(cls)[1]))
        return g

    def values(self, metric: Metric, w: Array) -> Array:
        """``metric`` under each row of weights ``w`` (resamples x rows)."""
        kind, p = metric.kind, self.p
        total = w.sum(axis=1)
        if kind in ("accuracy", "precision", "recall", "f1", "macro_f1", "weighted_f1", "micro_f1"):
            k = 2 if self.task == "binary" else len(p.classes)
            return from_confusion(confusion(p.y_true, p.y_pred, k, w), metric, self.task)
        if kind in ("roc_auc", "pr_auc", "roc_auc_ovr"):
            classes = [None] if kind != "roc_auc_ovr" else list(range(len(p.classes)))
            out = []
            for cls in classes:
                y = np.asarray(self.binary_labels(cls)[0] == 1, dtype=float)
                g = self.groups(cls)
                pos, neg = g.sums(w * y), g.sums(w * (1 - y))
                out.append(
                    ap_from_groups(pos, neg) if kind == "pr_auc" else auc_from_groups(pos, neg)
                )
            return np.asarray(np.mean(out, axis=0), dtype=float)
        if kind == "median_ae":
            err = self.cached("abs", lambda: np.abs(np.asarray(p.y_pred, float) - p.y_true))
            order = self.cached("abs_order", lambda: np.argsort(err))
            return weighted_median(err, order, w)
        mean = (w @ self.term(metric)) / total
        if kind == "rmse":
            return np.asarray(np.sqrt(mean), dtype=float)
        if kind == "r2":
            y0 = self.cached("y0", lambda: np.asarray(p.y_true, float) - np.mean(p.y_true))
            sst = w @ (y0 * y0) - (w @ y0) ** 2 / total
            sse = mean * total
            ok = sst > 0
            r2 = 1 - sse / np.where(ok, sst, 1.0)
            return np.asarray(np.where(ok, r2, np.where(sse == 0, 1.0, 0.0)), dtype=float)
        return np.asarray(mean, dtype=float)


def base_weights(pred: Predictions) -> Array:
    """The file's ``weight`` column, or ones."""
    if pred.weight is None:
        return np.ones(len(pred))
    return np.asarray(pred.weight, dtype=float)


def point_value(pred: Predictions, metric: Metric) -> float:
    """``metric`` on the whole file (weighted by its ``weight`` column when present)."""
    return float(Side(pred).values(metric, base_weights(pred)[None, :])[0])


def direct_deltas(
    a: Predictions,
    b: Predictions,
    metrics: list[Metric],
    *,
    samples: int,
    seed: int,
    chunk_cells: int,
) -> dict[str, Array]:
    """``b - a`` per metric on each resample of the rows (same rows, same order)."""
    n = len(a)
    weights = base_weights(a), base_weights(b)
    sides = Side(a), Side(b)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Array]] = {m.name: [] for m in metrics}
    for counts in resample_counts(rng, n, samples, chunk_cells):
        wa, wb = (counts * w[None, :] for w in weights)
        for m in metrics:
            parts[m.name].append(sides[1].values(m, wb) - sides[0].values(m, wa))
    return {name: np.concatenate(v) for name, v in parts.items()}
