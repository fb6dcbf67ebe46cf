"""Gather what the PR report shows from two revisions: the gate's verdict, params, slices,
validation and curves (the only I/O behind the report; :mod:`mlgate.report` renders it)."""

from __future__ import annotations

from mlgate.dvcstore import ObjectStore, ObjectUnavailable
from mlgate.gate.policy import Policy
from mlgate.gate.revisions import evaluate_revisions
from mlgate.gate.stats import parse_predictions
from mlgate.git import WORKTREE, Repo
from mlgate.metrics import Diff, RevisionReader, diff_flat
from mlgate.report.collect import ReportData
from mlgate.report.curves import Curves, curves


def collect(
    repo: Repo,
    *,
    baseline: str | None,
    candidate: str = WORKTREE,
    policy: Policy | None = None,
    model: str | None = None,
) -> ReportData:
    """Evaluate the gate and read params, slices, validation and curves of both sides.

    Every file comes through the same reader as the gate's (git, then the DVC cache and
    remote), at the paths the policy names.
    """
    from mlgate.data.result import read_validation

    result = evaluate_revisions(repo, baseline=baseline, candidate=candidate, model=model)
    policy = policy or result.policy or Policy()
    cand_rev = candidate if candidate == WORKTREE else repo.resolve(candidate)
    base_rev = result.baseline.rev if result.baseline else None
    store = ObjectStore(repo.root)
    try:
        cand = RevisionReader(repo, cand_rev, label=candidate, store=store, params=True)
        base = (
            RevisionReader(repo, base_rev, label=baseline, store=store, params=True)
            if base_rev and baseline
            else None
        )
        cand_metrics = cand.metrics().flat()
        base_metrics = base.metrics().flat() if base is not None else None
        params_old = base.params() if base is not None else {}
        params = Diff({"params.yaml": diff_flat(params_old, cand.params())})
        # the metrics file and the per-column table beside it (mlgate.data.result)
        validation = read_validation(
            lambda path: _optional(cand, path), policy.validation_file, source=cand.source
        )
        drawn: dict[str, Curves] = {}
        for side, reader in (("baseline", base), ("candidate", cand)):
            raw = _optional(reader, policy.predictions_file) if reader is not None else None
            if raw is None or reader is None:
                continue
            p = parse_predictions(raw, reader.source(policy.predictions_file))
            if p.y_score is None:  # regression or multiclass: no one score for a ROC curve
                continue
            c = curves(p.y_true, p.y_score)
            if c is not None:
                drawn[side] = c
    finally:
        store.close()
    slice_rules = [r for r in result.rules if r.check.startswith("slice")]
    return ReportData(
        result=result,
        baseline_metrics=base_metrics,
        candidate_metrics=cand_metrics,
        params=params,
        slices_file=slice_rules[0].file if slice_rules else policy.slices_file,
        slice_metric=slice_rules[0].metric if slice_rules else None,
        validation=validation if isinstance(validation, dict) else None,
        curves=drawn,
        bootstrap_file=policy.bootstrap_file,
    )


def _optional(reader: RevisionReader, path: str) -> bytes | None:
    """A file the report shows when it can: absent or unavailable means the section is left out."""
    try:
        return reader.read(path)
    except ObjectUnavailable:
        return None
