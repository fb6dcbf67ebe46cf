"""The metrics gate: a policy from ``params.yaml``, evaluated on a baseline and a candidate.

``evaluate_revisions`` reads two git revisions and decides; ``evaluate_snapshots`` is the
pure core (continuous training calls it on two models scored on one batch);
``load_policy`` parses the ``gate:`` section. Nothing here imports DVC or scikit-learn.
"""

from __future__ import annotations

from mlgate.gate.evaluate import Snapshot, evaluate_snapshots
from mlgate.gate.policy import MetricRule, Policy, SliceRule, load_policy
from mlgate.gate.result import SCHEMA_VERSION, GateResult, MetricComparison, Revision, RuleResult
from mlgate.gate.revisions import evaluate_revisions, policy_at, read_snapshot, resolve_baseline
from mlgate.gate.stats import ChangeStats, Predictions, parse_predictions
from mlgate.git import WORKTREE

__all__ = [
    "SCHEMA_VERSION",
    "WORKTREE",
    "ChangeStats",
    "GateResult",
    "MetricComparison",
    "MetricRule",
    "Policy",
    "Predictions",
    "Revision",
    "RuleResult",
    "SliceRule",
    "Snapshot",
    "evaluate_revisions",
    "evaluate_snapshots",
    "load_policy",
    "parse_predictions",
    "policy_at",
    "read_snapshot",
    "resolve_baseline",
]
