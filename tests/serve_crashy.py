"""A classifier that kills the process predicting with it when a value passes ``limit``.

It stands for a model that passes every check (allowed by a project's reviewed
``mlgate-trusted-types.txt``, a sound structure, a canary prediction on plausible values)
and still crashes ``predict`` on some inputs: what the inference workers must survive.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np


class CrashOnLargeValues:
    """``predict_proba`` reads address 0 (a segmentation fault) on a value above ``limit``."""

    def __init__(self, features: list[str], limit: float = 1e6) -> None:
        self.limit = limit
        self.feature_names_in_ = np.array(features, dtype=object)
        self.n_features_in_ = len(features)
        self.classes_ = np.array([0, 1])

    def predict_proba(self, X: Any) -> Any:
        values = np.asarray(X, dtype=float)
        if (values > self.limit).any():
            ctypes.string_at(0)  # segfault, as a model reading wild memory would
        return np.full((len(values), 2), 0.5)


TYPE = f"{__name__}.CrashOnLargeValues"


def crashy_bytes(features: list[str]) -> bytes:
    import skops.io as sio

    return bytes(sio.dumps(CrashOnLargeValues(list(features))))
