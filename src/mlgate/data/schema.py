"""The data schema: what every column must look like, as readable YAML a person reviews.

A schema file (``data/schema.yaml``)::

    version: 1
    rows: {min: 100, max: 100000}      # expected row-count range (either may be null)
    extra_columns: fail                # fail | warn | ignore columns the schema does not list
    columns:
      row_id:     {dtype: integer, unique: true, min: 0}
      mean_area:  {dtype: float, min: 0, max: 2700}
      color:      {dtype: string, nullable: true, max_null_fraction: 0.05,
                   allowed: [red, green]}

Checks per column: ``dtype`` (integer, float, string, boolean), ``nullable`` (default false),
``max_null_fraction``, ``min``, ``max``, ``allowed``, ``unique``. Any other key is an error,
so a typo never silently disables a check.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from mlgate.config import Section, loads_yaml
from mlgate.constants import DTYPES, NUMERIC_DTYPES, Dtype
from mlgate.errors import ConfigError

CHECKS = ("dtype", "nullable", "max_null_fraction", "min", "max", "allowed", "unique")
EXTRA_COLUMNS = ("fail", "warn", "ignore")

Allowed = tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class ColumnSchema:
    """The checks of one column; ``None`` means "not checked"."""

    name: str
    dtype: Dtype
    nullable: bool = False
    max_null_fraction: float | None = None
    min: float | None = None
    max: float | None = None
    allowed: Allowed | None = None
    unique: bool = False

    @property
    def numeric(self) -> bool:
        return self.dtype in NUMERIC_DTYPES


@dataclass(frozen=True)
class Schema:
    """All columns (in file order), the row-count range and the policy for extra columns."""

    columns: dict[str, ColumnSchema] = field(default_factory=dict)
    min_rows: int | None = None
    max_rows: int | None = None
    extra_columns: str = "fail"


def _column(name: str, s: Section) -> ColumnSchema:
    for key in s.data:
        if key not in CHECKS:
            s.fail(key, f"unknown check; expected one of {', '.join(CHECKS)}")
    dtype = cast("Dtype", s.string("dtype", choices=DTYPES))  # one of DTYPES: checked
    lo = s.optional_number("min")
    hi = s.optional_number("max")
    if lo is not None and hi is not None and lo > hi:
        s.fail("min", f"min {lo:g} is above max {hi:g}")
    if (lo is not None or hi is not None) and dtype not in NUMERIC_DTYPES:
        s.fail("min" if lo is not None else "max", f"min/max need a numeric dtype, not {dtype}")
    allowed: Allowed | None = None
    if "allowed" in s and s.data["allowed"] is not None:
        raw = s.data["allowed"]
        if raw == []:
            s.fail("allowed", "is empty; list the values or remove the check")
        texts = dtype == "string" and all(isinstance(v, str) for v in raw or [0])
        ints = dtype == "integer" and all(type(v) is int for v in raw or [""])
        if isinstance(raw, list) and (texts or ints):
            allowed = tuple(raw)
        else:
            s.fail("allowed", f"expected a list of {dtype} values for a {dtype} column")
    nullable = s.boolean("nullable", False)
    fraction = s.optional_number("max_null_fraction", min=0.0, max=1.0)
    if fraction is not None and not nullable:
        s.fail("max_null_fraction", "needs nullable: true")
    return ColumnSchema(
        name=name,
        dtype=dtype,
        nullable=nullable,
        max_null_fraction=fraction,
        min=lo,
        max=hi,
        allowed=allowed,
        unique=s.boolean("unique", False),
    )


def _optional_int(s: Section, key: str) -> int | None:
    if key not in s or s.data[key] is None:
        return None
    return s.integer(key, min=0)


def parse_schema(data: Any, *, source: str) -> Schema:
    """Validate a parsed YAML document; errors name ``source`` and the key."""
    root = Section.root(data, file=source)
    root.check_keys(["version", "rows", "extra_columns", "columns"])
    if root.integer("version", 1) != 1:
        root.fail("version", "unsupported schema version; expected 1")
    rows = root.optional_section("rows")
    min_rows = max_rows = None
    if rows is not None:
        rows.check_keys(["min", "max"])
        min_rows = _optional_int(rows, "min")
        max_rows = _optional_int(rows, "max")
        if min_rows is not None and max_rows is not None and min_rows > max_rows:
            rows.fail("min", f"min {min_rows} is above max {max_rows}")
    columns_section = root.section("columns")
    if not columns_section.keys():
        root.fail("columns", "no columns; run `mlgate schema infer DATA` to write them")
    columns = {name: _column(name, columns_section.section(name)) for name in columns_section.data}
    return Schema(
        columns=columns,
        min_rows=min_rows,
        max_rows=max_rows,
        extra_columns=root.string("extra_columns", "fail", choices=EXTRA_COLUMNS),
    )


def load_schema(path: str | os.PathLike[str]) -> Schema:
    """Read and validate a schema YAML file (ConfigError, exit code 2, when invalid)."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{p}: schema not found; write one with `mlgate schema infer DATA -o {p}`"
        ) from exc
    return parse_schema(loads_yaml(text, str(p)), source=str(p))


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return repr(int(value))
        text = repr(value)  # YAML 1.1 (PyYAML) reads 1e-07 as text: it needs 1.0e-07
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML scalar


HEADER = """\
# Data schema for mlgate validate (written by `mlgate schema infer`, then reviewed by a person).
# Per column: dtype (integer | float | string | boolean), nullable (default false),
# max_null_fraction, min, max, allowed (values), unique. Unknown keys are errors.
# Inferred bounds: min 0 when no value was negative, else the observed min widened by 10% of
# the range; max the observed max widened by 10%. Set them to what the domain allows, then
# commit. rows: the expected row-count range. extra_columns: fail | warn | ignore.
"""


def dump_schema(schema: Schema) -> str:
    """The schema as commented YAML, one block per column, in a stable order."""
    lines = [HEADER.rstrip("\n"), "version: 1"]
    lines.append(f"rows: {{min: {_scalar(schema.min_rows)}, max: {_scalar(schema.max_rows)}}}")
    lines.append(f"extra_columns: {schema.extra_columns}")
    lines.append("columns:")
    for col in schema.columns.values():
        lines.append(f"  {_scalar(col.name)}:")
        lines.append(f"    dtype: {col.dtype}")
        if col.nullable:
            lines.append("    nullable: true")
        if col.max_null_fraction is not None:
            lines.append(f"    max_null_fraction: {_scalar(col.max_null_fraction)}")
        if col.unique:
            lines.append("    unique: true")
        if col.min is not None and not math.isnan(col.min):
            lines.append(f"    min: {_scalar(col.min)}")
        if col.max is not None and not math.isnan(col.max):
            lines.append(f"    max: {_scalar(col.max)}")
        if col.allowed is not None:
            lines.append(f"    allowed: [{', '.join(_scalar(v) for v in col.allowed)}]")
    return "\n".join(lines) + "\n"
