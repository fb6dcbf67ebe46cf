"""Is a change noise? A paired bootstrap over predictions, or an unpaired normal test.

Paired: both revisions scored the same eval rows (same ``row_id`` set in
``metrics/predictions.csv``), so resampling rows once and scoring both models on the same
resample removes the between-sample noise. The one-sided p-value is the share of resamples
in which the candidate is not worse (``regression <= 0``), with the usual +1 correction.
With 0/1 labels and predictions (the usual case) the metrics come from per-resample row
counts (:mod:`mlgate.gate.fastboot`: same resamples, no rows x resamples gathers) up to
:data:`EXACT_CELLS` rows x resamples, and beyond from :mod:`mlgate.gate.scaleboot` (joint
confusion cells, binned per-row changes, histogram AUC: cost independent of rows x
resamples; each metric's ``ChangeStats.method`` names its method); labels that are not 0/1
go through :mod:`mlgate.ml.scoring` on materialised resamples.
Unpaired (rows differ, or no predictions): the change over ``sqrt(sd_a**2 + sd_b**2)`` from
``metrics/bootstrap.json`` as a normal z-score. Only numpy and the stdlib: no scipy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlgate.gate.tasks import Metric

COLUMNS = ("row_id", "y_true", "y_pred", "y_score")
#: Bootstrap indices held at once (x 8 bytes, and a few gathered copies of that size).
CHUNK_CELLS = 2_000_000
#: Up to this many rows x resamples the rows themselves are resampled (fastboot, exact and
#: reproducible draw by draw); beyond, :mod:`mlgate.gate.scaleboot`'s per-metric methods.
EXACT_CELLS = 20_000_000
#: The same limit for the metrics of :mod:`mlgate.gate.measures` (every task's table): their
#: direct computation costs more per cell (rank and median metrics sort per resample).
TASK_EXACT_CELLS = 2_000_000


@dataclass(frozen=True, eq=False)
class Predictions:
    """Per-row predictions of one revision, one entry per eval row.

    numpy arrays, except ``row_id`` as :func:`parse_predictions` returns it: a pyarrow
    string column (aligned without numpy string copies); 0/1 labels may be ``int8``.
    """

    row_id: Any
    y_true: Any  # multiclass: class indices into ``classes``
    y_pred: Any
    y_score: Any = None  # binary only
    task: str = "binary"
    classes: tuple[str, ...] = ()  # multiclass: the names of the score_<class> columns
    scores: Any = None  # multiclass: rows x classes
    weight: Any = None  # the optional ``weight`` column
    columns: Mapping[str, Any] = field(default_factory=dict)  # rules' column:<name>

    def __len__(self) -> int:
        return len(self.row_id)

    def take(self, i: Any, row_id: Any) -> Predictions:
        """The rows at positions ``i`` (with ``row_id`` already taken)."""

        def pick(x: Any) -> Any:
            return None if x is None else x[i]

        return replace(
            self,
            row_id=row_id,
            y_true=self.y_true[i],
            y_pred=self.y_pred[i],
            y_score=pick(self.y_score),
            scores=pick(self.scores),
            weight=pick(self.weight),
            columns={k: v[i] for k, v in self.columns.items()},
        )


@dataclass(frozen=True)
class ChangeStats:
    """Uncertainty of ``candidate - baseline``: interval, one-sided p-value of a regression."""

    method: str  # "paired bootstrap[ (cells|bins|histogram auc)]" | "unpaired normal"
    interval: tuple[float, float]
    p_value: float


def parse_predictions(
    data: bytes, source: str, *, task: str | None = None, columns: Sequence[str] = ()
) -> Predictions:
    """A predictions CSV of ``task`` (None: inferred) -> :class:`Predictions`; bad input ->
    DataError naming the file, column and line.

    Streamed through pyarrow's CSV reader (:mod:`mlgate.gate.predictions_csv`): ``row_id``
    is a pyarrow string column, 0/1 labels and predictions ``int8``, the rest ``float64``;
    ``columns`` are the extra numeric columns rules read (``column:<name>``).
    """
    from mlgate.gate.predictions_csv import read_predictions

    return read_predictions(data, source, task=task, columns=columns)


def metric_of(p: Predictions, name: str, *, k: int | None = None) -> Metric | None:
    """The resampling function (table entry) of ``name`` for ``p``'s task, if any."""
    from mlgate.gate.tasks import resolve

    metric = resolve(name, p.task, classes=p.classes, k=k)
    if metric is not None and metric.column is not None and metric.column not in p.columns:
        return None
    return metric


def mismatch(a: Predictions, b: Predictions, source_a: str, source_b: str) -> str:
    """Why two files' rows cannot be paired: the first ``row_id`` one has and the other not."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def ids(p: Predictions) -> Any:
        if isinstance(p.row_id, pa.ChunkedArray):
            return p.row_id
        return pa.chunked_array([pa.array([str(x) for x in p.row_id], type=pa.string())])

    ra, rb = ids(a), ids(b)
    for mine, other, src, other_src in ((rb, ra, source_b, source_a), (ra, rb, source_a, source_b)):
        missing = pc.invert(pc.is_in(mine, value_set=other.combine_chunks()))
        where = pc.index(missing, True).as_py()
        if where >= 0:
            return (
                f"{src}: line {where + 2}: column row_id: {mine[where].as_py()!r} is not in "
                f"{other_src}; both revisions must score the same rows for the paired test "
                "(or give each revision a bootstrap file for the unpaired one)"
            )
    return f"{source_b}: {len(b)} rows, {source_a}: {len(a)}: the rows differ"


def align(
    a: Predictions, b: Predictions, *, sort: bool = True
) -> tuple[Predictions, Predictions] | None:
    """Both in the same row order when they hold exactly the same rows, else None.

    The order is ``row_id``'s (so the resamples do not depend on how a file is sorted);
    with ``sort=False``, rows already in the same order on both sides are kept as they are.
    """
    import numpy as np

    if len(a) != len(b) or len(a) == 0:
        return None
    if isinstance(a.row_id, np.ndarray) and isinstance(b.row_id, np.ndarray):
        ia, ib = np.argsort(a.row_id, kind="stable"), np.argsort(b.row_id, kind="stable")
        if not np.array_equal(a.row_id[ia], b.row_id[ib]):
            return None
        return _take(a, ia), _take(b, ib)
    return _align_arrow(a, b, sort=sort)


def _take(p: Predictions, i: Any) -> Predictions:
    return p.take(i, p.row_id[i])


def _align_arrow(
    a: Predictions, b: Predictions, *, sort: bool
) -> tuple[Predictions, Predictions] | None:
    """:func:`align` for ``row_id`` columns read by pyarrow (no numpy string copies)."""
    import numpy as np
    import pyarrow as pa

    def ids(p: Predictions) -> Any:
        if isinstance(p.row_id, pa.ChunkedArray):
            return p.row_id
        return pa.chunked_array([pa.array(p.row_id, type=pa.string())])

    ra, rb = ids(a), ids(b)
    if not sort and ra.equals(rb):
        return a, b
    import pyarrow.compute as pc  # only to sort (importing it costs about 0.1 s)

    def order(ids: Any) -> Any:
        idx = pc.sort_indices(ids)  # stable, bytewise: numpy's order of the same strings
        return np.frombuffer(idx.buffers()[1], dtype=np.uint64)[: len(idx)].astype(np.int64)

    def arrow(i: Any) -> Any:  # pa.array(ndarray) would import pandas (+0.3 s)
        return pa.Array.from_buffers(pa.int64(), len(i), [None, pa.py_buffer(i)])

    ia, ib = order(ra), order(rb)
    if not ra.take(arrow(ia)).equals(rb.take(arrow(ib))):
        return None

    return a.take(ia, ra.take(arrow(ia))), b.take(ib, rb.take(arrow(ib)))


def paired_bootstrap(
    baseline: Predictions,
    candidate: Predictions,
    metrics: Sequence[str],
    directions: Mapping[str, str],
    *,
    samples: int,
    seed: int,
    confidence: float,
    k: Mapping[str, int] | None = None,
) -> dict[str, ChangeStats]:
    """Paired bootstrap of each metric's change; {} when the rows do not match.

    Metrics without a resampling function for the task (:mod:`mlgate.gate.tasks`) are left
    out; ``k`` gives top_k_accuracy's k per metric name (from the rules).
    """
    import numpy as np

    from mlgate.gate import fastboot, scaleboot
    from mlgate.ml import scoring

    exact = len(baseline) * samples <= EXACT_CELLS
    if baseline.task != candidate.task or baseline.classes != candidate.classes:
        return {}
    pair = align(baseline, candidate, sort=exact)
    if pair is None:
        return {}
    a, b = pair
    # binary files without weights: the six original metrics keep their own paths
    legacy = a.task == "binary" and a.weight is None and b.weight is None
    names = [n for n in metrics if legacy and n in scoring.FUNCTIONS]
    methods = dict.fromkeys(names, "paired bootstrap")
    binary = fastboot.SUPPORTED.issuperset(names) and fastboot.is_binary(
        a.y_true, a.y_pred, b.y_true, b.y_pred
    )
    deltas: dict[str, list[Any]] = {}
    if not names:
        pass
    elif binary and not exact:
        scaled = scaleboot.paired_deltas(
            (a.y_true, a.y_pred, a.y_score),
            (b.y_true, b.y_pred, b.y_score),
            names,
            samples=samples,
            seed=seed,
        )
        deltas = {n: [scaled[n][0]] for n in names}
        methods = {n: scaled[n][1] for n in names}
    elif binary:
        fast = fastboot.paired_deltas(
            (a.y_true, a.y_pred, a.y_score),
            (b.y_true, b.y_pred, b.y_score),
            names,
            samples=samples,
            seed=seed,
            chunk_cells=CHUNK_CELLS,
        )
        deltas = {n: [fast[n]] for n in names}
    else:
        deltas = direct_deltas(a, b, names, samples=samples, seed=seed)
    _task_deltas(
        a,
        b,
        [n for n in metrics if n not in deltas],
        deltas,
        methods,
        k or {},
        samples=samples,
        seed=seed,
        exact=exact,
    )
    out: dict[str, ChangeStats] = {}
    for name in deltas:
        delta = np.atleast_1d(np.concatenate([np.atleast_1d(d) for d in deltas[name]]))
        delta = delta[~np.isnan(delta)]
        if delta.size == 0:
            continue
        regression = delta if directions.get(name) == "lower" else -delta
        p = (int((regression <= 0).sum()) + 1) / (delta.size + 1)
        lo, hi = scoring.interval(delta, confidence)
        out[name] = ChangeStats(methods[name], (lo, hi), p)
    return out


def _task_deltas(
    a: Predictions,
    b: Predictions,
    names: Sequence[str],
    deltas: dict[str, list[Any]],
    methods: dict[str, str],
    k: Mapping[str, int],
    *,
    samples: int,
    seed: int,
    exact: bool,
) -> None:
    """Every task's metrics (:mod:`.measures` directly, :mod:`.fastpaired` at scale)."""
    from mlgate.gate import fastpaired, measures

    wanted = [m for m in (metric_of(a, n, k=k.get(n)) for n in names) if m is not None]
    if not wanted:
        return
    if exact and len(a) * samples <= TASK_EXACT_CELLS:
        direct = measures.direct_deltas(
            a, b, wanted, samples=samples, seed=seed, chunk_cells=CHUNK_CELLS
        )
        for name, delta in direct.items():
            deltas[name], methods[name] = [delta], "paired bootstrap"
        return
    for name, (delta, method) in fastpaired.paired_deltas(
        a, b, wanted, samples=samples, seed=seed
    ).items():
        deltas[name], methods[name] = [delta], method


def direct_deltas(
    a: Predictions, b: Predictions, names: Sequence[str], *, samples: int, seed: int
) -> dict[str, list[Any]]:
    """``b - a`` per metric on materialised resamples (the reference the fast path matches)."""
    import numpy as np

    from mlgate.ml import scoring

    deltas: dict[str, list[Any]] = {n: [] for n in names}
    rng = np.random.default_rng(seed)
    # resamples in chunks of about CHUNK_CELLS indices, so memory stays bounded for big sets
    chunk = max(1, CHUNK_CELLS // len(a))
    for start in range(0, samples, chunk):
        idx = rng.integers(0, len(a), size=(min(chunk, samples - start), len(a)))
        for name in names:
            fn = scoring.FUNCTIONS[name]
            deltas[name].append(
                fn(b.y_true[idx], b.y_pred[idx], b.y_score[idx])
                - fn(a.y_true[idx], a.y_pred[idx], a.y_score[idx])
            )
    return deltas


def unpaired(
    change: float, regression: float, sd_baseline: float, sd_candidate: float, *, confidence: float
) -> ChangeStats:
    """Normal approximation from two bootstrap standard deviations."""
    se = math.hypot(sd_baseline, sd_candidate)
    if se == 0:
        return ChangeStats("unpaired normal", (change, change), 0.0 if regression > 0 else 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = 1 - NormalDist().cdf(regression / se)
    return ChangeStats("unpaired normal", (change - z * se, change + z * se), p)
