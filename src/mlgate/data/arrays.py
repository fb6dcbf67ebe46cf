"""numpy views of pyarrow arrays without pandas.

``Array.to_numpy()``, ``pa.scalar`` and building arrays from Python objects import pandas in
pyarrow 26 (0.2-0.4 s per run), so the validate path reads the arrays' buffers directly
with ``np.frombuffer`` (zero copy) and unpacks validity bitmaps itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

Mask = np.ndarray[Any, np.dtype[np.bool_]]


def kind(t: pa.DataType) -> str:
    """The schema dtype name of an arrow type: integer, float, string, boolean, null or other."""
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_dictionary(t):
        return kind(t.value_type)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def _bits(buf: pa.Buffer, offset: int, length: int) -> Mask:
    raw = np.frombuffer(buf, dtype=np.uint8)
    bits = np.unpackbits(raw, count=offset + length, bitorder="little")[offset:]
    return bits.view(np.bool_)


def valid_mask(arr: pa.Array) -> Mask | None:
    """True where the value is present; None when the array has no nulls."""
    if arr.null_count == 0:
        return None
    if pa.types.is_null(arr.type):
        return np.zeros(len(arr), dtype=np.bool_)
    if isinstance(arr, pa.DictionaryArray):
        arr = arr.indices
    buf = arr.buffers()[0]
    if buf is None:
        return None
    return _bits(buf, arr.offset, len(arr))


def numbers(arr: pa.Array) -> np.ndarray[Any, Any]:
    """The values of an integer, float or boolean array (undefined where null)."""
    t = arr.type
    buf = arr.buffers()[1]
    if pa.types.is_boolean(t):
        return _bits(buf, arr.offset, len(arr))
    if pa.types.is_floating(t):
        dtype = np.dtype(f"float{t.bit_width}")
    elif pa.types.is_signed_integer(t):
        dtype = np.dtype(f"int{t.bit_width}")
    elif pa.types.is_unsigned_integer(t):
        dtype = np.dtype(f"uint{t.bit_width}")
    else:
        raise TypeError(f"not a numeric arrow type: {t}")
    return np.frombuffer(buf, dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def encoded(arr: pa.Array) -> tuple[np.ndarray[Any, Any], pa.Array]:
    """(codes, dictionary) of a string array: codes index the dictionary's values."""
    if not isinstance(arr, pa.DictionaryArray):
        arr = arr.dictionary_encode()
    return numbers(arr.indices), arr.dictionary


def bool_array(arr: pa.Array) -> Mask:
    """A compute result (boolean array) as a mask; nulls count as False."""
    values = numbers(arr)
    valid = valid_mask(arr)
    return values if valid is None else values & valid


def show(value: Any) -> str:
    """A value as text for examples in reports."""
    if value is None:
        return "null"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else f"{value:.1f}"
    return str(value)
