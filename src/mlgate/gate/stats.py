"""Is a change noise? A paired bootstrap over predictions, or an unpaired normal test.

Paired: both revisions scored the same eval rows (same ``row_id`` set in
``metrics/predictions.csv``), so resampling rows once and scoring both models on the same
resample removes the between-sample noise. The one-sided p-value is the share of resamples
in which the candidate is not worse (``regression <= 0``), with the usual +1 correction.
With 0/1 labels and predictions (the usual case) the metrics come from per-resample row
counts (:mod:`mlgate.gate.fastboot`: same resamples, no rows x resamples gathers, about 20x
faster at 100k rows); otherwise from :mod:`mlgate.ml.scoring` on materialised resamples.
Unpaired (rows differ, or no predictions): the change over ``sqrt(sd_a**2 + sd_b**2)`` from
``metrics/bootstrap.json`` as a normal z-score. Only numpy and the stdlib: no scipy.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from mlgate.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Sequence

COLUMNS = ("row_id", "y_true", "y_pred", "y_score")
#: Bootstrap indices held at once (x 8 bytes, and a few gathered copies of that size).
CHUNK_CELLS = 2_000_000


@dataclass(frozen=True, eq=False)
class Predictions:
    """Per-row predictions of one revision (numpy arrays, one entry per eval row)."""

    row_id: Any
    y_true: Any
    y_pred: Any
    y_score: Any

    def __len__(self) -> int:
        return len(self.row_id)


@dataclass(frozen=True)
class ChangeStats:
    """Uncertainty of ``candidate - baseline``: interval, one-sided p-value of a regression."""

    method: str  # "paired bootstrap" | "unpaired normal"
    interval: tuple[float, float]
    p_value: float


def parse_predictions(data: bytes, source: str) -> Predictions:
    """``row_id,y_true,y_pred,y_score`` CSV -> :class:`Predictions`; non-finite -> DataError."""
    import numpy as np

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or any(c not in header for c in COLUMNS):
        raise DataError(f"{source}: expected the columns {', '.join(COLUMNS)}")
    pos = [header.index(c) for c in COLUMNS]
    ids: list[str] = []
    values: list[list[float]] = [[], [], []]
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            ids.append(row[pos[0]])
            for k in range(3):
                v = float(row[pos[k + 1]])
                if not math.isfinite(v):
                    raise ValueError(row[pos[k + 1]])
                values[k].append(v)
        except (ValueError, IndexError) as exc:
            raise DataError(f"{source}: line {line}: expected finite numbers ({exc})") from exc
    if len(set(ids)) != len(ids):
        raise DataError(f"{source}: row_id has duplicates; each row needs a unique id")
    return Predictions(
        row_id=np.array(ids, dtype=str),
        y_true=np.array(values[0], dtype=float),
        y_pred=np.array(values[1], dtype=float),
        y_score=np.array(values[2], dtype=float),
    )


def align(a: Predictions, b: Predictions) -> tuple[Predictions, Predictions] | None:
    """Both sorted by ``row_id`` when they hold exactly the same rows, else None."""
    import numpy as np

    if len(a) != len(b) or len(a) == 0:
        return None
    ia, ib = np.argsort(a.row_id, kind="stable"), np.argsort(b.row_id, kind="stable")
    if not np.array_equal(a.row_id[ia], b.row_id[ib]):
        return None

    def take(p: Predictions, i: Any) -> Predictions:
        return Predictions(p.row_id[i], p.y_true[i], p.y_pred[i], p.y_score[i])

    return take(a, ia), take(b, ib)


def paired_bootstrap(
    baseline: Predictions,
    candidate: Predictions,
    metrics: Sequence[str],
    directions: dict[str, str],
    *,
    samples: int,
    seed: int,
    confidence: float,
) -> dict[str, ChangeStats]:
    """Paired bootstrap of each metric's change; {} when the rows do not match."""
    import numpy as np

    from mlgate.gate import fastboot
    from mlgate.ml import scoring

    pair = align(baseline, candidate)
    if pair is None:
        return {}
    a, b = pair
    names = [n for n in metrics if n in scoring.FUNCTIONS]
    if fastboot.SUPPORTED.issuperset(names) and fastboot.is_binary(
        a.y_true, a.y_pred, b.y_true, b.y_pred
    ):
        fast = fastboot.paired_deltas(
            (a.y_true, a.y_pred, a.y_score),
            (b.y_true, b.y_pred, b.y_score),
            names,
            samples=samples,
            seed=seed,
            chunk_cells=CHUNK_CELLS,
        )
        deltas: dict[str, list[Any]] = {n: [fast[n]] for n in names}
    else:
        deltas = direct_deltas(a, b, names, samples=samples, seed=seed)
    out: dict[str, ChangeStats] = {}
    for name in names:
        delta = np.atleast_1d(np.concatenate([np.atleast_1d(d) for d in deltas[name]]))
        delta = delta[~np.isnan(delta)]
        if delta.size == 0:
            continue
        regression = delta if directions.get(name) == "lower" else -delta
        p = (int((regression <= 0).sum()) + 1) / (delta.size + 1)
        lo, hi = scoring.interval(delta, confidence)
        out[name] = ChangeStats("paired bootstrap", (lo, hi), p)
    return out


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
