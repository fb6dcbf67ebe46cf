"""Score a model on the held-out rows of a batch, as a gate :class:`~mlgate.gate.Snapshot`.

The held-out rows are the batch's eval-split rows (hash of ``row_id``, as the pipeline
splits), so the retrained candidate never trained on them, and production, its predecessor
and the candidate are all scored on exactly the same rows: the gate pairs them row by row.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.gate import Policy, Snapshot
    from mlgate.ml.dataset import DataParams
    from mlgate.ml.evaluation import EvaluateParams

MIN_HELD_OUT = 10


def held_out_rows(frame: pd.DataFrame, data: DataParams, *, source: str) -> pd.DataFrame:
    """The eval-split rows of ``frame``; a DataError when too few or one class only."""
    from mlgate.ml.dataset import eval_mask

    rows = frame[
        eval_mask(frame[data.id_column], fraction=data.eval_fraction, seed=data.split_seed)
    ]
    rows = rows.reset_index(drop=True)
    classes = rows[data.target].nunique() if len(rows) else 0
    if len(rows) < MIN_HELD_OUT or classes < 2:
        raise DataError(
            f"{source}: only {len(rows)} held-out rows ({classes} class(es)); the gate needs at "
            f"least {MIN_HELD_OUT} with both classes: send bigger batches"
        )
    return rows


def snapshot(
    estimator: Any,
    rows: pd.DataFrame,
    *,
    data: DataParams,
    evaluate: EvaluateParams,
    policy: Policy,
    rev: str,
    label: str,
) -> Snapshot:
    """Scores, slices and per-row predictions of ``estimator`` on ``rows``."""
    import numpy as np

    from mlgate.gate import Predictions, Snapshot
    from mlgate.ml import evaluation, scoring

    preds = evaluation.predict(estimator, rows, data, threshold=evaluate.threshold)
    y, p, s = preds["y_true"], preds["y_pred"], preds["y_score"]
    scores = scoring.score(y, p, s)
    slices = evaluation.slice_scores(rows, y, p, s, evaluate.slices)
    flat_slices = {f"{name}.{k}": float(v) for name, row in slices.items() for k, v in row.items()}
    slices_file = next((r.file for r in policy.slices), "metrics/slices.json")
    return Snapshot(
        rev=rev,
        metrics={policy.metrics_file: scores, slices_file: flat_slices},
        predictions=Predictions(
            row_id=np.asarray(preds["row_id"]).astype(str), y_true=y, y_pred=p, y_score=s
        ),
        short=label,
    )


def load_model(path: Path) -> Any:
    from mlgate.ml import model

    return model.load(path)
