"""ROC and precision-recall curves from predictions, drawn as mermaid ``xychart-beta``.

GitHub renders mermaid blocks in comments and step summaries. An xychart line takes one y
value per x category, so each curve is sampled on a fixed grid: the ROC's true-positive
rate at each false-positive rate (the step function's highest point), and the
interpolated precision (best precision at recall >= r). Only numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GRID = tuple(i / 20 for i in range(21))
PALETTE = "#9e9e9e, #1f77b4"  # baseline grey, candidate blue


@dataclass(frozen=True)
class Curves:
    """ROC (tpr on :data:`GRID` of fpr) and PR (precision on the recall grid)."""

    roc: tuple[float, ...]
    pr: tuple[float, ...]


def curves(y_true: Any, y_score: Any) -> Curves | None:
    """Both curves sampled on :data:`GRID`; None when one class is absent."""
    import numpy as np

    from mlgate.ml.scoring import threshold_counts

    tp, fp = threshold_counts(y_true, y_score)
    pos, neg = tp[-1], fp[-1]
    if pos == 0 or neg == 0:
        return None
    fpr = np.r_[0.0, fp / neg]
    tpr = np.r_[0.0, tp / pos]
    recall = tp / pos
    precision = tp / (tp + fp)
    grid = np.array(GRID)
    roc = [float(tpr[fpr <= x + 1e-12].max()) for x in grid]
    pr = []
    for r in grid:
        ok = recall >= r - 1e-12
        pr.append(float(precision[ok].max()) if ok.any() else 0.0)
    return Curves(tuple(roc), tuple(pr))


def _line(values: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def mermaid(title: str, x_title: str, y_title: str, lines: list[tuple[float, ...]]) -> str:
    """One ``xychart-beta`` block with a line per series (baseline first)."""
    xs = ", ".join(f'"{x:g}"' for x in GRID)
    body = [
        "```mermaid",
        "---",
        "config:",
        "  xyChart:",
        "    width: 480",
        "    height: 300",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{PALETTE}"',
        "---",
        "xychart-beta",
        f'  title "{title}"',
        f'  x-axis "{x_title}" [{xs}]',
        f'  y-axis "{y_title}" 0 --> 1',
    ]
    body += [f"  line {_line(v)}" for v in lines]
    body.append("```")
    return "\n".join(body)
