"""Tasks, their predictions files and the metrics the gate can resample for each.

A rule names a metric of the metrics file; the gate matches it to a resampling function by
name (the table below, documented in the README). A name outside the table has no
resampling: its change counts as it is, and the verdict says so.

=============  ==========================================  ===============================
task           predictions file (``row_id`` first)          metrics resampled
=============  ==========================================  ===============================
binary         ``y_true,y_pred,y_score`` (0/1, 0/1, score)  accuracy precision recall f1
                                                            roc_auc log_loss pr_auc brier
multiclass     ``y_true,y_pred,score_<class>...``           accuracy macro_f1 weighted_f1
                                                            micro_f1 precision.<class>
                                                            recall.<class> log_loss
                                                            roc_auc_ovr top_k_accuracy
regression     ``y_true,y_pred``                            rmse mae r2 mape median_ae
=============  ==========================================  ===============================

Every task: an optional ``weight`` column (per-row sample weights, >= 0) and
``column:<name>``, the (weighted) mean of any extra numeric column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mlgate.constants import Direction

TASKS = ("binary", "multiclass", "regression")

#: Metric names per task whose direction is fixed (lower is better unless listed higher).
_HIGHER = frozenset(
    {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "macro_f1",
        "weighted_f1",
        "micro_f1",
        "roc_auc_ovr",
        "top_k_accuracy",
        "r2",
    }
)
_LOWER = frozenset({"log_loss", "brier", "rmse", "mae", "mape", "median_ae"})

METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "pr_auc", "brier"),
    "multiclass": (
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "micro_f1",
        "precision.<class>",
        "recall.<class>",
        "log_loss",
        "roc_auc_ovr",
        "top_k_accuracy",
    ),
    "regression": ("rmse", "mae", "r2", "mape", "median_ae"),
}
#: Metrics that are functions of confusion counts (cells method on large sets).
COUNTS = frozenset({"accuracy", "precision", "recall", "f1", "macro_f1", "weighted_f1", "micro_f1"})
#: Metrics that are (weighted) means of a per-row value: exact through bins, unweighted.
MEANS = frozenset({"log_loss", "brier", "mae", "mape", "top_k_accuracy", "column"})

_TOP_K = re.compile(r"top_(\d+)_accuracy")


@dataclass(frozen=True)
class Metric:
    """A resolvable metric: ``kind`` is the table entry, with its class, k or column."""

    name: str
    kind: str
    cls: int | None = None  # index into the task's classes (precision.<class>)
    k: int = 2
    column: str | None = None


def direction(name: str) -> Direction | None:
    """The direction of a metric of the table (or a ``column:``), None when unknown."""
    base = name.split(".", 1)[0] if name.startswith(("precision.", "recall.")) else name
    if _TOP_K.fullmatch(base):
        return "higher"
    if base in _HIGHER:
        return "higher"
    if base in _LOWER:
        return "lower"
    return None


def resolve(
    name: str, task: str, *, classes: Sequence[str] = (), k: int | None = None
) -> Metric | None:
    """The table entry ``name`` means for ``task``; None when the gate cannot resample it.

    >>> resolve("recall.cat", "multiclass", classes=("cat", "dog"))
    Metric(name='recall.cat', kind='recall', cls=0, k=2, column=None)
    >>> resolve("top_3_accuracy", "multiclass").k
    3
    """
    if name.startswith("column:"):
        return Metric(name, "column", column=name[len("column:") :])
    if task == "binary":
        return Metric(name, name) if name in METRICS["binary"] else None
    if task == "regression":
        return Metric(name, name) if name in METRICS["regression"] else None
    head, _, cls = name.partition(".")
    if cls and head in ("precision", "recall"):
        return Metric(name, head, cls=list(classes).index(cls)) if cls in classes else None
    top = _TOP_K.fullmatch(name)
    if top:
        return Metric(name, "top_k_accuracy", k=int(top.group(1)))
    if name == "top_k_accuracy":
        return Metric(name, name, k=k if k is not None else 2)
    if name in METRICS["multiclass"]:
        return Metric(name, name)
    return None


def infer_task(header: Sequence[str]) -> str:
    """The task a predictions header implies: score_<class> columns, y_score, else regression."""
    if any(c.startswith("score_") for c in header):
        return "multiclass"
    return "binary" if "y_score" in header else "regression"
