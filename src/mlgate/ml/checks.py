"""The validate stage's column check (the full validation engine replaces it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def expected_columns() -> dict[str, str]:
    """Column name -> dtype kind ('i' integer, 'f' float) of the reference dataset."""
    from mlgate.ml.dataset import load_reference

    return {c: t.kind for c, t in load_reference().dtypes.items()}


def check_columns(frame: pd.DataFrame, *, source: str) -> list[str]:
    """One message per missing column or column of the wrong dtype; empty when all is well."""
    problems = []
    kinds = {"i": "integer", "f": "float", "O": "text", "b": "boolean"}
    for column, kind in expected_columns().items():
        if column not in frame.columns:
            problems.append(f"{source}: column {column!r} is missing; add it back to the data")
            continue
        actual = frame[column].dtype.kind
        ok = actual == kind or (kind == "f" and actual == "i")
        if not ok:
            problems.append(
                f"{source}: column {column!r} has dtype {frame[column].dtype}, expected "
                f"{kinds.get(kind, kind)}; fix the values in that column"
            )
    return problems
