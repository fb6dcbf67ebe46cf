"""YAML loading and the typed reader that validates every configuration section once.

Errors read like ``params.yaml: train.C: expected a number, got "ten"`` so a user knows
the file, the key and what to write instead.

Each feature parses its own section of ``params.yaml`` with a :class:`Section`:

>>> s = Section({"C": 1.0}, file="params.yaml", where="train")
>>> s.number("C")
1.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import yaml

from mlgate.errors import ConfigError

PARAMS_FILE = "params.yaml"

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Loader):  # type: ignore[misc]
    """Safe loader that rejects duplicate mapping keys (PyYAML keeps the last silently)."""


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return dict(loader.construct_mapping(node, deep=deep))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def loads_yaml(text: str | bytes, source: str) -> Any:
    """Parse YAML with the safe loader; errors name ``source`` and the line."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from exc


def read_yaml(path: str | os.PathLike[str]) -> Any:
    from mlgate.fileio import read_file

    return loads_yaml(read_file(path, error=ConfigError), str(path))


def dumps_yaml(obj: Any) -> str:
    return str(yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True))


def load_params(path: str | os.PathLike[str] = PARAMS_FILE) -> Section:
    """Read ``params.yaml`` into a root :class:`Section`."""
    data = read_yaml(path)
    if data is None:
        data = {}
    return Section.root(data, file=str(path))


_MISSING: Any = object()


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "nothing"
    return repr(value)


class Section:
    """A mapping from a config file with typed, validated accessors.

    ``where`` is the dotted path of this section (``gate.rules[1]``), used in messages.
    """

    def __init__(self, data: Any, *, file: str, where: str) -> None:
        if not isinstance(data, dict):
            self._fail_at(file, where, f"expected a mapping, got {_show(data)}")
        self.data: dict[str, Any] = data
        self.file = file
        self.where = where

    @classmethod
    def root(cls, data: Any, *, file: str) -> Section:
        return cls(data, file=file, where="")

    @staticmethod
    def _fail_at(file: str, where: str, message: str) -> NoReturn:
        prefix = f"{file}: {where}: " if where else f"{file}: "
        raise ConfigError(prefix + message)

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, message: str) -> NoReturn:
        self._fail_at(self.file, self.path(key), message)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> list[str]:
        return [str(k) for k in self.data]

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is _MISSING:
            self.fail(key, "missing; add it (see README)")
        return default

    def check_keys(self, allowed: Sequence[str]) -> None:
        """Reject keys this section does not know (catches typos such as ``max_regresion``)."""
        for key in self.data:
            if key not in allowed:
                self.fail(str(key), f"unknown key; expected one of {', '.join(allowed)}")

    def number(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, f"expected a number, got {_show(value)}")
        value = float(value)
        if not math.isfinite(value):
            self.fail(key, f"expected a finite number, got {value}")
        if min is not None and value < min:
            self.fail(key, f"must be >= {min:g}, got {value:g}")
        if max is not None and value > max:
            self.fail(key, f"must be <= {max:g}, got {value:g}")
        return value

    def optional_number(
        self, key: str, *, min: float | None = None, max: float | None = None
    ) -> float | None:
        if key not in self.data or self.data[key] is None:
            return None
        return self.number(key, min=min, max=max)

    def integer(
        self, key: str, default: Any = _MISSING, *, min: int | None = None, max: int | None = None
    ) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected a whole number, got {_show(value)}")
        if min is not None and value < min:
            self.fail(key, f"must be >= {min}, got {value}")
        if max is not None and value > max:
            self.fail(key, f"must be <= {max}, got {value}")
        return value

    def string(
        self, key: str, default: Any = _MISSING, *, choices: Sequence[str] | None = None
    ) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected text, got {_show(value)}")
        if choices is not None and value not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}, got {_show(value)}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_show(value)}")
        return value

    def strings(self, key: str, default: Any = _MISSING) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, f"expected a list of text, got {_show(value)}")
        return list(value)

    def numbers(self, key: str, default: Any = _MISSING) -> list[float]:
        value = self._get(key, default)
        ok = isinstance(value, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        )
        if not ok:
            self.fail(key, f"expected a list of numbers, got {_show(value)}")
        return [float(v) for v in value]

    def section(self, key: str, default: Any = _MISSING) -> Section:
        value = self._get(key, default)
        return Section(value, file=self.file, where=self.path(key))

    def optional_section(self, key: str) -> Section | None:
        if key not in self.data or self.data[key] is None:
            return None
        return self.section(key)

    def sections(self, key: str, default: Any = _MISSING) -> Iterator[Section]:
        value = self._get(key, default)
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {_show(value)}")
        for i, item in enumerate(value):
            yield Section(item, file=self.file, where=f"{self.path(key)}[{i}]")
