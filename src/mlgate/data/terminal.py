"""Render a :class:`ValidationResult` on a terminal with rich: one table per check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate.data.result import Finding, ValidationResult

if TYPE_CHECKING:
    from rich.console import Console

_TITLES = {
    "missing_column": "Missing columns",
    "unexpected_column": "Unexpected columns",
    "row_count": "Row count",
    "dtype": "Types",
    "nulls": "Missing values",
    "null_fraction": "Share of missing values",
    "range": "Ranges (min/max)",
    "allowed": "Allowed values",
    "unique": "Unique keys",
    "drift.psi": "Drift: PSI",
    "drift.ks": "Drift: KS",
}


def _examples(f: Finding) -> str:
    return ", ".join(f"row {e.row}: {e.value}" for e in f.examples)


def render(result: ValidationResult, console: Console) -> None:
    """Print the summary, one table per failed check and the per-column drift table."""
    from rich.markup import escape
    from rich.table import Table

    by_check: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_check.setdefault(f.check, []).append(f)
    for check, findings in by_check.items():
        table = Table(title=_TITLES.get(check, check), title_justify="left", expand=False)
        table.add_column("column")
        table.add_column("level")
        table.add_column("rows", justify="right")
        table.add_column("detail")
        table.add_column("examples (first 5)")
        for f in findings:
            style = "red" if f.level == "violation" else "yellow"
            table.add_row(
                escape(f.column or "(table)"),
                f.level,
                "-" if f.rows is None else str(f.rows),
                escape(f.message),
                escape(_examples(f)),
                style=style,
            )
        console.print(table)
    drift = Table(title="Columns", title_justify="left")
    for name, justify in (
        ("column", "left"),
        ("type", "left"),
        ("null rate", "right"),
        ("PSI", "right"),
        ("KS", "right"),
    ):
        drift.add_column(name, justify=justify)  # type: ignore[arg-type]
    flagged = {(f.column, f.level) for f in result.findings}
    for c in result.columns:
        row_style: str | None = (
            "red"
            if (c.name, "violation") in flagged
            else ("yellow" if (c.name, "warning") in flagged else None)
        )
        drift.add_row(
            escape(c.name),
            c.dtype,
            f"{c.null_rate:.4f}",
            "-" if c.psi is None else f"{c.psi:.3f}",
            "-" if c.ks is None else f"{c.ks:.3f}",
            style=row_style,
        )
    console.print(drift)
    n_v, n_w = len(result.violations), len(result.warnings)
    colour = "red" if n_v else ("yellow" if n_w else "green")
    verdict = "FAILED" if n_v else "passed"
    console.print(
        f"[{colour}]validation {verdict}[/{colour}]: {escape(result.source)}, {result.rows} rows, "
        f"{n_v} violation{'s' * (n_v != 1)}, {n_w} warning{'s' * (n_w != 1)}"
    )
