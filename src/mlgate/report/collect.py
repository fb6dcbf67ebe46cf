"""What the PR report draws, as one value (:func:`mlgate.gate.collect.collect` gathers it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.constants import BOOTSTRAP_FILE, DEFAULT_SLICES_FILE

if TYPE_CHECKING:
    from mlgate.gate import GateResult
    from mlgate.metrics import Diff
    from mlgate.report.curves import Curves


@dataclass(frozen=True)
class ReportData:
    """Everything :func:`mlgate.report.markdown.render_report` draws; no I/O left to do."""

    result: GateResult
    baseline_metrics: Mapping[str, Mapping[str, float]] | None
    candidate_metrics: Mapping[str, Mapping[str, float]]
    params: Diff
    slices_file: str = DEFAULT_SLICES_FILE
    slice_metric: str | None = None
    validation: dict[str, Any] | None = None
    curves: dict[str, Curves] = field(default_factory=dict)  # "baseline"/"candidate"
    bootstrap_file: str = BOOTSTRAP_FILE
