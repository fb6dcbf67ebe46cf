"""Tables for the terminal: improvements green, regressions red (direction-aware).

rich draws them when stdout is a terminal; piped or redirected output gets plain aligned
text without importing rich (which costs tens of milliseconds of start-up).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from mlgate.metrics.diff import change_direction

if TYPE_CHECKING:
    from rich.console import Console

    from mlgate.gate import GateResult
    from mlgate.metrics import Diff

STYLES = {
    "pass": "green",
    "fail": "bold red",
    "inconclusive": "yellow",
    "warn": "yellow",
    "skip": "dim",
}


def _num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _change(d: float | None, direction: str | None) -> tuple[str, str]:
    if d is None:
        return "-", ""
    if d == 0 or direction is None:  # no direction (a spread): a change, neither green nor red
        return ("0", "") if d == 0 else (f"{d:+.4g}", "")
    better = (d > 0) == (direction == "higher")
    return f"{d:+.4g}", "green" if better else "red"


def render_diff(
    console: Console,
    metrics: Diff,
    params: Diff | None = None,
    *,
    directions: Mapping[str, str] | None = None,
) -> None:
    """One table of metric changes (and one of params) to ``console``."""
    from rich.table import Table
    from rich.text import Text

    if not metrics and not params:
        console.print("No metrics or params changed.")
        return
    if metrics:
        table = Table(title="Metrics", title_justify="left")
        for col, justify in (("file", "left"), ("metric", "left"), ("baseline", "right"),
                             ("candidate", "right"), ("change", "right")):  # fmt: skip
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for file, changes in metrics.files.items():
            for key, c in changes.items():
                direction = change_direction(key, file=file, directions=directions)
                text, style = _change(c.diff, direction)
                table.add_row(
                    Text(file), Text(key), _num(c.old), _num(c.new), Text(text, style=style)
                )
        console.print(table)
    if params:
        ptable = Table(title="Params", title_justify="left")
        for col in ("file", "param", "baseline", "candidate"):
            ptable.add_column(col)
        for file, pchanges in params.files.items():
            for key, c in pchanges.items():
                ptable.add_row(Text(file), Text(key), Text(_num(c.old)), Text(_num(c.new)))
        console.print(ptable)


def _plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, ["-" * w for w in widths], *rows]]  # fmt: skip
    return "\n".join(lines) + "\n"


def plain_diff(metrics: Diff, params: Diff | None = None) -> str:
    """The diff as plain text (what ``mlgate diff`` prints into a pipe)."""
    if not metrics and not params:
        return "No metrics or params changed.\n"
    parts = []
    if metrics:
        rows = [
            [file, key, _num(c.old), _num(c.new), _change(c.diff, None)[0]]
            for file, changes in metrics.files.items()
            for key, c in changes.items()
        ]
        parts.append(_plain_table(["Path", "Metric", "Baseline", "Candidate", "Change"], rows))
    if params:
        rows = [
            [file, key, _num(c.old), _num(c.new)]
            for file, changes in params.files.items()
            for key, c in changes.items()
        ]
        parts.append(_plain_table(["Path", "Param", "Baseline", "Candidate"], rows))
    return "\n".join(parts)


def print_diff(
    metrics: Diff,
    params: Diff | None = None,
    *,
    directions: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> None:
    """rich tables on a terminal, plain text otherwise."""
    out = sys.stdout if stream is None else stream
    if not out.isatty():
        out.write(plain_diff(metrics, params))
        return
    from rich.console import Console

    render_diff(Console(file=out), metrics, params, directions=directions)


def print_gate(result: GateResult, *, stream: TextIO | None = None) -> None:
    """The gate's lines: rich on a terminal, plain text otherwise."""
    out = sys.stdout if stream is None else stream
    if not out.isatty():
        out.write(plain_gate(result))
        return
    from rich.console import Console

    render_gate(Console(file=out), result)


def plain_gate(result: GateResult) -> str:
    """One line per check: status, metric, check, baseline, candidate, limit and why."""
    base = result.baseline.short if result.baseline else "none"
    cand = result.candidate.short + (
        " (working tree)" if result.candidate.rev == "workspace" else ""
    )
    lines = [f"baseline {base} -> candidate {cand}; policy from {result.policy_from}"]
    lines += [f"note: {n}" for n in result.notes]
    rows = [
        [
            r.status + (" (near miss)" if r.near_miss else ""),
            r.metric + (f" [{r.slice}]" if r.slice else ""),
            r.check,
            _num(r.baseline),
            _num(r.candidate),
            _num(r.limit),
            r.message,
        ]
        for r in result.rules
    ]
    text = "\n".join(lines) + "\n"
    if rows:
        header = ["status", "metric", "check", "baseline", "candidate", "limit", "why"]
        text += _plain_table(header, rows)
    return text + f"gate: {result.verdict}\n"


def render_gate(console: Console, result: GateResult) -> None:
    """One line per check (metric, values, limit, status, why), then the verdict."""
    from rich.table import Table
    from rich.text import Text

    base = result.baseline.short if result.baseline else "none"
    cand = result.candidate.short + (
        " (working tree)" if result.candidate.rev == "workspace" else ""
    )
    console.print(f"baseline {base} -> candidate {cand}; policy from {result.policy_from}")
    for note in result.notes:
        console.print(Text(f"note: {note}", style="dim"))
    if result.rules:
        table = Table(show_edge=False)
        for col in ("status", "metric", "check", "baseline", "candidate", "limit", "why"):
            right = col in ("baseline", "candidate", "limit")
            table.add_column(col, justify="right" if right else "left")
        for r in result.rules:
            metric = r.metric + (f" [{r.slice}]" if r.slice else "")
            status = r.status + (" (near miss)" if r.near_miss else "")
            table.add_row(
                Text(status, style=STYLES[r.status]),
                Text(metric),
                Text(r.check),
                _num(r.baseline),
                _num(r.candidate),
                _num(r.limit),
                Text(r.message),
            )
        console.print(table)
    style = "bold green" if result.passed else "bold red"
    console.print(Text(f"gate: {result.verdict}", style=style))
