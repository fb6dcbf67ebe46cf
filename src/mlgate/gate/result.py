"""What the gate decided, as values, and its versioned JSON form.

``GateResult.to_json()`` (schema_version 1), the contract for workflows and tools::

    {
      "schema_version": 1,
      "verdict": "pass" | "fail",
      "baseline": {"rev": "<sha>", "short": "<sha7>"} | null,
      "candidate": {"rev": "<sha>" | "workspace", "short": "<sha7>"},
      "policy": {"source": "main:params.yaml", "from": "baseline" | "candidate" | "none",
                 "changed_by_candidate": bool},
      "rules": [{"rule": "rules[0]", "check": "max_regression", "file": ..., "metric": ...,
                 "slice": null, "status": "pass" | "fail" | "inconclusive" | "warn" | "skip",
                 "baseline": x | null, "candidate": y | null, "change": d | null,
                 "limit": l | null, "p_value": p | null, "interval": [lo, hi] | null,
                 "method": "paired bootstrap" | "paired bootstrap (cells)"
                           | "paired bootstrap (bins)" | "paired bootstrap (histogram auc)"
                           | "unpaired normal" | null,
                 "near_miss": bool, "message": "..."}],
      "metrics": [{"file": ..., "metric": ..., "direction": "higher" | "lower",
                   "baseline": x | null, "candidate": y | null, "change": d | null,
                   "interval": [lo, hi] | null, "p_value": p | null, "method": ... | null}],
      "notes": ["..."]
    }
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from mlgate.constants import Direction

if TYPE_CHECKING:
    from mlgate.gate.policy import Policy

SCHEMA_VERSION = 1
#: A check's outcome (``rules[].status`` of the verdict JSON).
RuleStatus = Literal["pass", "fail", "inconclusive", "warn", "skip"]
STATUSES: tuple[RuleStatus, ...] = get_args(RuleStatus)
#: What a rule result checked (``rules[].check``): a bound on the candidate, a change against
#: the baseline, a slice bound or regression, or the metric's presence.
Check = Literal[
    "present",
    "min",
    "max",
    "max_regression",
    "max_regression_rel",
    "max_improvement",
    "slices",
    "slice_min",
    "slice_max",
    "slice_max_regression",
]
CHECKS: tuple[Check, ...] = get_args(Check)


@dataclass(frozen=True)
class Revision:
    """A side of the comparison: ``rev`` is a full SHA or ``workspace``."""

    rev: str
    short: str

    def to_json(self) -> dict[str, str]:
        return {"rev": self.rev, "short": self.short}


@dataclass(frozen=True)
class RuleResult:
    """One check of one rule: its values, limit, status and the reason in words."""

    rule: str
    check: Check
    file: str
    metric: str
    status: RuleStatus
    message: str
    baseline: float | None = None
    candidate: float | None = None
    change: float | None = None
    limit: float | None = None
    p_value: float | None = None
    interval: tuple[float, float] | None = None
    method: str | None = None
    near_miss: bool = False
    slice: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "check": self.check,
            "file": self.file,
            "metric": self.metric,
            "slice": self.slice,
            "status": self.status,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "change": self.change,
            "limit": self.limit,
            "p_value": self.p_value,
            "interval": list(self.interval) if self.interval else None,
            "method": self.method,
            "near_miss": self.near_miss,
            "message": self.message,
        }


@dataclass(frozen=True)
class MetricComparison:
    """A metric on both sides with the uncertainty of its change (when known)."""

    file: str
    metric: str
    direction: Direction
    baseline: float | None
    candidate: float | None
    interval: tuple[float, float] | None = None
    p_value: float | None = None
    method: str | None = None

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline

    @property
    def improved(self) -> bool | None:
        """True better, False worse, None unchanged or not comparable."""
        c = self.change
        if not c:
            return None
        return (c > 0) == (self.direction == "higher")

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "metric": self.metric,
            "direction": self.direction,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "change": self.change,
            "interval": list(self.interval) if self.interval else None,
            "p_value": self.p_value,
            "method": self.method,
        }


@dataclass(frozen=True)
class GateResult:
    """The verdict and everything behind it; ``verdict`` is ``fail`` iff a check failed."""

    baseline: Revision | None
    candidate: Revision
    rules: tuple[RuleResult, ...]
    metrics: tuple[MetricComparison, ...] = ()
    notes: tuple[str, ...] = ()
    policy_source: str = ""
    policy_from: str = "baseline"
    policy_changed: bool = False
    confidence: float = 0.95  # of the intervals (gate.confidence)
    policy: Policy | None = field(default=None, compare=False, repr=False)  # as applied

    @property
    def passed(self) -> bool:
        return not any(r.status == "fail" for r in self.rules)

    @property
    def verdict(self) -> Literal["pass", "fail"]:
        return "pass" if self.passed else "fail"

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if r.status == "fail")

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        """Inconclusive and warned checks, and passes that came close to failing."""
        return tuple(r for r in self.rules if r.status in ("inconclusive", "warn") or r.near_miss)

    def to_json(self) -> dict[str, Any]:
        """The documented verdict object (see the module docstring), schema_version 1."""
        return {
            "schema_version": SCHEMA_VERSION,
            "verdict": self.verdict,
            "baseline": self.baseline.to_json() if self.baseline else None,
            "candidate": self.candidate.to_json(),
            "policy": {
                "source": self.policy_source,
                "from": self.policy_from,
                "changed_by_candidate": self.policy_changed,
            },
            "rules": [r.to_json() for r in self.rules],
            "metrics": [m.to_json() for m in self.metrics],
            "notes": list(self.notes),
        }
