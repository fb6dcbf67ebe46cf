"""Property tests of the predictions reader (issue 22): any valid file of a task reads back
exactly; any one bad cell is reported with its file, column and line."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.errors import DataError
from mlgate.gate.stats import parse_predictions

CLASSES = ("a", "b-2", "c")
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9, width=32)
unit = st.floats(min_value=0, max_value=1, width=32)


@st.composite
def files(draw: st.DrawFn) -> tuple[str, list[str], list[list[str]]]:
    task = draw(st.sampled_from(["binary", "multiclass", "regression"]))
    weight = draw(st.booleans())
    n = draw(st.integers(1, 30))
    ids = draw(
        st.lists(st.text("xyz019", min_size=1, max_size=6), min_size=n, max_size=n, unique=True)
    )
    if task == "binary":
        head = ["row_id", "y_true", "y_pred", "y_score"]
        cols = [st.sampled_from(["0", "1"]), st.sampled_from(["0", "1"]), unit.map(repr)]
    elif task == "regression":
        head = ["row_id", "y_true", "y_pred"]
        cols = [finite.map(repr), finite.map(repr)]
    else:
        head = ["row_id", "y_true", "y_pred", *(f"score_{c}" for c in CLASSES)]
        cols = [st.sampled_from(CLASSES), st.sampled_from(CLASSES), *[unit.map(repr)] * 3]
    if weight:
        head.append("weight")
        cols.append(st.floats(min_value=0.5, max_value=10, width=32).map(repr))
    rows = [[i, *(draw(c) for c in cols)] for i in ids]
    return task, head, rows


def _csv(head: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [head, *rows]) + "\n").encode()


@settings(max_examples=150, deadline=None)
@given(files())
def test_a_valid_file_reads_back(f: tuple[str, list[str], list[list[str]]]) -> None:
    task, head, rows = f
    p = parse_predictions(_csv(head, rows), "p.csv")
    assert p.task == task and len(p) == len(rows)
    assert [str(x) for x in p.row_id.to_pylist()] == [r[0] for r in rows]
    if task == "multiclass":
        assert p.classes == CLASSES
        assert [CLASSES[i] for i in p.y_true] == [r[1] for r in rows]
        np.testing.assert_array_equal(p.scores, [[float(x) for x in r[3:6]] for r in rows])
    else:
        np.testing.assert_array_equal(p.y_true, [float(r[1]) for r in rows])
        np.testing.assert_array_equal(p.y_pred, [float(r[2]) for r in rows])
    if "weight" in head:
        np.testing.assert_array_equal(p.weight, [float(r[-1]) for r in rows])
    else:
        assert p.weight is None


bad_numbers = st.sampled_from(["x", "", "nan", "inf", "-inf", "1e999", "n/a", "1,5"])


@settings(max_examples=150, deadline=None)
@given(files(), st.data())
def test_one_bad_cell_is_named(
    f: tuple[str, list[str], list[list[str]]], data: st.DataObject
) -> None:
    task, head, rows = f
    row = data.draw(st.integers(0, len(rows) - 1))
    col = data.draw(st.integers(1, len(head) - 1))
    name = head[col]
    if task == "multiclass" and name in ("y_true", "y_pred"):
        value = data.draw(st.sampled_from(["d", "A", ""]))
    else:
        value = data.draw(bad_numbers)
    if value == "1,5":
        value = '"1,5"'  # a quoted comma: one cell, not a number
    rows[row][col] = value
    with pytest.raises(DataError) as err:
        parse_predictions(_csv(head, rows), "p.csv")
    message = str(err.value)
    assert message.startswith(f"p.csv: line {row + 2}: column {name}: "), message
    assert "\n" not in message
    if name not in ("y_true", "y_pred") or task != "multiclass":
        shown = value.strip('"')
        assert message.endswith(f"got {shown!r}" if shown else "got an empty cell"), message


def test_negative_weight_is_named() -> None:
    data = b"row_id,y_true,y_pred,weight\n1,1.0,2.0,1\n2,1.0,2.0,-0.5\n"
    with pytest.raises(
        DataError, match=re.escape("p.csv: line 3: column weight: expected a weight >= 0")
    ):
        parse_predictions(data, "p.csv")
    assert math.isclose(
        float(parse_predictions(data.replace(b"-0.5", b"0.5"), "p").weight.sum()), 1.5
    )
