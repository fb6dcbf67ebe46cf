"""Metrics and params of a DVC project at git revisions, and their diff.

Reading goes through :mod:`mlgate.metrics.read` (git objects, strict parsing); diffing is
pure (:mod:`mlgate.metrics.diff`). Nothing here imports DVC.
"""

from __future__ import annotations

from mlgate.metrics.diff import (
    Change,
    Diff,
    diff_flat,
    diff_metrics,
    infer_direction,
    policy_directions,
)
from mlgate.metrics.read import (
    declared_metrics,
    flatten,
    parse_metrics,
    read_metrics,
    read_params,
    read_revision,
    source_name,
)

__all__ = [
    "Change",
    "Diff",
    "declared_metrics",
    "diff_flat",
    "diff_metrics",
    "flatten",
    "infer_direction",
    "parse_metrics",
    "policy_directions",
    "read_metrics",
    "read_params",
    "read_revision",
    "source_name",
]
