"""Gather what the PR report shows from two revisions (the only I/O of the report)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.gate import GateResult, evaluate_revisions, parse_predictions
from mlgate.gate.policy import DEFAULT_SLICES_FILE, PREDICTIONS_FILE
from mlgate.git import WORKTREE, Repo
from mlgate.metrics import Diff, diff_flat, read_metrics, read_params, source_name
from mlgate.report.curves import Curves, curves

VALIDATION_FILE = "metrics/validation.json"


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


def collect(repo: Repo, *, baseline: str | None, candidate: str = WORKTREE) -> ReportData:
    """Evaluate the gate and read params, slices, validation and curves of both sides."""
    from mlgate.fileio import loads_json

    result = evaluate_revisions(repo, baseline=baseline, candidate=candidate)
    cand_rev = candidate if candidate == WORKTREE else repo.resolve(candidate)
    base_rev = result.baseline.rev if result.baseline else None
    cand_metrics = read_metrics(repo, cand_rev, label=candidate)
    base_metrics = read_metrics(repo, base_rev, label=baseline) if base_rev and baseline else None
    params_old = read_params(repo, base_rev, label=baseline) if base_rev and baseline else {}
    params = Diff(
        {"params.yaml": diff_flat(params_old, read_params(repo, cand_rev, label=candidate))}
    )
    raw_validation = repo.show(cand_rev, VALIDATION_FILE)
    validation = (
        loads_json(raw_validation, source_name(candidate, VALIDATION_FILE))
        if raw_validation is not None
        else None
    )
    drawn: dict[str, Curves] = {}
    sides = [("baseline", base_rev, baseline), ("candidate", cand_rev, candidate)]
    for side, rev, label in sides:
        if rev is None or label is None:
            continue
        raw = repo.show(rev, PREDICTIONS_FILE)
        if raw is None:
            continue
        p = parse_predictions(raw, source_name(label, PREDICTIONS_FILE))
        c = curves(p.y_true, p.y_score)
        if c is not None:
            drawn[side] = c
    slice_rules = [r for r in result.rules if r.check.startswith("slice")]
    return ReportData(
        result=result,
        baseline_metrics=base_metrics,
        candidate_metrics=cand_metrics,
        params=params,
        slices_file=slice_rules[0].file if slice_rules else DEFAULT_SLICES_FILE,
        slice_metric=slice_rules[0].metric if slice_rules else None,
        validation=validation if isinstance(validation, dict) else None,
        curves=drawn,
    )
