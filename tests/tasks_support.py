"""Seeded predictions files of each task for the gate's tests (issue 22).

``csv_of(task, rows, noise=..., seed=...)``: the same rows and labels for every ``seed``
(the eval set), predictions whose error grows with ``noise`` and whose randomness is
``seed``'s: two seeds at one noise are two equally good models, a larger noise a worse one.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("cat", "dog", "fox", "owl")


def multiclass(
    rows: int, *, noise: float, seed: int, weight: bool = False, classes: int = 4
) -> bytes:
    names = CLASSES[:classes] if classes <= len(CLASSES) else [f"c{i}" for i in range(classes)]
    y = np.random.default_rng(99).integers(0, classes, rows)
    rng = np.random.default_rng(seed)
    logits = 1.5 * np.eye(classes)[y] + np.random.default_rng(98).normal(size=(rows, classes))
    logits += noise * rng.normal(size=(rows, classes))
    s = np.exp(logits)
    s = np.round(s / s.sum(axis=1, keepdims=True), 6)  # rows sum to 1 within 3e-6
    pred = s.argmax(axis=1)
    loss = np.round(np.random.default_rng(seed + 7).exponential(size=rows) * (1 + noise), 3)
    w = np.round(np.random.default_rng(5).uniform(0.5, 2, rows), 3)
    head = ["row_id", "y_true", "y_pred", *(f"score_{c}" for c in names), "loss"]
    lines = [",".join(head + (["weight"] if weight else []))]
    for i in range(rows):
        cells = [f"r{i}", names[y[i]], names[pred[i]], *(f"{v:.6f}" for v in s[i]), f"{loss[i]}"]
        lines.append(",".join(cells + ([f"{w[i]}"] if weight else [])))
    return ("\n".join(lines) + "\n").encode()


def regression(rows: int, *, noise: float, seed: int, weight: bool = False) -> bytes:
    y = np.random.default_rng(99).normal(10, 3, rows)
    p = y + np.random.default_rng(98).normal(size=rows)
    p += noise * np.random.default_rng(seed).normal(size=rows)
    w = np.round(np.random.default_rng(5).uniform(0.5, 2, rows), 3)
    lines = ["row_id,y_true,y_pred" + (",weight" if weight else "")]
    lines += [f"r{i},{y[i]:.4f},{p[i]:.4f}" + (f",{w[i]}" if weight else "") for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def binary(rows: int, *, noise: float, seed: int, weight: bool = False) -> bytes:
    y = (np.random.default_rng(99).random(rows) < 0.4).astype(int)
    logit = 2.0 * (2 * y - 1) + np.random.default_rng(98).normal(size=rows)
    logit += noise * np.random.default_rng(seed).normal(size=rows)
    s = np.round(1 / (1 + np.exp(-logit)), 4)
    w = np.round(np.random.default_rng(5).uniform(0.5, 2, rows), 3)
    lines = ["row_id,y_true,y_pred,y_score" + (",weight" if weight else "")]
    lines += [
        f"r{i},{y[i]},{int(s[i] >= 0.5)},{s[i]:.4f}" + (f",{w[i]}" if weight else "")
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def csv_of(task: str, rows: int, *, noise: float, seed: int, weight: bool = False) -> bytes:
    make = {"binary": binary, "multiclass": multiclass, "regression": regression}[task]
    return make(rows, noise=noise, seed=seed, weight=weight)


#: Every metric of the table per task, as rules name them.
METRICS = {
    "binary": ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "pr_auc", "brier"],
    "multiclass": [
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "micro_f1",
        "precision.dog",
        "recall.fox",
        "log_loss",
        "roc_auc_ovr",
        "top_k_accuracy",
        "top_3_accuracy",
        "column:loss",
    ],
    "regression": ["rmse", "mae", "r2", "mape", "median_ae"],
}
