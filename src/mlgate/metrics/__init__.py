"""Metrics and params of a DVC project at git revisions, and their diff.

Reading goes through :mod:`mlgate.metrics.read` (git objects, the DVC cache and remote, as
DVC reads them); diffing is pure (:mod:`mlgate.metrics.diff`). DVC itself is imported only
for templated ``dvc.yaml`` files and for objects the local cache lacks.
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
    RevisionMetrics,
    RevisionReader,
    declared_metrics,
    flatten,
    load_metrics,
    parse_metrics,
    read_metrics,
    read_params,
    read_revision,
    source_name,
)

__all__ = [
    "Change",
    "Diff",
    "RevisionMetrics",
    "RevisionReader",
    "declared_metrics",
    "diff_flat",
    "diff_metrics",
    "flatten",
    "infer_direction",
    "load_metrics",
    "parse_metrics",
    "policy_directions",
    "read_metrics",
    "read_params",
    "read_revision",
    "source_name",
]
