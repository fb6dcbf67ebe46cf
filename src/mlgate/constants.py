"""Constants and fixed vocabularies shared across mlgate's packages (one home each).

A value used by two packages lives here; a value private to one module stays there.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Which way a metric is better (``params.yaml: gate.rules[].direction``, the verdict JSON).
Direction = Literal["higher", "lower"]
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)

#: A column's type, as schema files spell it (``data/schema.yaml``: ``dtype: integer``) and as
#: the server checks request values against it: one vocabulary for data/ and serve/.
Dtype = Literal["integer", "float", "string", "boolean"]
DTYPES: tuple[Dtype, ...] = get_args(Dtype)
NUMERIC_DTYPES: frozenset[Dtype] = frozenset({"integer", "float"})
#: Short spellings older code used for serving columns, read as the names above.
DTYPE_ALIASES: dict[str, Dtype] = {"int": "integer", "bool": "boolean", "str": "string"}

#: The hidden HTML comment that identifies mlgate's report comment on a pull request (the
#: report's first line; the comment clients find their earlier comment by it).
REPORT_MARKER = "<!-- mlgate-report -->"
#: The first line of ``mlgate ct``'s report (the pull request body, the step summary).
CT_REPORT_MARKER = "<!-- mlgate-ct-report -->"
#: GitHub answers 422 "Body is too long (maximum is 65536 characters)" beyond this, for
#: comments and pull request bodies alike.
GITHUB_COMMENT_LIMIT = 65_536

#: Where the reference pipeline writes what the gate and the report read (``gate:`` keys of
#: ``params.yaml`` override each).
DEFAULT_METRICS_FILE = "metrics/scores.json"
DEFAULT_SLICES_FILE = "metrics/slices.json"
PREDICTIONS_FILE = "metrics/predictions.csv"
BOOTSTRAP_FILE = "metrics/bootstrap.json"
VALIDATION_FILE = "metrics/validation.json"
