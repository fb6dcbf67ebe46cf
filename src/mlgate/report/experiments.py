"""``mlgate exp``: the ranked experiments as a terminal table or Markdown, and the next step."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from mlgate.report.escape import code, text

if TYPE_CHECKING:
    from mlgate.experiments import ExperimentVerdict, Ranking

_PARAMS_SHOWN = 3
_STYLES = {
    "pass": "green",
    "warn": "yellow",
    "inconclusive": "yellow",
    "fail": "red",
    "error": "red",
}


def _params(v: ExperimentVerdict) -> str:
    items = [f"{k}={c.new}" for k, c in v.params.items()]
    more = len(items) - _PARAMS_SHOWN
    return ", ".join(items[:_PARAMS_SHOWN]) + (f", +{more} more" if more > 0 else "") or "-"


def _metric(v: ExperimentVerdict, file: str, metric: str) -> str:
    if v.result is None:
        return "-"
    for m in v.result.metrics:
        if m.file == file and m.metric == metric and m.candidate is not None:
            change = f" ({m.change:+.4g})" if m.change is not None else ""
            return f"{m.candidate:.4g}{change}"
    return "-"


def _why(v: ExperimentVerdict) -> str:
    if v.error is not None:
        return v.error
    assert v.result is not None
    bad = v.result.failures or v.result.warnings
    return f"{bad[0].metric} {bad[0].check}: {bad[0].message}" if bad else ""


def rows(ranking: Ranking) -> tuple[list[str], list[list[str]]]:
    """Header and one row per experiment, best first (pure)."""
    header = ["experiment", "status", "params", *(m for _, m, _ in ranking.metrics), "why"]
    body = [
        [
            v.experiment.name,
            v.status,
            _params(v),
            *(_metric(v, f, m) for f, m, _ in ranking.metrics),
            _why(v),
        ]
        for v in ranking.verdicts
    ]
    return header, body


def next_step(ranking: Ranking) -> list[str]:
    """How to turn the best passing experiment into a pull request (mlgate pushes nothing)."""
    best = ranking.best
    if best is None:
        return ["No experiment passes the gate."]
    name = best.experiment.name
    return [
        f"Best passing experiment: {name}. To open a pull request with it:",
        f"  dvc exp branch {name} exp-{name}",
        f"  git push -u origin exp-{name}   # then open the PR; its workflow runs the gate",
    ]


def experiments_markdown(ranking: Ranking) -> str:
    """The table in Markdown (names and messages escaped), then the next step."""
    header, body = rows(ranking)
    lines = [
        f"### Experiments against `{ranking.baseline[:7]}`",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in body:
        name, status, params, *metrics, why = row
        cells = [code(name), f"**{status}**", code(params), *metrics, text(why)]
        lines.append("| " + " | ".join(cells) + " |")
    if not body:
        lines.append("| _no experiments_ |" + " |" * (len(header) - 1))
    steps = next_step(ranking)
    lines += [
        "",
        steps[0],
        *([("```bash"), *(s.strip() for s in steps[1:]), "```"] if len(steps) > 1 else []),
    ]
    return "\n".join(lines) + "\n"


def print_experiments(ranking: Ranking, out: TextIO | None = None) -> None:
    """A rich table on a terminal (status coloured), plain aligned text otherwise."""
    out = out or sys.stdout
    header, body = rows(ranking)
    steps = next_step(ranking)
    if not out.isatty():
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        for row in [header, *body]:
            out.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
            )
        out.write("\n".join(steps) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Experiments against {ranking.baseline[:7]}, best first")
    for col in header:
        table.add_column(col)
    for row in body:
        table.add_row(*row, style=_STYLES.get(row[1]))
    console = Console(file=out)
    console.print(table)
    console.print("\n".join(steps))
