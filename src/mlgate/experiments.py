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
from mlgate.gate.revisions import gate_data, policy_files, snapshot_of
from mlgate.git import ExperimentRef, Repo
from mlgate.metrics.cache import ParseCache
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
    from mlgate.config import Section

    source = reader.source("params.yaml")
    gate = gate_data(reader.blob("params.yaml"), source, model)
    return load_policy(Section(gate or {}, file=source, where="gate"))


def rank_experiments(
    repo: Repo, baseline: str = "HEAD", *, all_commits: bool = False, model: str | None = None
) -> Ranking:
    """Gate every experiment run from ``baseline`` (``all_commits``: from any commit).

    Each is judged by its own baseline commit's policy, read once per baseline. The reads are
    planned for many revisions at once: one ``git diff-tree --stdin`` gives every
    experiment's files as changes to its baseline's, and one ``git cat-file`` batch reads the
    blobs they all need, so fifty experiments cost little more than one gate. An experiment
    that cannot be read is an ``error`` row, not the end of the table.
    """
    base_sha = repo.resolve(baseline)
    exps = [e for e in repo.experiment_refs() if all_commits or e.baseline == base_sha]
    groups: dict[str, list[ExperimentRef]] = {}
    for exp in exps:
        groups.setdefault(exp.baseline, []).append(exp)
    shared = _Shared(repo, ParseCache(None), {})
    verdicts: list[ExperimentVerdict] = []
    policies: list[Policy] = []
    try:
        for sha, group in groups.items():
            base = shared.base(sha, model)
            if isinstance(base, MlgateError):
                verdicts.extend(ExperimentVerdict(e, error=f"baseline: {base}") for e in group)
                continue
            policies.append(base.policy)
            verdicts.extend(shared.judge(base, group))
    finally:
        shared.close()
    policy = policies[0] if policies else Policy()
    metrics = tuple((r.file, r.metric, r.direction) for r in policy.rules)
    return Ranking(base_sha, tuple(sorted(verdicts, key=lambda v: _sort_key(v, metrics))), metrics)


@dataclass(frozen=True)
class _Base:
    policy: Policy
    snapshot: Snapshot
    params: dict[str, Any]
    reader: RevisionReader


@dataclass
class _Shared:
    """What the readers of many revisions share: parses, blobs by id, the DVC store."""

    repo: Repo
    cache: ParseCache
    objects: dict[str, bytes]
    store: Any = None

    def reader(self, sha: str, label: str, **kw: Any) -> RevisionReader:
        return RevisionReader(
            self.repo, sha, label=label, params=True, cache=self.cache, objects=self.objects,
            store=self.store, **kw,
        )  # fmt: skip

    def base(self, sha: str, model: str | None) -> _Base | MlgateError:
        try:
            reader = self.reader(sha, sha[:7])
            policy = _policy(reader, model)
            base = _Base(policy, snapshot_of(reader, policy), reader.params(), reader)
        except MlgateError as exc:
            return exc
        self.store = self.store or reader.shared_store
        return base

    def judge(self, base: _Base, group: list[ExperimentRef]) -> list[ExperimentVerdict]:
        listing = base.reader.listing() or {}
        changes = self.repo.diff_trees([(e.sha, e.baseline) for e in group])
        listings = {e.sha: _patched(listing, changes.get(e.sha, [])) for e in group}
        wanted = base.reader.wanted()
        oids = {
            entry[1]
            for files in listings.values()
            for p in wanted
            if (entry := files.get(p)) is not None and entry[0] == "blob"
        }
        missing = [o for o in oids if o not in self.objects]
        if missing:
            self.objects.update(self.repo.cat_blobs(missing))
        out = []
        for exp in group:
            try:
                reader = self.reader(
                    exp.sha, exp.name, listing=listings[exp.sha], prefetch=policy_files(base.policy)
                )
                snap = snapshot_of(reader, base.policy)
                params = diff_flat(base.params, reader.params())
                result = evaluate_snapshots(base.policy, baseline=base.snapshot, candidate=snap)
                out.append(ExperimentVerdict(exp, params, result))
                self.store = self.store or reader.shared_store
            except MlgateError as exc:
                out.append(ExperimentVerdict(exp, error=str(exc)))
        return out

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _patched(
    listing: Mapping[str, tuple[str, str]], changes: list[tuple[str, str, str]]
) -> dict[str, tuple[str, str]]:
    """A revision's files from its baseline's and the changes between them."""
    out = dict(listing)
    for status, path, oid in changes:
        if status == "D":
            out.pop(path, None)
        else:
            out[path] = ("blob", oid)
    return out


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
