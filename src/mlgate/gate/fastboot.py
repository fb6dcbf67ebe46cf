"""Paired bootstrap of the :mod:`mlgate.ml.scoring` metrics from per-resample counts.

A bootstrap resample is fully described by how often it draws each row (its multinomial
counts ``w``, from ``np.bincount`` of the resample's indices). Every metric here is a
function of a few ``w``-weighted sums, so a chunk of resamples becomes one ``W @ V``
product (``W``: resamples x rows counts, ``V``: rows x per-row terms) instead of gathering
rows into resamples x rows arrays per metric and model:

- accuracy, precision, recall, f1: weighted sums of ``y == p``, ``y*p``, ``(1-y)*p``,
  ``y*(1-p)``; log_loss: the weighted sum of the per-row loss.
- roc_auc: the scores are sorted once per model; per resample, the weighted positives and
  negatives of each tie group (``np.add.reduceat`` over the sorted order) give the
  Mann-Whitney statistic ``sum_g P_g * (negatives below g + N_g / 2)`` -- exactly the
  average-rank form of :func:`mlgate.ml.scoring.roc_auc` on the materialised resample.

The indices come from the same seeded generator calls as the direct computation, so the
resamples (and the metric values, up to floating-point summation order) are identical.
Only numpy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Metrics :func:`paired_deltas` computes from counts.
SUPPORTED = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"})


def _safe_div(a: Array, b: Array) -> Array:
    return np.asarray(np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0))


class _Model:
    """Per-row terms of one model's predictions, prepared once for all resamples."""

    def __init__(self, y: Array, p: Array, s: Array) -> None:
        eps = np.finfo(float).eps
        q = np.clip(s, eps, 1 - eps)
        # columns of V: (y == p), y*p, (1-y)*p, y*(1-p), per-row log loss
        self.terms = np.stack(
            [
                (y == p).astype(float),
                y * p,
                (1 - y) * p,
                y * (1 - p),
                -(y * np.log(q) + (1 - y) * np.log(1 - q)),
            ],
            axis=1,
        )
        order = np.argsort(s, kind="mergesort")
        sorted_s = s[order]
        # tie group of each row (groups numbered in ascending score order)
        group = np.empty(len(s), dtype=np.int64)
        group[order] = np.concatenate(([0], np.cumsum(np.diff(sorted_s) != 0)))
        self.groups = int(group.max()) + 1 if len(s) else 1
        # bincount key of row i: (tie group, positive?) -> 2 * group + y
        self.key = 2 * group + (y == 1).astype(np.int64)
        self._flat: NDArray[np.int64] | None = None

    def _keys(self, rows: int) -> NDArray[np.int64]:
        """``key`` offset by ``2 * groups`` per resample row, flattened (cached per chunk)."""
        n = len(self.key)
        if self._flat is None or len(self._flat) < rows * n:
            offsets = np.arange(rows, dtype=np.int64)[:, None] * (2 * self.groups)
            self._flat = (self.key[None, :] + offsets).ravel()
        return self._flat[: rows * n]

    def metrics(
        self, counts: NDArray[np.int64], sums: Array, n: int, names: set[str]
    ) -> dict[str, Array]:
        """Metric values per resample from the counts and the weighted sums ``W @ terms``."""
        eq, tp, fp, fn, ll = (sums[:, k] for k in range(5))
        out: dict[str, Array] = {}
        if "accuracy" in names:
            out["accuracy"] = eq / n
        if "precision" in names:
            out["precision"] = _safe_div(tp, tp + fp)
        if "recall" in names:
            out["recall"] = _safe_div(tp, tp + fn)
        if "f1" in names:
            out["f1"] = _safe_div(2 * tp, 2 * tp + fp + fn)
        if "log_loss" in names:
            out["log_loss"] = ll / n
        if "roc_auc" in names:
            out["roc_auc"] = self._auc(counts)
        return out

    def _auc(self, counts: NDArray[np.int64]) -> Array:
        rows = counts.shape[0]
        per_group = np.bincount(
            self._keys(rows), weights=counts.ravel(), minlength=rows * 2 * self.groups
        ).reshape(rows, self.groups, 2)
        neg, pos = per_group[..., 0], per_group[..., 1]
        below = np.cumsum(neg, axis=1) - neg  # negatives strictly below each tie group
        n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
        # twice the Mann-Whitney U (integers, exact in float64 below 2**53), one division
        u2 = (pos * (2 * below + neg)).sum(axis=1)
        degenerate = (n_pos == 0) | (n_neg == 0)
        auc = u2 / np.where(degenerate, 1.0, 2.0 * n_pos * n_neg)
        return np.asarray(np.where(degenerate, np.nan, auc), dtype=float)


def is_binary(*arrays: Array) -> bool:
    """True when every array holds only 0 and 1 (what the count formulas assume)."""
    return all(bool(np.isin(a, (0.0, 1.0)).all()) for a in arrays)


def resample_counts(
    rng: np.random.Generator, n: int, samples: int, chunk_cells: int
) -> Iterator[NDArray[np.int64]]:
    """Bootstrap resamples of ``n`` rows as row counts, ``max(1, chunk_cells // n)`` at a time.

    Each yielded block is ``resamples x n``: how often each row is drawn. The draws are
    ``rng.integers(0, n)`` per resample row, in order, so every caller with the same seed sees
    the same resamples (the direct computation and its fast paths agree draw by draw).
    """
    chunk = max(1, chunk_cells // n)
    for start in range(0, samples, chunk):
        rows = min(chunk, samples - start)
        idx = rng.integers(0, n, size=(rows, n))
        idx += np.arange(rows)[:, None] * n
        counts = np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n)
        del idx
        yield counts


def paired_deltas(
    baseline: tuple[Array, Array, Array],
    candidate: tuple[Array, Array, Array],
    names: list[str],
    *,
    samples: int,
    seed: int,
    chunk_cells: int,
) -> dict[str, Array]:
    """``candidate - baseline`` of each metric in ``names`` over ``samples`` resamples.

    ``baseline``/``candidate`` are ``(y_true, y_pred, y_score)`` of the same rows in the same
    order. The resample indices are drawn as ``rng.integers(0, n, size=(chunk, n))`` per
    chunk of ``max(1, chunk_cells // n)`` resamples, exactly as the direct computation.
    Degenerate resamples (no positives or no negatives) give NaN for roc_auc.
    """
    n = len(baseline[0])
    wanted = set(names)
    models = [_Model(*baseline), _Model(*candidate)]
    terms = np.concatenate([m.terms for m in models], axis=1)  # n x 10
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Any]] = {name: [] for name in names}
    for counts in resample_counts(rng, n, samples, chunk_cells):
        sums = counts.astype(float) @ terms
        a = models[0].metrics(counts, sums[:, :5], n, wanted)
        b = models[1].metrics(counts, sums[:, 5:], n, wanted)
        for name in names:
            parts[name].append(b[name] - a[name])
    return {name: np.concatenate(parts[name]) if parts[name] else np.empty(0) for name in names}
