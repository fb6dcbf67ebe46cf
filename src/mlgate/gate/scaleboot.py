"""The paired bootstrap on millions of rows: one pass over the rows, then work per resample
that does not grow with them.

A bootstrap resample of ``n`` rows is a multinomial count vector over the rows. Where a
metric depends on the rows only through which of a few categories they fall in, the
resample is a multinomial over the categories, drawn directly (no row is visited per
resample). The methods, named in the verdict's ``method``:

- ``paired bootstrap (cells)``: accuracy, precision, recall and f1 are functions of the
  joint confusion cells of the two revisions ((y_true, y_pred) of each: at most 16 cells).
  Multinomial counts over those cells have exactly the distribution of the row bootstrap's
  cells: no approximation, only other random draws.
- ``paired bootstrap (bins)``: log_loss's change is the mean of a per-row value
  ``d = loss_candidate - loss_baseline``. The rows are grouped into :data:`BINS` quantile
  bins of ``d``; a resample draws multinomial counts ``c`` over the bins and its sum is
  ``sum(c * bin mean)`` plus a normal term of variance ``sum(c * bin variance)`` for the
  spread inside the bins (given ``c``, the exact sum's mean and variance; about ``n / BINS``
  draws per bin, so the normal shape is accurate). Up to :data:`BINS` rows, every row is
  its own bin: the row bootstrap itself.
- ``paired bootstrap (histogram auc)``: each revision's ROC AUC from the positives and
  negatives per score bin (``2**16`` equal-width bins, then ``2**20``, then one bin per
  distinct score, until the binning error bound ``0.5 * sum(pos_b * neg_b) / (P * N)`` is
  at most :data:`AUC_TOLERANCE`; equal scores are ties as in :mod:`mlgate.ml.scoring`). The
  resampled change is the full-sample change plus the resampled mean of the per-row
  influence values (DeLong's placement values: ``(V10 - auc) / share of positives`` for a
  positive, ``(V01 - auc) / share of negatives`` for a negative), drawn as for log_loss:
  a first-order (linearised) bootstrap, whose neglected terms shrink as ``1 / n``.

Cost: a few passes over the rows (in blocks, on two threads: numpy releases the GIL), then
``resamples x (16 + BINS)`` draws. Only numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
T = TypeVar("T")

CELLS = "paired bootstrap (cells)"
MEANS = "paired bootstrap (bins)"
AUC = "paired bootstrap (histogram auc)"
#: Which method each metric gets on large sets.
METHODS = {
    "accuracy": CELLS,
    "precision": CELLS,
    "recall": CELLS,
    "f1": CELLS,
    "log_loss": MEANS,
    "roc_auc": AUC,
}
#: Quantile bins of a per-row value (rows beyond this many share bins).
BINS = 1024
#: Cells of :class:`_BinFinder`'s lookup table.
GRID = 1 << 16
#: Largest error of a binned AUC: far below the 4 significant digits the gate prints.
AUC_TOLERANCE = 1e-6
#: Rows per block of the passes over the rows.
BLOCK = 1 << 20
#: Worker threads of those passes (the machines CI gives are often 2 cores).
THREADS = 2
_STREAMS = {"cells": 1, "log_loss": 2, "roc_auc": 3}


class Serial:
    """A stand-in for a thread pool that runs the work in the calling thread: for passes
    made by work that already runs on a pool thread (a nested wait on the same pool could
    deadlock)."""

    @staticmethod
    def map(fn: Callable[[Any], T], items: Iterable[Any]) -> Iterator[T]:
        return map(fn, items)


SERIAL = Serial()


def _blocks(n: int, fn: Callable[[int, int], T], pool: Any) -> list[T]:
    """``fn(start, stop)`` over blocks of rows, in parallel, results in block order."""
    return list(pool.map(lambda s: fn(s, min(n, s + BLOCK)), range(0, n, BLOCK)))


def _fold(
    n: int, fn: Callable[[int, int], Any], combine: Callable[[Any, Any], Any], pool: Any
) -> Any:
    """Like :func:`_blocks`, combining the results in block order as they come."""
    total = None
    for part in pool.map(lambda s: fn(s, min(n, s + BLOCK)), range(0, n, BLOCK)):
        total = part if total is None else combine(total, part)
    return total


def _metrics_from_sums(sums: NDArray[np.int64], n: int, names: set[str]) -> dict[str, Array]:
    """accuracy/precision/recall/f1 from columns (agree, tp, fp, fn), as in fastboot."""
    eq, tp, fp, fn = (sums[:, k].astype(float) for k in range(4))

    def div(a: Array, b: Array) -> Array:
        return np.asarray(np.divide(a, b, out=np.zeros_like(a), where=b > 0))

    out = {
        "accuracy": eq / n,
        "precision": div(tp, tp + fp),
        "recall": div(tp, tp + fn),
        "f1": div(2 * tp, 2 * tp + fp + fn),
    }
    return {k: v for k, v in out.items() if k in names}


def cell_deltas(
    counts: NDArray[np.int64], names: set[str], *, samples: int, rng: np.random.Generator
) -> dict[str, Array]:
    """Resampled ``candidate - baseline`` from the 16 joint cell counts.

    Cell ``k`` holds the rows with ``y_a = k & 1``, ``p_a = k >> 1 & 1``, ``y_b = k >> 2 & 1``
    and ``p_b = k >> 3 & 1``.
    """
    n = int(counts.sum())
    draws = rng.multinomial(n, counts / n, size=samples)
    k = np.arange(16)
    out: list[dict[str, Array]] = []
    for shift in (0, 2):
        y, p = (k >> shift) & 1, (k >> (shift + 1)) & 1
        masks = np.stack([y == p, y * p == 1, (1 - y) * p == 1, y * (1 - p) == 1], axis=1)
        out.append(_metrics_from_sums(draws @ masks.astype(np.int64), n, names))
    return {name: out[1][name] - out[0][name] for name in out[0]}


@dataclass(frozen=True)
class Bins:
    """Rows grouped by a per-row value: counts, means and variances per bin."""

    count: NDArray[np.int64]
    mean: Array
    var: Array
    values: Array | None = None  # the values themselves when every row is its own bin


def bin_values(values: Array, *, rng: np.random.Generator, pool: Any) -> Bins:
    """Quantile bins of ``values`` (every row its own bin up to :data:`BINS` rows)."""
    n = len(values)
    if n <= BINS:
        return Bins(np.ones(n, dtype=np.int64), values, np.zeros(n), values=values)
    probe = values[rng.integers(0, n, size=min(n, 64 * BINS))]
    edges = np.unique(np.quantile(probe, np.linspace(0, 1, BINS + 1)[1:-1]))
    m = len(edges) + 1
    shift = np.concatenate((edges[:1], edges))  # a value near each bin, against cancellation

    find = _BinFinder(edges)

    def sums(lo: int, hi: int) -> Any:
        idx = find(values[lo:hi])
        dev = values[lo:hi] - shift[idx]
        return np.stack(
            [
                np.bincount(idx, minlength=m),
                np.bincount(idx, dev, minlength=m),
                np.bincount(idx, dev * dev, minlength=m),
            ]
        )

    count, s1, s2 = _fold(n, sums, np.add, pool)
    c = np.maximum(count, 1)
    keep = count > 0
    var = np.maximum(s2 / c - (s1 / c) ** 2, 0.0)
    return Bins(count[keep].astype(np.int64), (shift + s1 / c)[keep], var[keep])


class _BinFinder:
    """``np.searchsorted(edges, x, side="right")``, the same answer about 6x faster: a
    lookup table over :data:`GRID` equal cells between the first and the last edge gives
    the bin of every cell that no edge crosses; only values in the cells an edge crosses
    (or outside the edges, or not finite) are searched."""

    def __init__(self, edges: Array) -> None:
        self.edges = edges
        self.table: NDArray[np.intp] | None = None
        lo, hi = (float(edges[0]), float(edges[-1])) if len(edges) else (0.0, 0.0)
        if len(edges) < 2 or not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            return
        self.lo, self.scale = lo, GRID / (hi - lo)
        # each cell widened by a thousandth of a cell: the rounding of (x - lo) * scale
        # cannot put a value in a cell whose widened range does not hold it
        cell = np.arange(GRID, dtype=float)
        first = np.searchsorted(edges, lo + (cell - 1e-3) / self.scale, side="right")
        last = np.searchsorted(edges, lo + (cell + 1 + 1e-3) / self.scale, side="right")
        self.table = first
        self.crossed = first != last
        self.crossed[[0, -1]] = True  # where values outside the edges are clipped to

    def __call__(self, x: Array) -> NDArray[np.intp]:
        if self.table is None:
            return np.asarray(np.searchsorted(self.edges, x, side="right"))
        with np.errstate(over="ignore", invalid="ignore"):
            cell = (x - self.lo) * self.scale
        np.fmax(cell, 0, out=cell)  # NaN and -inf to cell 0, inf to the last: both searched
        np.fmin(cell, GRID - 1, out=cell)
        where = cell.astype(np.intp)
        idx = self.table[where]
        check = np.flatnonzero(self.crossed[where])
        idx[check] = np.searchsorted(self.edges, x[check], side="right")
        return np.asarray(idx)


def resampled_means(bins: Bins, *, samples: int, rng: np.random.Generator) -> Array:
    """Bootstrap means of the binned values: multinomial bin counts plus a normal term for
    the spread inside the bins (exact when every row is its own bin)."""
    n = int(bins.count.sum())
    draws = rng.multinomial(n, bins.count / n, size=samples).astype(float)
    total = draws @ bins.mean
    if bins.values is None:
        total += np.sqrt(draws @ bins.var) * rng.standard_normal(samples)
    return np.asarray(total / n, dtype=float)


class _Auc:
    """One revision's binned ROC AUC and the per-bin placement values of its rows.

    ``y`` is 1 (or True) for the positives; ``pool`` runs the passes over the rows (a
    thread pool, or :data:`SERIAL`).
    """

    def __init__(self, y: Array, s: Array, pool: Any) -> None:
        self.y, self.s, self.n = y, s, len(y)
        self.positives = float(np.count_nonzero(y == 1))
        self.negatives = self.n - self.positives
        self.degenerate = self.positives == 0 or self.negatives == 0
        self.lo, self.scale = float(s.min()), 0.0
        self.edges: Array | None = None
        for bins in (1 << 16, 1 << 20, 0):
            self._histogram(bins, pool)
            if self.error <= AUC_TOLERANCE or self.degenerate:
                break

    def bins_of(self, lo: int, hi: int) -> NDArray[np.int64]:
        s = self.s[lo:hi]
        if self.edges is not None:  # one bin per distinct score
            return np.searchsorted(self.edges, s).astype(np.int64)
        return np.minimum((s - self.lo) * self.scale, self.bins - 1).astype(np.int64)

    def _histogram(self, bins: int, pool: Any) -> None:
        span = float(self.s.max()) - self.lo
        if bins == 0:
            self.edges = np.unique(self.s)
            bins = len(self.edges)
        self.bins = bins
        self.scale = bins / span if span > 0 else 0.0

        exact = self.edges is not None

        def count(lo: int, hi: int) -> Any:
            b, s = self.bins_of(lo, hi), self.s[lo:hi]
            pos = np.bincount(b, self.y[lo:hi] == 1, minlength=bins)
            low, high = np.full(bins, np.inf), np.full(bins, -np.inf)
            if not exact:
                np.minimum.at(low, b, s)
                np.maximum.at(high, b, s)
            return np.stack([pos, np.bincount(b, minlength=bins) - pos, -low, high])

        def combine(x: Any, y: Any) -> Any:
            return np.concatenate([x[:2] + y[:2], np.maximum(x[2:], y[2:])])

        pos, neg, low, high = _fold(self.n, count, combine, pool)
        # bins holding more than one distinct score: their pairs are counted as ties
        mixed = -low < high
        if self.degenerate:
            self.auc, self.error = float("nan"), 0.0
            return
        p, q = self.positives, self.negatives
        # placement values per bin: a positive's share of negatives below it (ties half),
        # a negative's share of positives above it
        self.v10 = (np.cumsum(neg) - neg / 2) / q
        self.v01 = (p - np.cumsum(pos) + pos / 2) / p
        self.auc = float((pos * self.v10).sum() / p)
        self.error = float(0.5 * (pos * neg)[mixed].sum() / (p * q))

    def influence(self, lo: int, hi: int) -> Array:
        """Per-row influence on the AUC (mean zero over all rows)."""
        b = self.bins_of(lo, hi)
        pos = self.y[lo:hi] == 1
        share_pos, share_neg = self.positives / self.n, self.negatives / self.n
        return np.asarray(
            np.where(
                pos, (self.v10[b] - self.auc) / share_pos, (self.v01[b] - self.auc) / share_neg
            ),
            dtype=float,
        )


#: The public name of the binned AUC (also :mod:`mlgate.gate.fastpaired`'s roc_auc_ovr).
HistogramAuc = _Auc


def _log_loss(y: Array, s: Array) -> Array:
    eps = np.finfo(float).eps
    q = np.clip(s, eps, 1 - eps)
    return np.asarray(-np.log(np.where(y == 1, q, 1 - q)))


def paired_deltas(
    baseline: tuple[Array, Array, Array],
    candidate: tuple[Array, Array, Array],
    names: Sequence[str],
    *,
    samples: int,
    seed: int,
) -> dict[str, tuple[Array, str]]:
    """``candidate - baseline`` per metric over ``samples`` resamples, with the method used.

    ``baseline``/``candidate`` are ``(y_true, y_pred, y_score)`` of the same rows in the same
    order, labels and predictions 0/1. Each metric draws from its own stream of ``seed``, so
    its result does not depend on which other metrics are asked for.
    """
    (ya, pa, sa), (yb, pb, sb) = baseline, candidate
    n, wanted = len(ya), set(names)
    out: dict[str, tuple[Array, str]] = {}

    def rng(stream: str) -> np.random.Generator:
        return np.random.default_rng([seed, _STREAMS[stream]])

    with ThreadPoolExecutor(THREADS) as pool:
        cell_names = wanted & {m for m, how in METHODS.items() if how == CELLS}
        if cell_names:

            def cells(lo: int, hi: int) -> NDArray[np.int64]:
                key = ya[lo:hi] + 2 * pa[lo:hi] + 4 * yb[lo:hi] + 8 * pb[lo:hi]
                return np.bincount(np.asarray(key, dtype=np.int64), minlength=16)

            counts = _fold(n, cells, np.add, pool)
            deltas = cell_deltas(counts, cell_names, samples=samples, rng=rng("cells"))
            out.update({name: (delta, CELLS) for name, delta in deltas.items()})
        # per-row passes first (both threads on the rows), then the two metrics' draws
        # side by side (each generator releases the GIL while it draws)
        draws: dict[str, tuple[float, Bins, np.random.Generator]] = {}
        if "log_loss" in wanted:
            draws["log_loss"] = (0.0, *_loss_bins(ya, sa, yb, sb, rng("log_loss"), pool))
        if "roc_auc" in wanted:
            a, b = _Auc(ya, sa, pool), _Auc(yb, sb, pool)
            if a.degenerate or b.degenerate:
                out["roc_auc"] = (np.full(samples, np.nan), AUC)
            else:
                gen = rng("roc_auc")  # one stream: the bins' probe, then the draws
                draws["roc_auc"] = (b.auc - a.auc, _influence_bins(a, b, gen, pool), gen)
        futures = {
            name: pool.submit(resampled_means, bins, samples=samples, rng=gen)
            for name, (_, bins, gen) in draws.items()
        }
        for name, future in futures.items():
            out[name] = (draws[name][0] + future.result(), METHODS[name])
    return out


def _loss_bins(
    ya: Array, sa: Array, yb: Array, sb: Array, rng: np.random.Generator, pool: Any
) -> tuple[Bins, np.random.Generator]:
    d = np.empty(len(ya))

    def loss(lo: int, hi: int) -> None:
        d[lo:hi] = _log_loss(yb[lo:hi], sb[lo:hi]) - _log_loss(ya[lo:hi], sa[lo:hi])

    _blocks(len(ya), loss, pool)
    return bin_values(d, rng=rng, pool=pool), rng


def _influence_bins(a: _Auc, b: _Auc, rng: np.random.Generator, pool: Any) -> Bins:
    psi = np.empty(a.n)

    def influence(lo: int, hi: int) -> None:
        psi[lo:hi] = b.influence(lo, hi) - a.influence(lo, hi)

    _blocks(a.n, influence, pool)
    return bin_values(psi, rng=rng, pool=pool)
