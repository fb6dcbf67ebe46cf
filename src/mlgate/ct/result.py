"""What one continuous-training cycle found and did, as values (no I/O).

:mod:`mlgate.ct.cycle` builds a :class:`CycleResult`; :mod:`mlgate.ct.report` renders it.
Both import this module and neither imports the other's types (the pattern of
:mod:`mlgate.gate.result`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.ct.monitoring import Record
    from mlgate.data.validate import ValidationResult
    from mlgate.deploy.release import ReleaseResult
    from mlgate.deploy.rollback import RollbackResult
    from mlgate.gate import GateResult, Snapshot


class CtOutcome(StrEnum):
    """How a cycle ended (the ``outcome`` of ``mlgate ct --json``)."""

    NO_NEW_DATA = "no_new_data"
    PENDING = "pending"
    INVALID_DATA = "invalid_data"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    DRY_RUN = "dry_run"
    PR_OPENED = "pr_opened"
    RELEASED = "released"


#: The outcomes that exit 1 (a result, not an error).
FAILING = frozenset({CtOutcome.INVALID_DATA, CtOutcome.REJECTED})


@dataclass(frozen=True)
class BatchCheck:
    """The validation of one new batch (and a key overlap with the training data, if any)."""

    name: str
    result: ValidationResult
    overlap: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.result.passed and not self.overlap

    def problems(self) -> list[str]:
        """One line per violation: check, column, rows, message."""
        out = [
            f"{self.name}: {f.check} {f.column or ''}: {f.message}".replace("  ", " ")
            for f in self.result.violations
        ]
        if self.overlap:
            out.append(
                f"{self.name}: duplicate row_id: {len(self.overlap)} keys are already in the "
                f"training data (e.g. {', '.join(self.overlap[:5])})"
            )
        return out

    def log_lines(self, *, most: int = 10) -> list[str]:
        """The verdict, then each violation and warning by name (the first ``most``)."""
        problems = [f"violation: {f.describe()}" for f in self.result.violations] + [
            p.split(": ", 1)[1] for p in self.problems()[len(self.result.violations) :]
        ]
        warnings = [f"warning: {f.describe()}" for f in self.result.warnings]
        counts = [
            f"{n} {word}{'s' * (n != 1)}"
            for n, word in ((len(problems), "problem"), (len(warnings), "warning"))
            if n
        ]
        head = f"validate {self.name}: " + ("ok" if self.passed else "failed")
        head += f" ({', '.join(counts)})" if counts else ""
        details = [f"  {line}" for line in (*problems, *warnings)]
        if len(details) > most:
            left = len(details) - most
            details = [*details[:most], f"  (+{left} more: `mlgate ct --report FILE` lists all)"]
        return [head, *details]

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.name,
            "passed": self.passed,
            "problems": self.problems(),
            "validation": self.result.to_metrics(),
        }


@dataclass(frozen=True)
class GateSnapshots:
    """The two sides the cycle's gate compared, scored on the held-out rows: the report draws
    their curves (``production`` is None before the first release)."""

    candidate: Snapshot
    production: Snapshot | None = None


@dataclass(frozen=True)
class CycleResult:
    """What one cycle found and did; ``outcome`` is a :class:`CtOutcome`."""

    outcome: CtOutcome
    mode: str
    dry_run: bool
    message: str
    new_batches: tuple[str, ...] = ()
    held_out: str | None = None
    held_out_rows: int = 0
    window: str = "all"
    checks: tuple[BatchCheck, ...] = ()
    production: str | None = None
    monitoring: Record | None = None
    predecessor: str | None = None
    post_deploy: GateResult | None = None
    gate: GateResult | None = None
    rollback: RollbackResult | None = None
    release: ReleaseResult | None = None
    pull_request: dict[str, Any] | None = None
    branch: str | None = None
    tag: str | None = None
    commits: tuple[str, ...] = ()
    report: str = ""
    snapshots: GateSnapshots | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # a caller may spell the outcome as its string: one type from here on
        object.__setattr__(self, "outcome", CtOutcome(self.outcome))

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome in FAILING else 0

    def to_json(self) -> dict[str, Any]:
        """The ``mlgate ct --json`` document (``schema_version`` 1)."""
        pr = self.pull_request or {}
        return {
            "schema_version": 1,
            "outcome": self.outcome.value,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "message": self.message,
            "new_batches": list(self.new_batches),
            "window": self.window,
            "held_out": {"batch": self.held_out, "rows": self.held_out_rows}
            if self.held_out
            else None,
            "validation": [c.to_json() for c in self.checks],
            "production": self.production,
            "monitoring": self.monitoring.to_json() if self.monitoring else None,
            "post_deploy": {
                "predecessor": self.predecessor,
                "gate": self.post_deploy.to_json(),
            }
            if self.post_deploy is not None
            else None,
            "gate": self.gate.to_json() if self.gate is not None else None,
            "rollback": self.rollback.to_json() if self.rollback else None,
            "release": self.release.to_json() if self.release else None,
            "pull_request": {
                "number": pr.get("number"),
                "url": pr.get("html_url"),
                "branch": self.branch,
            }
            if self.pull_request is not None
            else None,
            "branch": self.branch,
            "tag": self.tag,
            "commits": list(self.commits),
        }
