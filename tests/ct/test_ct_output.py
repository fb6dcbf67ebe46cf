"""What `mlgate ct` prints as it goes: each finding named, no doubled prefixes."""

from __future__ import annotations

from mlgate.ct.cycle import BatchCheck
from mlgate.data.result import Finding, ValidationResult


def _psi(column: str, value: float) -> Finding:
    return Finding(
        "drift.psi", column, "warning", None, f"PSI {value:.3f} above warn 0.1", (), value
    )


def _check(*findings: Finding, overlap: tuple[str, ...] = ()) -> BatchCheck:
    result = ValidationResult(source="b.csv", rows=30, columns=(), findings=findings)
    return BatchCheck("b.csv", result, overlap)


def test_a_passing_batch_names_its_warnings() -> None:
    assert _check().log_lines() == ["validate b.csv: ok"]
    assert _check(_psi("mean_area", 0.15)).log_lines() == [
        "validate b.csv: ok (1 warning)",
        "  warning: column 'mean_area': drift.psi: PSI 0.150 above warn 0.1",
    ]


def test_a_failing_batch_names_each_problem_then_warnings_up_to_a_limit() -> None:
    bad = Finding("range", "mean_radius", "violation", 4, "4 values outside [0, 30.3]")
    lines = _check(bad, *[_psi(f"c{i}", 0.2) for i in range(12)], overlap=("7",)).log_lines()
    assert lines[:4] == [
        "validate b.csv: failed (2 problems, 12 warnings)",
        "  violation: column 'mean_radius': range: 4 values outside [0, 30.3]",
        "  duplicate row_id: 1 keys are already in the training data (e.g. 7)",
        "  warning: column 'c0': drift.psi: PSI 0.200 above warn 0.1",
    ]
    assert len(lines) == 12 and lines[-1] == "  (+4 more: `mlgate ct --report FILE` lists all)"
