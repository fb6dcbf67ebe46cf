"""What the evaluate stage computes: scores, bootstrap intervals, slices, curves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlgate.ml import scoring

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import Section


@dataclass(frozen=True)
class SliceSpec:
    """Bins of one column; each bin is a slice named ``column=[lo,hi)``."""

    column: str
    bins: tuple[float, ...]


@dataclass(frozen=True)
class EvaluateParams:
    """The ``evaluate:`` section of params.yaml."""

    threshold: float
    bootstrap_samples: int
    confidence: float
    seed: int
    slices: tuple[SliceSpec, ...]

    @classmethod
    def from_section(cls, s: Section) -> EvaluateParams:
        s.check_keys(["threshold", "bootstrap_samples", "confidence", "seed", "slices"])
        slices = []
        for item in s.sections("slices", []):
            item.check_keys(["column", "bins"])
            bins = item.numbers("bins")
            if len(bins) < 2 or sorted(bins) != bins:
                item.fail("bins", "expected at least two increasing numbers")
            slices.append(SliceSpec(item.string("column"), tuple(bins)))
        return cls(
            threshold=s.number("threshold", 0.5, min=0, max=1),
            bootstrap_samples=s.integer("bootstrap_samples", 1000, min=10),
            confidence=s.number("confidence", 0.95, min=0.5, max=0.999),
            seed=s.integer("seed", 0),
            slices=tuple(slices),
        )


def bootstrap_summary(
    y: Any, p: Any, s: Any, *, samples: int, seed: int, confidence: float
) -> dict[str, dict[str, float]]:
    dist = scoring.bootstrap_distribution(y, p, s, samples=samples, seed=seed)
    out = {}
    for name, values in dist.items():
        lo, hi = scoring.interval(values, confidence)
        out[name] = {"low": lo, "high": hi, "std": float(np.nanstd(values))}
    return out


def _bin_label(lo: float, hi: float) -> str:
    return f"[{lo:g},{hi:g})"


def slice_scores(
    frame: pd.DataFrame, y: Any, p: Any, s: Any, specs: tuple[SliceSpec, ...]
) -> dict[str, dict[str, float]]:
    """Scores per slice: ``{"mean_radius=[12,15)": {"n": 61, "accuracy": ...}}``."""
    out: dict[str, dict[str, float]] = {}
    y, p, s = (np.asarray(a, dtype=float) for a in (y, p, s))
    for label, mask in slice_masks(frame, specs):
        row: dict[str, float] = {"n": int(mask.sum())}
        for name in ("accuracy", "precision", "recall", "f1"):
            row[name] = float(scoring.FUNCTIONS[name](y[mask], p[mask], s[mask]))
        out[label] = row
    return out


def slice_masks(
    frame: pd.DataFrame, specs: tuple[SliceSpec, ...]
) -> list[tuple[str, np.ndarray[Any, np.dtype[np.bool_]]]]:
    """``(column=[lo,hi), rows in it)`` for every bin of every spec that has rows."""
    out = []
    for spec in specs:
        values = frame[spec.column].to_numpy(dtype=float)
        for lo, hi in zip(spec.bins[:-1], spec.bins[1:], strict=True):
            mask = (values >= lo) & (values < hi)
            if mask.any():
                out.append((f"{spec.column}={_bin_label(lo, hi)}", mask))
    return out


def curves(y: Any, s: Any) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """ROC points and precision-recall points, in DVC's plot-data shape (list of dicts).

    The points ``sklearn.metrics.roc_curve`` (collinear points dropped) and
    ``precision_recall_curve`` return, from :func:`mlgate.ml.scoring.threshold_counts`.
    """
    tps, fps = scoring.threshold_counts(y, s)
    # roc_curve's drop_intermediate: keep the ends and every point where the slope changes
    keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
    if len(fps) > 2:
        tps_roc, fps_roc = tps[keep], fps[keep]
    else:
        tps_roc, fps_roc = tps, fps
    fpr = np.r_[0.0, fps_roc] / fps[-1]
    tpr = np.r_[0.0, tps_roc] / tps[-1]
    ps = tps + fps
    precision = np.divide(tps, ps, out=np.zeros_like(tps), where=ps != 0)
    prec = np.r_[precision[::-1], 1.0]
    rec = np.r_[(tps / tps[-1])[::-1], 0.0]
    roc = [
        {"fpr": round(float(a), 6), "tpr": round(float(b), 6)}
        for a, b in zip(fpr, tpr, strict=True)
    ]
    prc = [
        {"recall": round(float(a), 6), "precision": round(float(b), 6)}
        for a, b in zip(rec, prec, strict=True)
    ]
    return roc, prc


def predict(estimator: Any, frame: pd.DataFrame, d: Any, *, threshold: float) -> dict[str, Any]:
    """Per-row ``row_id``, ``y_true``, ``y_pred``, ``y_score`` (probability of class 1)."""
    from mlgate.ml.dataset import feature_columns

    features = feature_columns(frame, d)
    # rounded as written to predictions.csv, so a gate resampling that file sees the same numbers
    score = np.round(estimator.predict_proba(frame[features])[:, 1], 6)
    return {
        "row_id": frame[d.id_column].to_numpy(),
        "y_true": frame[d.target].to_numpy(dtype=float),
        "y_pred": (score >= threshold).astype(float),
        "y_score": score,
    }


def write_predictions(preds: dict[str, Any], path: str) -> None:
    """``metrics/predictions.csv``: one row per eval example, sorted by ``row_id``."""
    from mlgate.fileio import write_text

    order = np.argsort(preds["row_id"], kind="stable")
    lines = ["row_id,y_true,y_pred,y_score"]
    for i in order:
        lines.append(
            f"{preds['row_id'][i]},{int(preds['y_true'][i])},{int(preds['y_pred'][i])},"
            f"{float(preds['y_score'][i]):.6f}"
        )
    write_text(path, "\n".join(lines) + "\n")
