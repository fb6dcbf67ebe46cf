"""Gate DVC experiments before they become pull requests: every experiment, one table.

``dvc exp run`` keeps each experiment as a commit under ``refs/exps/<baseline>/<name>``
(https://dvc.org/doc/user-guide/experiment-management). :func:`rank_experiments` reads the
baseline and its policy once, then each experiment through the same reader as the gate
(git objects, the DVC cache and remote), evaluates the baseline's policy on it, and sorts
the verdicts best first. DVC shows experiments side by side; this judges them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.errors import MlgateError
from mlgate.gate.evaluate import Snapshot, evaluate_snapshots
from mlgate.gate.policy import Policy, load_policy
from mlgate.gate.result import GateResult
from mlgate.gate.revisions import for_model, policy_files, snapshot_of
from mlgate.git import ExperimentRef, Repo
from mlgate.metrics.diff import Change, diff_flat
from mlgate.metrics.read import RevisionReader

#: Display statuses, best first (``error``: the experiment could not be judged).
ORDER = ("pass", "warn", "inconclusive", "fail", "error")


@dataclass(frozen=True)
class ExperimentVerdict:
    """One experiment judged against its baseline."""

    experiment: ExperimentRef
    params: Mapping[str, Change] = field(default_factory=dict)  # changed params only
    result: GateResult | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        """``pass``, ``warn``, ``inconclusive``, ``fail`` or ``error``."""
        if self.result is None:
            return "error"
        if not self.result.passed:
            return "fail"
        statuses = {r.status for r in self.result.rules}
        return (
            "inconclusive"
            if "inconclusive" in statuses
            else "warn"
            if "warn" in statuses
            else "pass"
        )

    def to_json(self) -> dict[str, Any]:
        """``gate --json``'s verdict object, with the experiment and its changed params."""
        base: dict[str, Any] = self.result.to_json() if self.result is not None else {}
        return {
            **base,
            "experiment": {
                "name": self.experiment.name,
                "ref": self.experiment.ref,
                "rev": self.experiment.sha,
                "baseline": self.experiment.baseline,
            },
            "status": self.status,
            "params": {k: c.to_json() for k, c in self.params.items()},
            "error": self.error,
        }


@dataclass(frozen=True)
class Ranking:
    """Every experiment's verdict, best first, and the policy that judged them."""

    baseline: str
    verdicts: tuple[ExperimentVerdict, ...]
    metrics: tuple[tuple[str, str, str], ...]  # (file, metric, direction) of the rules

    @property
    def best(self) -> ExperimentVerdict | None:
        """The best passing experiment, if any passes."""
        return next((v for v in self.verdicts if v.status in ("pass", "warn")), None)


def _policy(reader: RevisionReader, model: str | None) -> Policy:
    from mlgate.config import Section, loads_yaml

    raw = reader.blob("params.yaml")
    source = reader.source("params.yaml")
    doc = loads_yaml(raw, source) if raw is not None else None
    gate = for_model(doc.get("gate") if isinstance(doc, dict) else None, model, source)
    return load_policy(Section(gate or {}, file=source, where="gate"))


def rank_experiments(
    repo: Repo, baseline: str = "HEAD", *, all_commits: bool = False, model: str | None = None
) -> Ranking:
    """Gate every experiment run from ``baseline`` (``all_commits``: from any commit).

    Each is judged by its own baseline commit's policy, read once per baseline; an
    experiment that cannot be read is an ``error`` row, not the end of the table.
    """
    base_sha = repo.resolve(baseline)
    exps = [e for e in repo.experiment_refs() if all_commits or e.baseline == base_sha]
    bases: dict[str, tuple[Policy, Snapshot, dict[str, Any]] | MlgateError] = {}
    verdicts: list[ExperimentVerdict] = []
    first: RevisionReader | None = None
    try:
        for exp in exps:
            if exp.baseline not in bases:
                bases[exp.baseline] = _read_base(repo, exp.baseline, model, first)
            base = bases[exp.baseline]
            if isinstance(base, MlgateError):
                verdicts.append(ExperimentVerdict(exp, error=f"baseline: {base}"))
                continue
            policy, base_snap, base_params = base
            try:
                reader = RevisionReader(
                    repo,
                    exp.sha,
                    label=exp.name,
                    params=True,
                    prefetch=policy_files(policy),
                    store=None if first is None else first.shared_store,
                )
                first = first or reader
                snap = snapshot_of(reader, policy)
                params = diff_flat(base_params, reader.params())
                result = evaluate_snapshots(policy, baseline=base_snap, candidate=snap)
                verdicts.append(ExperimentVerdict(exp, params, result))
            except MlgateError as exc:
                verdicts.append(ExperimentVerdict(exp, error=str(exc)))
    finally:
        if first is not None:
            first.close()
    policy = next((b[0] for b in bases.values() if not isinstance(b, MlgateError)), Policy())
    metrics = tuple((r.file, r.metric, r.direction) for r in policy.rules)
    return Ranking(base_sha, tuple(sorted(verdicts, key=lambda v: _sort_key(v, metrics))), metrics)


def _read_base(
    repo: Repo, sha: str, model: str | None, other: RevisionReader | None
) -> tuple[Policy, Snapshot, dict[str, Any]] | MlgateError:
    try:
        reader = RevisionReader(
            repo,
            sha,
            label=sha[:7],
            params=True,
            store=None if other is None else other.shared_store,
        )
        policy = _policy(reader, model)
        return policy, snapshot_of(reader, policy), reader.params()
    except MlgateError as exc:
        return exc


def _sort_key(v: ExperimentVerdict, metrics: tuple[tuple[str, str, str], ...]) -> tuple[Any, ...]:
    rank = ORDER.index(v.status)
    score = 0.0
    if metrics and v.result is not None:
        file, metric, direction = metrics[0]
        value = next(
            (r.candidate for r in v.result.rules if r.metric == metric and r.file == file), None
        )
        if value is not None and math.isfinite(value):
            score = -value if direction == "higher" else value
    return (rank, score, v.experiment.name)
