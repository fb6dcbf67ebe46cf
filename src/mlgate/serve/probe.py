"""The checks a candidate model must pass before the server loads it.

Every type in the file must be on the allow-list (:func:`mlgate.ml.model.loads`), and trees
are checked structurally once loaded (a tree with out-of-range node indices would make
``predict`` read wild memory). An allowed type may still hide a crash nobody has thought
of, so :func:`probe_file` (verify the sha256, load, ask for a canary prediction) runs in a
worker process of its own (:mod:`mlgate.serve.isolation`); only when it answers "ok" does
the server load the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class Reason(StrEnum):
    """Why a candidate is rejected or the served model is unready (the ``reason`` in
    ``/version``, ``/readyz`` and the ``reason`` label in /metrics)."""

    NO_RELEASE = "no_release"
    BAD_POINTER = "bad_pointer"
    GIT_ERROR = "git_error"
    CACHE_ERROR = "cache_error"
    MISSING_OBJECT = "missing_object"
    HASH_MISMATCH = "hash_mismatch"
    REMOTE_ERROR = "remote_error"
    UNTRUSTED_TYPE = "untrusted_type"
    INVALID_STRUCTURE = "invalid_structure"
    LOAD_ERROR = "load_error"
    CANARY_ERROR = "canary_error"
    SCHEMA_ERROR = "schema_error"
    PROBE_CRASHED = "probe_crashed"
    PROBE_TIMEOUT = "probe_timeout"
    #: the model loaded in the inference workers, then killed them (see ``serve.workers``)
    WORKER_CRASHED = "worker_crashed"


#: Every reason, in order (kept for callers that list them).
REASONS = tuple(Reason)


@dataclass(frozen=True)
class ProbeResult:
    """What the child reported; ``ok`` False comes with a :class:`Reason`."""

    ok: bool
    reason: Reason | None = None
    message: str = ""
    features: tuple[str, ...] = ()
    classes: tuple[Any, ...] = ()


def load_error_reason(exc: Exception) -> Reason:
    """``untrusted_type``, ``invalid_structure`` or ``load_error`` for an error of
    :func:`mlgate.ml.model.loads`."""
    from mlgate.ml.model import InvalidStructure, UntrustedTypes

    if isinstance(exc, UntrustedTypes):
        return Reason.UNTRUSTED_TYPE
    if isinstance(exc, InvalidStructure):
        return Reason.INVALID_STRUCTURE
    return Reason.LOAD_ERROR


def canary_frame(features: list[str], canary: Mapping[str, Any]) -> Any:
    """Two rows: the canary values (0.0 where none is given), and all zeros."""
    import pandas as pd

    first = {f: [canary.get(f, 0.0), 0.0] for f in features}
    return pd.DataFrame(first, columns=features)


def model_outputs(model: Any, frame: Any) -> NDArray[np.float64]:
    """What a served model answers, as a float64 matrix: class probabilities (rows x
    classes) for a classifier (a model with ``predict_proba``), the predicted values
    (rows x 1) for a regressor (``predict`` only)."""
    import numpy as np

    if hasattr(model, "predict_proba"):
        return np.ascontiguousarray(model.predict_proba(frame), dtype=np.float64)
    return np.ascontiguousarray(np.asarray(model.predict(frame), dtype=np.float64).reshape(-1, 1))


def check_model(model: Any, canary: Mapping[str, Any]) -> ProbeResult:
    """Run the canary prediction on a loaded model and check its shape and values."""
    import numpy as np

    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return ProbeResult(
            False, Reason.SCHEMA_ERROR, "model has no feature_names_in_; train it on a DataFrame"
        )
    features = [str(n) for n in names]
    if not hasattr(model, "predict_proba"):
        if hasattr(model, "classes_"):  # a classifier without probabilities (an SVC)
            return ProbeResult(False, Reason.CANARY_ERROR, "model is not a fitted classifier")
        return _check_regressor(model, canary, features)
    if not hasattr(model, "classes_"):
        return ProbeResult(False, Reason.CANARY_ERROR, "model is not a fitted classifier")
    try:
        proba = np.asarray(model.predict_proba(canary_frame(features, canary)), dtype=float)
    except Exception as exc:
        return ProbeResult(
            False, Reason.CANARY_ERROR, f"canary prediction failed ({type(exc).__name__}: {exc})"
        )
    classes = tuple(c.item() if hasattr(c, "item") else c for c in model.classes_)
    if (
        proba.shape != (2, len(classes))
        or not np.isfinite(proba).all()
        or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    ):
        return ProbeResult(
            False,
            Reason.CANARY_ERROR,
            f"canary prediction is not a probability table (shape {proba.shape})",
        )
    return ProbeResult(True, features=tuple(features), classes=classes)


def _check_regressor(model: Any, canary: Mapping[str, Any], features: list[str]) -> ProbeResult:
    """A model without ``predict_proba`` (a regressor): one finite number per canary row."""
    import numpy as np

    if not hasattr(model, "predict"):
        return ProbeResult(
            False, Reason.CANARY_ERROR, "model has neither predict_proba nor predict"
        )
    try:
        values = np.asarray(model.predict(canary_frame(features, canary)), dtype=float)
    except Exception as exc:
        return ProbeResult(
            False, Reason.CANARY_ERROR, f"canary prediction failed ({type(exc).__name__}: {exc})"
        )
    if values.shape != (2,) or not np.isfinite(values).all():
        return ProbeResult(
            False,
            Reason.CANARY_ERROR,
            f"canary prediction is not one finite number per row (shape {values.shape})",
        )
    return ProbeResult(True, features=tuple(features))


def probe_file(
    path: str, sha256: str, canary: Mapping[str, Any], trusted: tuple[str, ...] = ()
) -> ProbeResult:
    """Verify, load and canary-test ``path`` in this process (the child's work); ``trusted``:
    the project's own additions to the allow-list."""
    from mlgate.errors import DataError
    from mlgate.ml.model import loads

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return ProbeResult(False, Reason.MISSING_OBJECT, f"{path}: cannot read ({exc.strerror})")
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        return ProbeResult(
            False, Reason.HASH_MISMATCH, f"{path}: sha256 is {digest}, the pointer says {sha256}"
        )
    try:
        model = loads(data, path, extra_trusted=trusted)
    except DataError as exc:
        return ProbeResult(False, load_error_reason(exc), str(exc))
    return check_model(model, canary)
