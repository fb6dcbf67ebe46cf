"""The paired bootstrap of every task's metrics on large sets (cost not rows x resamples).

The direct computation (:func:`mlgate.gate.measures.direct_deltas`) is the oracle these
methods are tested against; each metric's method is named in the verdict's ``method``:

- ``paired bootstrap (cells)``: metrics of confusion counts (binary accuracy, precision,
  recall, f1; multiclass accuracy, micro/macro/weighted f1, ``precision.<class>``,
  ``recall.<class>``) from the joint cells ``(y_a, p_a, y_b, p_b)`` of both revisions (at
  most ``classes**3`` non-empty cells when both score the same labels), drawn as multinomial
  counts over the cells: exactly the row bootstrap's distribution of the two confusion
  matrices. With a ``weight`` column, each drawn cell's weight total is its count times the
  cell's mean weight plus a normal term of the cell's weight variance.
- ``paired bootstrap (bins)``: metrics that are the plain mean of a per-row value
  (log_loss, brier, top_k_accuracy, mae, mape, ``column:<name>``) through
  :func:`mlgate.gate.scaleboot.bin_values` of the per-row change (exact up to 1024 rows).
- ``paired bootstrap (histogram auc)``: roc_auc_ovr without weights: each class's
  one-vs-rest AUC and its rows' placement values from score histograms
  (:class:`mlgate.gate.scaleboot.HistogramAuc`: ``2**16`` bins, then ``2**20``, then one
  per distinct score, until the binning error of every class is at most
  :data:`mlgate.gate.scaleboot.AUC_TOLERANCE`, so the value is within that of the sorted
  computation; exact for scores rounded to 4 decimals), the classes on two threads; then
  resampled as the linearised bins below. No sort of the scores.
- ``paired bootstrap (linearised bins)``: every other metric (rmse, r2, median_ae,
  weighted roc_auc_ovr, pr_auc, weighted means) as the full-sample change plus the
  resampled mean of the per-row change of its influence values (first-order; the neglected
  terms shrink as ``1 / n``). median_ae's influence divides by a kernel density estimate at
  the median (Silverman's bandwidth), so errors with many ties at the median make it
  rougher.

Joint cells are counted with one ``bincount`` over ``classes**4`` keys (no sort) when that
is at most :data:`DENSE_CELLS`. The metrics other than counts run side by side on
:data:`~mlgate.gate.scaleboot.THREADS` threads (numpy releases the GIL), each from its own
random stream, so results do not depend on the order they finish in.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from mlgate.gate.measures import Groups, Side, base_weights, from_confusion
from mlgate.gate.scaleboot import (
    AUC,
    BLOCK,
    CELLS,
    MEANS,
    SERIAL,
    THREADS,
    HistogramAuc,
    bin_values,
    resampled_means,
)
from mlgate.gate.tasks import COUNTS
from mlgate.gate.tasks import MEANS as MEAN_KINDS

if TYPE_CHECKING:
    from mlgate.gate.measures import Array
    from mlgate.gate.stats import Predictions
    from mlgate.gate.tasks import Metric

LINEAR = "paired bootstrap (linearised bins)"
#: Joint cells counted densely (``bincount``) up to this many keys (``classes**4``).
DENSE_CELLS = 1 << 22


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def paired_deltas(
    a: Predictions, b: Predictions, metrics: list[Metric], *, samples: int, seed: int
) -> dict[str, tuple[Array, str]]:
    """``b - a`` per metric over ``samples`` resamples, with the method used."""
    out: dict[str, tuple[Array, str]] = {}
    counts = [m for m in metrics if m.kind in COUNTS]
    if counts:
        cms = _cell_draws(a, b, samples=samples, rng=_rng(seed, "cells"))
        for m in counts:
            delta = from_confusion(cms[1], m, b.task) - from_confusion(cms[0], m, a.task)
            out[m.name] = (delta, CELLS)
    sides = Side(a), Side(b)
    weighted = a.weight is not None or b.weight is not None

    def one(m: Metric) -> tuple[Array, str]:  # on a pool thread: its own passes serial
        (va, ia), (vb, ib) = (_influence(s, m) for s in sides)
        gen = _rng(seed, m.name)
        bins = bin_values(ib - ia, rng=gen, pool=SERIAL)
        if m.kind == "roc_auc_ovr" and not weighted:
            method = AUC
        else:
            method = MEANS if m.kind in MEAN_KINDS and not weighted else LINEAR
        return (vb - va) + resampled_means(bins, samples=samples, rng=gen), method

    others = [m for m in metrics if m.kind not in COUNTS]
    # the costliest first, so that the two threads finish together
    others.sort(key=lambda m: m.kind not in ("roc_auc_ovr", "roc_auc", "pr_auc", "median_ae"))
    with ThreadPoolExecutor(THREADS) as pool:
        for m, result in zip(others, pool.map(one, others), strict=True):
            out[m.name] = result
    return out


def _cell_draws(
    a: Predictions, b: Predictions, *, samples: int, rng: np.random.Generator
) -> tuple[Array, Array]:
    """Resampled weighted confusion matrices of both revisions (samples x k x k each)."""
    k = 2 if a.task == "binary" else len(a.classes)
    cols = [np.asarray(x, dtype=np.int64) for x in (a.y_true, a.y_pred, b.y_true, b.y_pred)]
    key = ((cols[0] * k + cols[1]) * k + cols[2]) * k + cols[3]
    del cols
    weighted = a.weight is not None or b.weight is not None
    if k**4 <= DENSE_CELLS:  # np.unique's cells and counts without its sort
        dense = np.bincount(key, minlength=k**4)
        cells = np.flatnonzero(dense)
        count = dense[cells]
        if weighted:
            slot = np.zeros(k**4, dtype=np.int64)
            slot[cells] = np.arange(len(cells))
            inverse = slot[key]
    else:
        cells, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
    n = len(key)
    draws = rng.multinomial(n, count / n, size=samples).astype(float)
    totals = []
    z = rng.standard_normal((samples, len(cells)))
    for p in (a, b):
        if not weighted:
            totals.append(draws)
            continue
        w = base_weights(p)
        mean = np.bincount(inverse, w, minlength=len(cells)) / count
        var = np.maximum(np.bincount(inverse, w * w, minlength=len(cells)) / count - mean**2, 0)
        # the same normal draw for both sides: exact when both files carry the same weights
        totals.append(draws * mean + np.sqrt(draws * var) * z)
    out = []
    for side, target in enumerate((cells // (k * k), cells % (k * k))):  # (y, p) per side
        onehot = np.zeros((len(cells), k * k))
        onehot[np.arange(len(cells)), target] = 1.0
        out.append((totals[side] @ onehot).reshape(samples, k, k))
    return out[0], out[1]


def _influence(side: Side, m: Metric) -> tuple[float, Array]:
    """The metric on the whole file and each row's influence on it (mean zero)."""
    p, kind = side.p, m.kind
    if kind == "roc_auc_ovr" and p.weight is None:
        return _ovr_histograms(side)
    w = base_weights(p)
    omega = w / w.mean()
    value = float(side.values(m, w[None, :])[0])
    if kind in ("roc_auc", "roc_auc_ovr", "pr_auc"):
        classes = [None] if kind != "roc_auc_ovr" else list(range(len(p.classes)))
        infl = sum(_rank_influence(side, cls, w, kind) for cls in classes)
        return value, np.asarray(infl / len(classes), dtype=float)
    if kind == "median_ae":
        return value, _median_influence(side, w, omega, value)
    t = side.term(m)
    if kind == "rmse":
        mse = value * value
        return value, omega * (t - mse) / (2 * value) if value > 0 else np.zeros(len(t))
    if kind == "r2":
        mse = float(np.average(t, weights=w))
        y = np.asarray(p.y_true, dtype=float)
        dev = (y - np.average(y, weights=w)) ** 2
        var = float(np.average(dev, weights=w))
        if var <= 0:
            return value, np.zeros(len(t))
        return value, omega * (-(t - mse) / var + mse * (dev - var) / var**2)
    return value, omega * (t - value)


def _ovr_histograms(side: Side) -> tuple[float, Array]:
    """roc_auc_ovr (unweighted) and each row's influence on it, from score histograms: the
    classes on their own threads (no sort; see the module's ``histogram auc``)."""
    p = side.p
    y, n, k = np.asarray(p.y_true), len(side.p), len(p.classes)
    with ThreadPoolExecutor(THREADS) as pool:
        aucs = list(pool.map(lambda c: HistogramAuc(y == c, p.scores[:, c], SERIAL), range(k)))
        if any(auc.degenerate for auc in aucs):  # a class without rows (or every row)
            return float("nan"), np.full(n, np.nan)
        infl = np.empty(n)

        def block(lo: int) -> None:
            hi = min(n, lo + BLOCK)
            infl[lo:hi] = sum(auc.influence(lo, hi) for auc in aucs) / k

        list(pool.map(block, range(0, n, BLOCK)))
    return float(np.mean([auc.auc for auc in aucs])), infl


def _rank_influence(side: Side, cls: int | None, w: Array, kind: str) -> Array:
    """``n * w_i * dF/d(its group's count)`` for F = ROC AUC or average precision."""
    y = np.asarray(side.binary_labels(cls)[0] == 1, dtype=float)
    g: Groups = side.groups(cls)
    pos, neg = g.sums((w * y)[None, :])[0], g.sums((w * (1 - y))[None, :])[0]
    big_p, big_q = pos.sum(), neg.sum()
    if big_p <= 0 or big_q <= 0:
        return np.full(len(y), np.nan)
    if kind == "pr_auc":
        tp = np.cumsum(pos[::-1])[::-1]  # ascending groups: positives at or above
        fp = np.cumsum(neg[::-1])[::-1]
        d = tp + fp
        prec = tp / d
        ap = float((pos * prec).sum() / big_p)
        s_pos = np.cumsum(pos * fp / d**2)  # over groups at or below (ascending prefix)
        s_neg = np.cumsum(pos * tp / d**2)
        d_pos = (-ap + prec + s_pos) / big_p
        d_neg = -s_neg / big_p
    else:
        below = np.cumsum(neg) - neg
        above = big_p - np.cumsum(pos)
        auc = float((pos * (below + neg / 2)).sum() / (big_p * big_q))
        d_pos = (below + neg / 2) / (big_p * big_q) - auc / big_p
        d_neg = (above + pos / 2) / (big_p * big_q) - auc / big_q
    group = np.empty(len(y), dtype=np.int64)
    sizes = np.diff(np.append(g.starts, len(y)))
    group[g.order] = np.repeat(np.arange(len(g.starts)), sizes)
    grad = np.where(y == 1, d_pos[group], d_neg[group])
    return np.asarray(len(y) * w * grad, dtype=float)


def _median_influence(side: Side, w: Array, omega: Array, med: float) -> Array:
    p = side.p
    err = np.abs(np.asarray(p.y_pred, dtype=float) - np.asarray(p.y_true, dtype=float))
    n = len(err)
    q1, q3 = np.percentile(err, [25, 75])
    spread = min(float(np.std(err)), float(q3 - q1) / 1.34) or float(np.std(err))
    h = 0.9 * spread * n ** (-0.2)
    if h <= 0:
        return np.zeros(n)
    near = np.abs(err - med) <= h
    density = float(w[near].sum()) / (2 * h * float(w.sum()))
    if density <= 0:
        return np.zeros(n)
    return np.asarray(omega * (0.5 - (err <= med)) / density, dtype=float)
