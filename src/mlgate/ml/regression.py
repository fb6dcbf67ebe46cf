"""What the evaluate stage computes for ``data.task: regression``: metrics in plain numpy
(vectorised over bootstrap resamples, like :mod:`mlgate.ml.scoring` for binary labels),
intervals, slices and ``metrics/predictions.csv`` as ``row_id,y_true,y_pred``.

Tests check every metric against ``sklearn.metrics``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlgate.ml import scoring

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.ml.evaluation import SliceSpec

METRICS = ("rmse", "mae", "r2", "mape", "median_ae")
#: Every metric here is lower-is-better except ``r2``.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "median_ae"})
#: The metrics of each slice in ``metrics/slices.json``.
SLICE_METRICS = ("rmse", "mae")
#: The header of ``metrics/predictions.csv`` for a regression.
COLUMNS = ("row_id", "y_true", "y_pred")

Array = NDArray[np.float64]


def rmse(y: Array, p: Array) -> Array:
    return np.asarray(np.sqrt(((y - p) ** 2).mean(axis=-1)), dtype=float)


def mae(y: Array, p: Array) -> Array:
    return np.asarray(np.abs(y - p).mean(axis=-1), dtype=float)


def r2(y: Array, p: Array) -> Array:
    """1 - residual / total sum of squares; a constant ``y`` gives 1 (exact) or 0, as
    scikit-learn's ``r2_score`` does."""
    ss_res = ((y - p) ** 2).sum(axis=-1)
    ss_tot = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    flat = ss_tot == 0
    ratio = np.divide(ss_res, ss_tot, out=np.zeros_like(ss_res, dtype=float), where=~flat)
    return np.asarray(np.where(flat, np.where(ss_res == 0, 1.0, 0.0), 1 - ratio), dtype=float)


def mape(y: Array, p: Array) -> Array:
    """Mean of ``|y - p| / |y|`` as a fraction (``|y|`` at least machine epsilon)."""
    eps = np.finfo(float).eps
    return np.asarray((np.abs(y - p) / np.maximum(np.abs(y), eps)).mean(axis=-1), dtype=float)


def median_ae(y: Array, p: Array) -> Array:
    return np.asarray(np.median(np.abs(y - p), axis=-1), dtype=float)


FUNCTIONS: dict[str, Callable[[Array, Array], Array]] = {
    "rmse": rmse,
    "mae": mae,
    "r2": r2,
    "mape": mape,
    "median_ae": median_ae,
}


def score(y_true: Any, y_pred: Any) -> dict[str, float]:
    """All :data:`METRICS` on one sample."""
    y, p = (np.asarray(a, dtype=float) for a in (y_true, y_pred))
    return {name: float(FUNCTIONS[name](y, p)) for name in METRICS}


def bootstrap_summary(
    y_true: Any, y_pred: Any, *, samples: int, seed: int, confidence: float
) -> dict[str, dict[str, float]]:
    """``{metric: {low, high, std}}`` over ``samples`` resamples of the rows (the gate's
    unpaired fallback reads ``std``)."""
    y, p = (np.asarray(a, dtype=float) for a in (y_true, y_pred))
    idx = scoring.resample_indices(len(y), samples=samples, seed=seed)
    yb, pb = y[idx], p[idx]
    out = {}
    for name in METRICS:
        values = FUNCTIONS[name](yb, pb)
        lo, hi = scoring.interval(values, confidence)
        out[name] = {"low": lo, "high": hi, "std": float(np.nanstd(values))}
    return out


def slice_scores(
    frame: pd.DataFrame, y_true: Any, y_pred: Any, specs: tuple[SliceSpec, ...]
) -> dict[str, dict[str, float]]:
    """Scores per slice: ``{"bmi=[25,30)": {"n": 48, "rmse": ..., "mae": ...}}``."""
    from mlgate.ml.evaluation import slice_masks

    y, p = (np.asarray(a, dtype=float) for a in (y_true, y_pred))
    out: dict[str, dict[str, float]] = {}
    for label, mask in slice_masks(frame, specs):
        row: dict[str, float] = {"n": int(mask.sum())}
        for name in SLICE_METRICS:
            row[name] = float(FUNCTIONS[name](y[mask], p[mask]))
        out[label] = row
    return out


def predict(estimator: Any, frame: pd.DataFrame, d: Any) -> dict[str, Any]:
    """Per-row ``row_id``, ``y_true``, ``y_pred`` (rounded to 6 decimals as written, so a
    gate resampling ``metrics/predictions.csv`` sees the numbers the metrics came from)."""
    from mlgate.ml.dataset import feature_columns

    features = feature_columns(frame, d)
    return {
        "row_id": frame[d.id_column].to_numpy(),
        "y_true": frame[d.target].to_numpy(dtype=float),
        "y_pred": np.round(np.asarray(estimator.predict(frame[features]), dtype=float), 6),
    }


def write_predictions(preds: dict[str, Any], path: str) -> None:
    """``row_id,y_true,y_pred``, one row per eval example, sorted by ``row_id``; numbers in
    their shortest exact form."""
    from mlgate.fileio import write_text

    order = np.argsort(preds["row_id"], kind="stable")
    lines = [",".join(COLUMNS)]
    for i in order:
        y, p = float(preds["y_true"][i]), float(preds["y_pred"][i])
        lines.append(f"{preds['row_id'][i]},{y!r},{p!r}")
    write_text(path, "\n".join(lines) + "\n")
