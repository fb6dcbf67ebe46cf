"""Let a served model take a plain float array instead of a DataFrame, when that is safe.

With scikit-learn 1.9 and pandas 3, ``predict_proba`` on a one-row DataFrame spends about
nine tenths of its time validating the frame (dtypes, feature names); on a float64 array
in the same column order it computes the same numbers about ten times faster. The server
has already checked every request column against the schema and put them in the model's
order, so the name check is redundant. But a model fitted on a DataFrame warns when given
an array, so the name record is removed from the server's private copy of the model, after
checking that its answers do not change.

Only models whose first step is a plain estimator or transformer qualify (a
``ColumnTransformer`` selects columns by name and keeps the DataFrame path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _first_step(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    if steps:
        return _first_step(steps[0][1])
    return model


def array_ready(model: Any, features: Sequence[str]) -> bool:
    """Make ``model`` (mutated in place) take arrays in ``features`` order; False when unsafe.

    True only when predictions on an array equal those on the DataFrame for probe rows.
    """
    import numpy as np
    import pandas as pd

    from mlgate.serve.probe import model_outputs

    first = _first_step(model)
    names = getattr(first, "feature_names_in_", None)
    if names is None or type(first).__name__ == "ColumnTransformer":
        return False
    if [str(n) for n in names] != list(features):
        return False
    rng = np.random.default_rng(0)
    probe = rng.normal(size=(4, len(features)))
    try:
        expected = model_outputs(model, pd.DataFrame(probe, columns=list(features)))
    except Exception:
        return False
    del first.feature_names_in_
    try:
        got = model_outputs(model, probe)
    except Exception:
        got = None
    if got is None or not np.array_equal(np.asarray(got), np.asarray(expected)):
        first.feature_names_in_ = names  # keep the DataFrame path, model as it was
        return False
    return True
