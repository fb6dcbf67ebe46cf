"""``Record``: the base of the small immutable values on ``mlgate diff``'s start-up path.

They behave as ``@dataclass(frozen=True)`` classes do (keyword or positional construction,
equality and hashing by their fields in order, ``Name(field=value, ...)`` as repr, no
assignment after ``__init__``), without the cost: importing ``dataclasses`` loads
``inspect`` (about 7 ms) and each class compiles its generated methods (about 1 ms), which
is a tenth of a whole ``mlgate diff``. A subclass lists its fields in ``__slots__`` (the
order of ``__init__``'s arguments) as ``_fields = (...)`` then ``__slots__ = _fields``,
annotates them, and writes ``__init__`` calling :meth:`Record._init` with the values in
that order.
"""

from __future__ import annotations

from typing import Any


class Record:
    """An immutable value with the fields named in ``_fields``."""

    _fields: tuple[str, ...] = ()
    __slots__ = ()

    def _init(self, *values: Any) -> None:
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of {type(self).__name__}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # copy and pickle call __init__
        return self.__class__, self._values()
