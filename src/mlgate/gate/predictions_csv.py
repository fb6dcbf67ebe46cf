"""Read ``metrics/predictions.csv`` with pyarrow's streaming CSV reader (no pandas).

The file is parsed in blocks (:data:`BLOCK_BYTES`) on pyarrow's threads, and each block is
turned into compact numpy columns at once, so the parsed copy never exists twice: 0/1
labels and predictions become ``int8`` (other values stay ``float64``), scores ``float64``,
and ``row_id`` stays a pyarrow string column (10M ids of 7 characters: about 110 MB; as a
numpy string array they would take 280 MB). Uniqueness of ``row_id`` is proved by a cast to
integers that increase (the usual ``0..n-1``), else by hashing.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import numpy as np

from mlgate.errors import DataError

if TYPE_CHECKING:
    from mlgate.gate.stats import Predictions

COLUMNS = ("row_id", "y_true", "y_pred", "y_score")
BLOCK_BYTES = 8 << 20


def _header(data: bytes, source: str) -> list[str]:
    first = data[: data.find(b"\n") + 1 if b"\n" in data else len(data)]
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text") from exc
    header = next(csv.reader(io.StringIO(text)), None)
    if header is None or any(c not in header for c in COLUMNS):
        raise DataError(f"{source}: expected the columns {', '.join(COLUMNS)}")
    return header


def _compact(values: Any) -> Any:
    """A block's float64 values as ``int8`` when they are all 0 or 1."""
    if bool(((values == 0) | (values == 1)).all()):
        return values.astype(np.int8)
    return values


def _concat(blocks: list[Any]) -> Any:
    """One column from its blocks: ``int8`` if every block is, else ``float64``."""
    if not blocks:
        return np.empty(0)
    if all(b.dtype == np.int8 for b in blocks):
        return np.concatenate(blocks)
    return np.concatenate([b.astype(float) for b in blocks])


def _numbers(batch: Any, name: str, offset: int, source: str) -> Any:
    array = batch.column(name)
    bad = array.null_count > 0
    values = np.frombuffer(array.buffers()[1], dtype=np.float64)[
        array.offset : array.offset + len(array)
    ]
    finite = np.isfinite(values)
    if bad or not finite.all():
        valid = ~np.isnan(values) if not bad else _valid(array)
        row = int(np.flatnonzero(~(finite & valid))[0])
        line = offset + row + 2  # after the header; blank lines are not counted
        raise DataError(f"{source}: line {line}: expected finite numbers in {name}")
    return values


def read_predictions(data: bytes, source: str) -> Predictions:
    """``row_id,y_true,y_pred,y_score`` CSV -> :class:`~mlgate.gate.stats.Predictions`."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    from mlgate.gate.stats import Predictions

    _header(data, source)
    types = {"row_id": pa.string(), **{c: pa.float64() for c in COLUMNS[1:]}}
    # scores go straight into one buffer sized for the most rows the bytes can hold (a row
    # is at least ",0,0,0": 6 bytes); pages never written are never resident
    score = np.empty(len(data) // 6 + 1)
    try:
        reader = pacsv.open_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=list(COLUMNS), strings_can_be_null=False
            ),
            # malloc, not pyarrow's pool: freed blocks go back to the system
            memory_pool=pa.system_memory_pool(),
        )
        ids: list[Any] = []
        labels: dict[str, list[Any]] = {"y_true": [], "y_pred": []}
        rows = 0
        for batch in reader:
            ids.append(batch.column("row_id"))
            for name, blocks in labels.items():
                blocks.append(_compact(_numbers(batch, name, rows, source)))
            score[rows : rows + batch.num_rows] = _numbers(batch, "y_score", rows, source)
            rows += batch.num_rows
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in str(exc).upper():
            raise DataError(f"{source}: not UTF-8 text") from exc
        raise DataError(f"{source}: expected finite numbers ({exc})") from exc
    row_id = pa.chunked_array(ids, type=pa.string())
    _trim()
    if not _unique(row_id):
        raise DataError(f"{source}: row_id has duplicates; each row needs a unique id")
    return Predictions(
        row_id=row_id,
        y_true=_concat(labels["y_true"]),
        y_pred=_concat(labels["y_pred"]),
        y_score=score[:rows],
    )


def _unique(ids: Any) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        ints = pc.cast(ids, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ints = None
    if ints is not None and ints.null_count == 0:
        last, increasing = None, True
        for chunk in ints.chunks:  # integers that increase are distinct (the usual 0..n-1)
            v = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[
                chunk.offset : chunk.offset + len(chunk)
            ]
            if len(v) == 0:
                continue
            if (last is not None and v[0] <= last) or not bool((v[1:] > v[:-1]).all()):
                increasing = False
                break
            last = v[-1]
        if increasing:
            return True
    return bool(len(pc.unique(ids)) == len(ids))


def _valid(array: Any) -> Any:
    """The validity bitmap of a pyarrow array as a numpy bool array."""
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + len(array)].astype(bool)


def _trim() -> None:
    """Hand memory freed by the parse back to the system (glibc keeps it per thread arena:
    without this, about 200 MB more stays resident after reading 10M rows)."""
    import contextlib
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):  # not glibc: nothing to do
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
