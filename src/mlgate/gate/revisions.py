"""The gate's adapter to git: pick the baseline, read both revisions, pick the policy.

The policy is read from the **baseline** revision, so a pull request cannot loosen its own
gate; where the baseline has none (first adoption) the candidate's is used and the result
says so.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from mlgate.baseline import resolve_baseline
from mlgate.config import PARAMS_FILE, Section, loads_yaml
from mlgate.dvcstore import ObjectStore, ObjectUnavailable
from mlgate.errors import DataError
from mlgate.gate.evaluate import Snapshot, evaluate_snapshots
from mlgate.gate.policy import Policy, load_policy
from mlgate.gate.result import GateResult
from mlgate.gate.stats import parse_predictions
from mlgate.git import WORKTREE, Repo
from mlgate.metrics.read import RevisionReader, source_name

_PARSING = threading.Lock()

__all__ = [
    "evaluate_revisions",
    "policy_at",
    "policy_files",
    "read_snapshot",
    "resolve_baseline",
    "snapshot_of",
]


def read_snapshot(
    repo: Repo,
    rev: str,
    *,
    policy: Policy,
    label: str | None = None,
    store: ObjectStore | None = None,
) -> Snapshot:
    """Metrics and predictions of ``rev`` (a full SHA or ``WORKTREE``), read as DVC reads them.

    Files inside cached outputs come from the DVC cache or remote; a metrics file that is
    declared but cannot be read is kept as an error of the snapshot, so that a rule needing
    it stops the gate (exit 2) instead of passing. Predictions that are tracked but
    unavailable stop it too when a rule asks for significance.
    """
    reader = RevisionReader(
        repo, rev, label=label or rev, store=store, prefetch=policy_files(policy)
    )
    return snapshot_of(reader, policy)


def policy_files(policy: Policy) -> list[str]:
    """The files a policy reads besides the declared metrics (prefetched in one batch)."""
    return [policy.predictions_file, policy.metrics_file, *(r.file for r in policy.rules)]


def snapshot_of(reader: RevisionReader, policy: Policy) -> Snapshot:
    """The :class:`Snapshot` of the revision ``reader`` reads (see :func:`read_snapshot`)."""
    repo, rev = reader.repo, reader.rev
    metrics = reader.metrics()
    try:
        raw = reader.read(policy.predictions_file)
    except ObjectUnavailable as exc:
        if any(r.significance is not None for r in policy.rules):
            raise DataError(
                f"{exc} (the gate's significance test needs gate.predictions_file)"
            ) from exc
        raw = None
    predictions = None
    if raw:
        with _PARSING:  # one file parsed at a time: memory for one parse, not two
            predictions = parse_predictions(
                raw,
                reader.source(policy.predictions_file),
                task=policy.task,
                columns=policy.columns(),
            )
    del raw
    short = repo.head()[:7] if rev == WORKTREE else rev[:7]
    return Snapshot(
        rev=rev,
        metrics=metrics.flat(),
        predictions=predictions,
        short=short,
        errors=dict(metrics.errors),
        declared=bool(metrics.declared),
    )


def _gate_section(repo: Repo, rev: str, label: str, model: str | None = None) -> tuple[Any, str]:
    source = source_name(label, PARAMS_FILE)
    return gate_data(repo.show(rev, PARAMS_FILE), source, model), source


def gate_data(raw: bytes | None, source: str, model: str | None = None) -> Any:
    """The ``gate:`` section (``model``'s, see :func:`for_model`) of params.yaml's bytes."""
    doc = loads_yaml(raw, source) if raw is not None else None
    if doc is not None and not isinstance(doc, dict):
        Section.root(doc, file=source)  # raises "expected a mapping"
    return for_model((doc or {}).get("gate"), model, source)


def for_model(gate: Any, model: str | None, source: str) -> Any:
    """The policy of ``model``: the shared ``gate:`` keys, overridden by ``gate.models.NAME``.

    ``gate.models`` maps model names (``artifacts:``) to policy keys of their own (say, a
    ``metrics_file`` and ``rules``); models without an entry use the shared policy.
    """
    if not isinstance(gate, dict) or "models" not in gate:
        return gate
    per_model = gate["models"]
    if not isinstance(per_model, dict) or not all(isinstance(v, dict) for v in per_model.values()):
        Section(gate, file=source, where="gate").fail(
            "models", "expected a mapping of model names to policy keys"
        )
    shared = {k: v for k, v in gate.items() if k != "models"}
    return {**shared, **per_model.get(model, {})} if model is not None else shared


def policy_at(
    repo: Repo, rev: str, *, label: str | None = None, model: str | None = None
) -> Policy | None:
    """The policy in ``params.yaml`` at ``rev``; None when there is no ``gate:`` section."""
    data, source = _gate_section(repo, rev, label or rev, model)
    if data is None:
        return None
    return load_policy(Section(data, file=source, where="gate"))


def _read_both(
    repo: Repo,
    policy: Policy,
    candidate: tuple[str, str],
    baseline: tuple[str | None, str | None],
) -> tuple[Snapshot, Snapshot | None]:
    """Both snapshots, the baseline's read on a second thread: git inflates its
    predictions while the candidate's are parsed (:data:`_PARSING` keeps the two parses
    apart). Each thread has its own object store; the candidate's error is raised first,
    as when they were read one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    def read(rev: str, label: str) -> Snapshot:
        store = ObjectStore(repo.root)
        try:
            return read_snapshot(repo, rev, policy=policy, label=label, store=store)
        finally:
            store.close()

    base_rev, base_label = baseline
    if base_rev is None or base_label is None:
        return read(*candidate), None
    with ThreadPoolExecutor(1) as pool:
        base = pool.submit(read, base_rev, base_label)
        try:
            cand = read(*candidate)
        except BaseException:
            base.cancel()
            raise
        return cand, base.result()


def evaluate_revisions(
    repo: Repo, *, baseline: str | None, candidate: str = WORKTREE, model: str | None = None
) -> GateResult:
    """Read both revisions from git and evaluate the baseline's policy on them.

    ``baseline=None`` means no baseline: only the absolute rules decide. ``model`` picks
    that model's policy (``gate.models.NAME`` over the shared keys).
    """
    cand_rev = candidate if candidate == WORKTREE else repo.resolve(candidate)
    base_rev = repo.resolve(baseline) if baseline is not None else None
    cand_data, cand_source = _gate_section(repo, cand_rev, candidate, model)
    notes: list[str] = []
    base_data = None
    if base_rev is not None and baseline is not None:
        base_data, base_source = _gate_section(repo, base_rev, baseline, model)
    if base_data is not None:
        policy_from, data, source = "baseline", base_data, base_source
        changed = cand_data != base_data
        if changed:
            notes.append(
                "the candidate changes the gate policy; this verdict uses the baseline's "
                "(the new policy applies once merged)"
            )
    elif cand_data is not None:
        policy_from, data, source, changed = "candidate", cand_data, cand_source, False
        if base_rev is not None:
            notes.append("the baseline has no gate policy (first adoption): using the candidate's")
    else:
        policy_from, data, source, changed = "none", {}, cand_source, False
    policy = load_policy(Section(data, file=source, where="gate"))
    cand, base = _read_both(repo, policy, (cand_rev, candidate), (base_rev, baseline))
    result = evaluate_snapshots(policy, baseline=base, candidate=cand)
    return replace(
        result,
        notes=tuple(notes) + result.notes,
        policy_from=policy_from,
        policy_changed=changed,
        confidence=policy.confidence,
        policy=policy,
    )
