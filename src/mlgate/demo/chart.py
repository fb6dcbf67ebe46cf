"""Production metrics over the CT cycles: a PNG (matplotlib, Agg) and a terminal chart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.ct.monitoring import Record

METRICS = ("roc_auc", "f1", "accuracy")


def write_png(records: list[Record], path: Path) -> Path:
    """One line per metric, one point per cycle, labelled with the live version."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    xs = list(range(1, len(records) + 1))
    for name in METRICS:
        ax.plot(xs, [r.metrics.get(name, float("nan")) for r in records], marker="o", label=name)
    ax.set_xticks(xs, [f"{r.batch.rsplit('.', 1)[0]}\n{r.version}" for r in records])
    ax.set_ylim(0.5, 1.02)
    ax.set_ylabel("score on the batch's held-out rows")
    ax.set_title("Production model on each new batch (metrics/monitoring.json)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def terminal_lines(records: list[Record], *, metric: str = "f1", width: int = 40) -> list[str]:
    """A horizontal bar per cycle: ``batch_001 v1.1.0 ██████████░░ 0.750``."""
    lo = 0.5
    out = []
    for r in records:
        value = r.metrics.get(metric, 0.0)
        filled = max(0, min(width, round((value - lo) / (1 - lo) * width)))
        bar = "█" * filled + "░" * (width - filled)
        out.append(f"{r.batch.rsplit('.', 1)[0]:<10} {r.version:<7} {bar} {metric} {value:.3f}")
    return out
