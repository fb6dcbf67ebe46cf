"""Constants and fixed vocabularies shared across mlgate's packages (one home each).

A value used by two packages lives here; a value private to one module stays there.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Which way a metric is better (``params.yaml: gate.rules[].direction``, the verdict JSON).
Direction = Literal["higher", "lower"]
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
