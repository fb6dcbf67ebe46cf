"""The gate's adapter to git: pick the baseline, read both revisions, pick the policy.

The policy is read from the **baseline** revision, so a pull request cannot loosen its own
gate; where the baseline has none (first adoption) the candidate's is used and the result
says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mlgate.config import PARAMS_FILE, Section, loads_yaml
from mlgate.errors import GitError
from mlgate.gate.evaluate import Snapshot, evaluate_snapshots
from mlgate.gate.policy import Policy, load_policy
from mlgate.gate.result import GateResult
from mlgate.gate.stats import parse_predictions
from mlgate.git import WORKTREE, Repo
from mlgate.metrics.read import read_metrics, source_name

FULL_HISTORY = "check out with full history (actions/checkout with `fetch-depth: 0`)"


def resolve_baseline(repo: Repo, *, environ: Mapping[str, str] | None = None) -> str:
    """The default baseline: a full SHA.

    In a GitHub pull request (``GITHUB_BASE_REF`` set) the merge-base of HEAD with
    ``origin/$GITHUB_BASE_REF``; otherwise the merge-base with the default branch
    (``origin/HEAD``, else ``main``, else ``master``).
    """
    env = os.environ if environ is None else environ
    base_ref = env.get("GITHUB_BASE_REF", "")
    if base_ref:
        ref = f"origin/{base_ref}"
        if not repo.rev_exists(ref):
            raise GitError(
                f"baseline {ref} (from GITHUB_BASE_REF) is not in this clone; {FULL_HISTORY}"
            )
        return _merge_base(repo, ref)
    branch = repo.default_branch()
    if branch is None:
        raise GitError(
            "no default branch (origin/HEAD, main or master) to compare with; "
            "name a baseline revision, e.g. `mlgate gate HEAD~1`"
        )
    return _merge_base(repo, branch)


def _merge_base(repo: Repo, ref: str) -> str:
    try:
        return repo.merge_base("HEAD", ref)
    except GitError as exc:
        if repo.is_shallow():
            raise GitError(
                f"no merge-base of HEAD and {ref} in this shallow clone; {FULL_HISTORY}"
            ) from exc
        raise


def read_snapshot(repo: Repo, rev: str, *, policy: Policy, label: str | None = None) -> Snapshot:
    """Metrics and predictions of ``rev`` (a full SHA or ``WORKTREE``) from git objects."""
    name = label or rev
    metrics = read_metrics(repo, rev, label=name)
    raw = repo.show(rev, policy.predictions_file)
    predictions = (
        parse_predictions(raw, source_name(name, policy.predictions_file)) if raw else None
    )
    short = repo.head()[:7] if rev == WORKTREE else rev[:7]
    return Snapshot(rev=rev, metrics=metrics, predictions=predictions, short=short)


def _gate_section(repo: Repo, rev: str, label: str) -> tuple[Any, str]:
    source = source_name(label, PARAMS_FILE)
    raw = repo.show(rev, PARAMS_FILE)
    doc = loads_yaml(raw, source) if raw is not None else None
    if doc is not None and not isinstance(doc, dict):
        Section.root(doc, file=source)  # raises "expected a mapping"
    return (doc or {}).get("gate"), source


def policy_at(repo: Repo, rev: str, *, label: str | None = None) -> Policy | None:
    """The policy in ``params.yaml`` at ``rev``; None when there is no ``gate:`` section."""
    data, source = _gate_section(repo, rev, label or rev)
    if data is None:
        return None
    return load_policy(Section(data, file=source, where="gate"))


def evaluate_revisions(
    repo: Repo, *, baseline: str | None, candidate: str = WORKTREE
) -> GateResult:
    """Read both revisions from git and evaluate the baseline's policy on them.

    ``baseline=None`` means no baseline: only the absolute rules decide.
    """
    cand_rev = candidate if candidate == WORKTREE else repo.resolve(candidate)
    base_rev = repo.resolve(baseline) if baseline is not None else None
    cand_data, cand_source = _gate_section(repo, cand_rev, candidate)
    notes: list[str] = []
    base_data = None
    if base_rev is not None and baseline is not None:
        base_data, base_source = _gate_section(repo, base_rev, baseline)
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
    cand = read_snapshot(repo, cand_rev, policy=policy, label=candidate)
    base = (
        read_snapshot(repo, base_rev, policy=policy, label=baseline)
        if base_rev is not None and baseline is not None
        else None
    )
    result = evaluate_snapshots(policy, baseline=base, candidate=cand)
    return replace(
        result,
        notes=tuple(notes) + result.notes,
        policy_from=policy_from,
        policy_changed=changed,
    )
