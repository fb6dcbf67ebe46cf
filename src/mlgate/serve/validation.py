"""Request validation: JSON rows checked against the served version's column schema.

Pure functions over bytes and values, so they are unit-tested without a server. The schema
comes from ``data/schema.yaml`` at the served commit (through ``mlgate.data.schema``), reduced
here to what a request needs: the model's feature columns, in the model's order, each with a
type, whether it may be null and, for categories, the allowed values.

Observed ``min``/``max`` of the training data are not enforced here: a value outside the
training range is drift (reported by validation and monitoring), not a malformed request.

The fast path matters (see PERFORMANCE.md): a body is parsed by orjson (a C parser, about
six times the standard library's speed) when that is provably the strict parse's answer (no
duplicate key, no more objects than allowed; see :func:`parse_body`), and a 100-row request
is checked with a few C-level passes over all rows (``itemgetter``, a set of value types,
one numpy ``isfinite``); only a request that fails takes the slow paths that name the row
and column.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from mlgate.constants import DTYPE_ALIASES, NUMERIC_DTYPES, Dtype

try:  # a dependency of DVC's on CPython (and of mlgate[serve])
    import orjson as _orjson
except ImportError:  # pragma: no cover - the standard library's strict parse alone
    _orjson = None  # type: ignore[assignment]

NUMERIC = NUMERIC_DTYPES
_NUMBER_TYPES = frozenset({int, float})


@dataclass(frozen=True)
class Column:
    """One input column as a request must supply it."""

    name: str
    dtype: Dtype = "float"  # the schema file's vocabulary (mlgate.constants.Dtype)
    nullable: bool = False
    allowed: frozenset[Any] | None = None

    def __post_init__(self) -> None:
        # "int", "bool", "str": the spellings serving used before it shared data/'s
        alias = DTYPE_ALIASES.get(self.dtype)
        if alias is not None:
            object.__setattr__(self, "dtype", alias)


@dataclass(frozen=True)
class RequestSchema:
    """The columns a request row must have, in the order the model takes them."""

    columns: tuple[Column, ...]
    source: str
    names: tuple[str, ...] = field(init=False)
    _keys: frozenset[str] = field(init=False, repr=False)
    _fast: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = tuple(c.name for c in self.columns)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "_keys", frozenset(names))
        fast = all(
            c.dtype == "float" and not c.nullable and c.allowed is None for c in self.columns
        )
        object.__setattr__(self, "_fast", fast and bool(names))

    @property
    def numeric(self) -> bool:
        """Every column a non-null float: requests can become one float64 array."""
        return self._fast

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "columns": list(self.names)}


class InvalidRequest(Exception):
    """A request the server refuses: ``status`` (413 or 422) and a JSON-ready ``detail``."""

    def __init__(
        self, status: int, message: str, *, row: int | None = None, column: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail: dict[str, Any] = {"error": message}
        if row is not None:
            self.detail["row"] = row
        if column is not None:
            self.detail["column"] = column


class _DuplicateKey(InvalidRequest):
    """The strict parse met a repeated key (located by :func:`_locate`)."""


def _reject_constant(name: str) -> Any:
    raise InvalidRequest(422, f"{name} is not a finite number")


def _repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no repeated key")  # called only when dict(pairs) lost a pair


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        key = _repeated(pairs)
        raise _DuplicateKey(422, f"duplicate key {key!r}", column=key)
    return out


class _TooManyObjects(InvalidRequest):
    """The body holds more JSON objects than ``max_objects``: parsing stopped there."""


def _counting_pairs(limit: int) -> Any:
    """:func:`_pairs` that stops the parse at the ``limit + 1``-th object (rows are objects,
    so the row limit holds while parsing, not after a body of any size was parsed)."""
    seen = 0

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal seen
        seen += 1
        if seen > limit:
            raise _TooManyObjects(
                413, f"more than {limit} JSON objects (one per row); the row limit is lower"
            )
        return _pairs(items)

    return pairs


_UNSURE: Any = object()  # _fast_parse: "take the strict parse"


def _counted_pairs(payload: object) -> int:
    """Key-value pairs of the top object and of the objects directly in its lists (rows,
    tensors): every pair a request normally holds, counted at C speed."""
    if type(payload) is not dict:
        return 0
    pairs = len(payload)
    for value in payload.values():
        if type(value) is list:
            pairs += sum([len(item) for item in value if type(item) is dict])
    return pairs


def _fast_parse(body: bytes, max_objects: int | None) -> Any:
    """orjson's parse of ``body`` when it is certainly the strict parse's, else :data:`_UNSURE`.

    orjson refuses NaN/Infinity literals and numbers beyond float range as the strict parse
    does (it then says why, naming the row) but keeps the last of repeated keys. Every pair
    of an object puts one ``:`` in the body outside strings, so when the body holds exactly
    as many ``:`` as the parsed objects counted by :func:`_counted_pairs` have pairs, no key
    was repeated (nor is there an object it did not count, nor a ``:`` in a string: those
    bodies take the strict parse). ``{`` counted the same way bounds the objects before the
    parse: a body that may hold more than ``max_objects`` takes the strict parse, which
    stops there.
    """
    if _orjson is None or (max_objects is not None and body.count(b"{") > max_objects):
        return _UNSURE
    try:
        payload = _orjson.loads(body)
    except _orjson.JSONDecodeError:
        return _UNSURE
    return payload if _counted_pairs(payload) == body.count(b":") else _UNSURE


def parse_body(body: bytes, *, max_objects: int | None = None) -> Any:
    """Strict JSON: no NaN/Infinity literals, no duplicate keys (``json.loads`` allows both).

    A refused literal or key names its row and column, like every other 422 (found by a
    second, lenient parse: only bodies that fail pay for it). With ``max_objects`` the parse
    stops with 413 at the object past it. Well-formed bodies are parsed by orjson
    (:func:`_fast_parse`); integers beyond 64 bits then come as their float value, which is
    what a model gets for them anyway.
    """
    fast = _fast_parse(body, max_objects)
    if fast is not _UNSURE:
        return fast
    hook = _pairs if max_objects is None else _counting_pairs(max_objects)
    try:
        return json.loads(body, object_pairs_hook=hook, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(422, f"body is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise InvalidRequest(422, "body is nested too deeply") from exc
    except _TooManyObjects:
        raise
    except InvalidRequest as exc:
        try:
            located = _locate(body, exc)
        except (RecursionError, ValueError):  # too deep, or a huge integer: the message alone
            located = exc
        raise located from None
    except ValueError as exc:  # an integer literal past Python's 4,300-digit conversion limit
        raise InvalidRequest(
            422, "a number in the body has too many digits (the limit is 4300)"
        ) from exc


class _Literal(float):
    """A ``NaN``/``Infinity`` literal, kept by the lenient parse to be found again."""

    literal = ""


class _Duplicated(dict[str, Any]):
    """An object with a repeated key (the first one repeated), kept by the lenient parse."""

    key = ""


def _keep_literal(name: str) -> _Literal:
    out = _Literal(name.replace("Infinity", "inf"))
    out.literal = name
    return out


def _keep_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    dup = _Duplicated(out)
    dup.key = _repeated(pairs)
    return dup


def _locate(body: bytes, exc: InvalidRequest) -> InvalidRequest:
    """``exc`` with the row and the column of the first row holding the refused literal or
    key (a value nested in a column counts for that column); ``exc`` when outside the rows."""
    payload = json.loads(body, object_pairs_hook=_keep_pairs, parse_constant=_keep_literal)
    rows = payload.get("rows") if isinstance(payload, dict) else None
    kind = _Duplicated if isinstance(exc, _DuplicateKey) else _Literal
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        if isinstance(row, _Duplicated) and kind is _Duplicated:
            return InvalidRequest(422, f"duplicate key {row.key!r}", row=i, column=row.key)
        for column, value in row.items() if isinstance(row, dict) else ():
            found = _find(value, kind)
            if isinstance(found, _Literal):
                message = f"{column}: {found.literal} is not a finite number"
                return InvalidRequest(422, message, row=i, column=column)
            if isinstance(found, _Duplicated):
                message = f"{column}: duplicate key {found.key!r}"
                return InvalidRequest(422, message, row=i, column=column)
        if _find(row, kind) is not None:
            return InvalidRequest(422, str(exc), row=i)
    return exc


def _find(value: Any, kind: type) -> Any:
    """The first ``kind`` in ``value`` (itself, or nested in lists and objects), or None."""
    if isinstance(value, kind):
        return value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        found = _find(child, kind)
        if found is not None:
            return found
    return None


def _check_value(col: Column, value: Any, row: int) -> Any:
    """One value against its column (the slow path); returns the value for the model."""
    if value is None:
        if col.nullable:
            return math.nan if col.dtype in NUMERIC else None
        raise InvalidRequest(422, f"{col.name} must not be null", row=row, column=col.name)
    kind = type(value)
    if col.dtype in NUMERIC:
        if kind not in _NUMBER_TYPES:
            raise InvalidRequest(
                422,
                f"{col.name}: expected a number, got {json.dumps(value)[:40]}",
                row=row,
                column=col.name,
            )
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise InvalidRequest(422, f"{col.name}: not a finite number", row=row, column=col.name)
        if col.dtype == "integer" and not number.is_integer():
            raise InvalidRequest(
                422, f"{col.name}: expected an integer, got {value}", row=row, column=col.name
            )
    elif col.dtype == "boolean":
        if kind is not bool:
            raise InvalidRequest(
                422, f"{col.name}: expected true or false", row=row, column=col.name
            )
    elif kind is not str:
        raise InvalidRequest(422, f"{col.name}: expected a string", row=row, column=col.name)
    if col.allowed is not None and value not in col.allowed:
        raise InvalidRequest(
            422,
            f"{col.name}: {json.dumps(value)[:40]} is not one of the allowed values",
            row=row,
            column=col.name,
        )
    return value


def _row_error(schema: RequestSchema, row: Any, index: int) -> InvalidRequest:
    """The first problem of a row that failed the fast path, naming row and column."""
    if not isinstance(row, dict):
        return InvalidRequest(422, "each row must be a JSON object", row=index)
    unknown = sorted(set(row) - schema._keys)
    if unknown:
        return InvalidRequest(422, f"unknown column {unknown[0]!r}", row=index, column=unknown[0])
    missing = [n for n in schema.names if n not in row]
    if missing:
        return InvalidRequest(422, f"missing column {missing[0]!r}", row=index, column=missing[0])
    for col in schema.columns:
        try:
            _check_value(col, row[col.name], index)
        except InvalidRequest as exc:
            return exc
    return InvalidRequest(422, "invalid row", row=index)  # not reached for a failing row


def validate_rows(
    payload: Any, schema: RequestSchema, *, max_rows: int, as_array: bool = False
) -> Any:
    """Check ``{"rows": [...]}`` and return the model input (a DataFrame in model order).

    With ``as_array`` an all-numeric schema gives a float64 array in model order instead
    (see :func:`mlgate.serve.fast.array_ready`): the columns are already checked.

    Raises :class:`InvalidRequest`: 413 above ``max_rows``, 422 naming row and column for
    unknown or missing columns, wrong types, nulls where not allowed and non-finite numbers.
    """
    import pandas as pd

    rows = _rows_of(payload, max_rows)
    names = schema.names
    if schema._fast:
        matrix = _fast_matrix(rows, schema)
        if as_array:
            return matrix
        return pd.DataFrame(matrix, columns=list(names), copy=False)
    return pd.DataFrame(_checked_columns(rows, schema), columns=list(names))


def _rows_of(payload: object, max_rows: int) -> list[Any]:
    """The ``rows`` list of a request body: 422 for another shape, 413 above ``max_rows``."""
    if not isinstance(payload, dict) or set(payload) != {"rows"}:
        raise InvalidRequest(422, 'body must be a JSON object {"rows": [{column: value, ...}]}')
    rows = payload["rows"]
    if not isinstance(rows, list) or not rows:
        raise InvalidRequest(422, '"rows" must be a non-empty list of objects')
    if len(rows) > max_rows:
        raise InvalidRequest(413, f"{len(rows)} rows; the limit is {max_rows} per request")
    return rows


def _fast_matrix(rows: list[Any], schema: RequestSchema) -> Any:
    """All-float schema: the rows as one float64 matrix, checked in bulk; a row that fails
    is checked again value by value for the 422 that names it."""
    keys, names = schema._keys, schema.names
    pick = itemgetter(*names)
    matrix = _bulk_matrix(rows, pick, len(names))
    if matrix is not None:
        return matrix
    values: list[Any] = []
    for i, row in enumerate(rows):
        if type(row) is not dict or row.keys() != keys:
            raise _row_error(schema, row, i)
        picked = pick(row)
        tup = picked if len(names) > 1 else (picked,)
        if not set(map(type, tup)) <= _NUMBER_TYPES:
            raise _row_error(schema, row, i)
        values.append(tup)
    try:
        matrix = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float range
        matrix = None
    if matrix is None or not np.isfinite(matrix).all():
        for i, row in enumerate(rows):
            for col in schema.columns:
                _check_value(col, row[col.name], i)
    return matrix


def _bulk_matrix(rows: list[Any], pick: itemgetter[Any], width: int) -> Any:
    """The float64 matrix of rows that are all well formed, in a few C-level passes; None
    for anything else (then checked row by row). Every row is a dict of ``width`` keys that
    has every column (``pick`` found them all), so exactly the schema's keys."""
    if set(map(type, rows)) != {dict} or sum(map(len, rows)) != width * len(rows):
        return None
    try:
        picked = list(map(pick, rows))
    except KeyError:
        return None
    flat = itertools.chain.from_iterable(picked) if width > 1 else picked
    if not set(map(type, flat)) <= _NUMBER_TYPES:
        return None
    try:
        matrix = np.array(picked, dtype=np.float64)
    except OverflowError:  # an integer beyond float range
        return None
    if width == 1:
        matrix = matrix.reshape(len(rows), 1)
    return matrix if np.isfinite(matrix).all() else None


def _checked_columns(rows: list[Any], schema: RequestSchema) -> dict[str, list[Any]]:
    """Any other schema: each value checked against its column, gathered column-wise."""
    keys = schema._keys
    data: dict[str, list[Any]] = {n: [] for n in schema.names}
    for i, row in enumerate(rows):
        if type(row) is not dict or row.keys() != keys:
            raise _row_error(schema, row, i)
        for col in schema.columns:
            data[col.name].append(_check_value(col, row[col.name], i))
    return data


def _dtype_kind(dtype: str) -> Dtype:
    d = dtype.lower()
    if d.startswith(("float", "double", "number", "numeric")):
        return "float"
    if d.startswith(("int", "uint", "integer")):
        return "integer"
    if d.startswith("bool"):
        return "boolean"
    return "string"


def from_schema_columns(
    features: Iterable[str], columns: Mapping[str, Any], *, source: str
) -> RequestSchema:
    """A :class:`RequestSchema` for the model's ``features`` from ``Schema.columns``.

    ``columns`` maps name -> a column schema with ``dtype``, ``nullable`` and allowed
    values (``allowed``/``values``); a feature missing from it is a :class:`ValueError`
    (the candidate is rejected: its schema and its model disagree).
    """
    out = []
    for name in features:
        if name not in columns:
            raise ValueError(f"{source}: no column {name!r}, which the model needs")
        spec = columns[name]
        allowed = getattr(spec, "allowed", None)
        if allowed is None:
            allowed = getattr(spec, "values", None)
        kind = _dtype_kind(str(getattr(spec, "dtype", "float")))
        out.append(
            Column(
                name=name,
                # a model takes floats: an int column still accepts integral JSON numbers only
                dtype=kind,
                nullable=bool(getattr(spec, "nullable", False)),
                allowed=frozenset(allowed) if allowed else None,
            )
        )
    return RequestSchema(tuple(out), source)


def from_features(features: Iterable[str], *, source: str) -> RequestSchema:
    """Every feature a non-null finite number (when the served commit has no schema file)."""
    return RequestSchema(tuple(Column(name) for name in features), source)


def schema_to_json(schema: RequestSchema) -> dict[str, Any]:
    """``schema`` as JSON (for an inference worker that parses a body: see ``workers``)."""
    return {
        "source": schema.source,
        "columns": [
            [c.name, c.dtype, c.nullable, None if c.allowed is None else list(c.allowed)]
            for c in schema.columns
        ],
    }


def schema_from_json(data: Mapping[str, Any]) -> RequestSchema:
    """The :class:`RequestSchema` :func:`schema_to_json` wrote."""
    columns = tuple(
        Column(
            name=str(name),
            dtype=dtype,
            nullable=bool(nullable),
            allowed=None if allowed is None else frozenset(allowed),
        )
        for name, dtype, nullable, allowed in data["columns"]
    )
    return RequestSchema(columns, str(data["source"]))


def parse_request(
    route: str,
    body: bytes,
    schema: RequestSchema,
    *,
    max_rows: int,
    max_objects: int,
    as_array: bool,
) -> tuple[Any, dict[str, Any]]:
    """A request body's model input (:func:`validate_rows`) and what its answer needs from
    it: nothing for ``/predict`` (``route`` "predict"), the outputs asked for and the id for
    a V2 inference request ("v2", :func:`mlgate.serve.v2.parse_infer`). The same in the
    server and in an inference worker. Raises :class:`InvalidRequest`."""
    if route == "v2":
        from mlgate.serve.v2 import parse_infer

        return parse_infer(
            body, schema, max_rows=max_rows, max_objects=max_objects, as_array=as_array
        )
    payload = parse_body(body, max_objects=max_objects)
    return validate_rows(payload, schema, max_rows=max_rows, as_array=as_array), {}
