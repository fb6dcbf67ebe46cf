"""Atomic writes and strict JSON: the only way mlgate writes files.

Every write goes to a temporary file in the target folder and is moved into place with
``os.replace`` (atomic on POSIX), so a crash never leaves a half-written file.
JSON is read strictly: duplicate keys and non-finite numbers (``NaN``, ``Infinity``,
``1e999``) are errors, because ``json.loads`` silently accepts all three.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from mlgate.errors import DataError, MlgateError


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success move it over ``path``."""
    import tempfile  # here, not at the top: read-only commands (`mlgate diff`) start faster

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def dumps_json(obj: Any) -> str:
    """Serialise with sorted keys off; refuses NaN and infinity (``allow_nan=False``)."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    try:
        text = dumps_json(obj)
    except ValueError as exc:  # NaN or infinity somewhere in obj
        raise DataError(f"{path}: refusing to write a non-finite number ({exc})") from exc
    write_text(path, text)


def _no_duplicates(source: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise DataError(f"{source}: duplicate key {key!r}; keep one of them")
            out[key] = value
        return out

    return hook


def _reject_constant(source: str) -> Any:
    def hook(name: str) -> float:
        raise DataError(f"{source}: {name} is not a finite number; write a real number")

    return hook


def _finite_float(source: str) -> Any:
    def hook(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise DataError(f"{source}: {text} overflows to infinity; write a finite number")
        return value

    return hook


def loads_json(text: str | bytes, source: str) -> Any:
    """Parse JSON strictly; errors name ``source`` (a path or ``REV:PATH``)."""
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates(source),
            parse_constant=_reject_constant(source),
            parse_float=_finite_float(source),
        )
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text ({exc.reason})") from exc


def read_file(
    path: str | os.PathLike[str], *, hint: str = "", error: type[MlgateError] = DataError
) -> bytes:
    """The bytes of ``path``; a missing file raises ``error`` naming it (and ``hint``)."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise error(f"{path}: file not found" + (f"; {hint}" if hint else "")) from exc


def read_json(path: str | os.PathLike[str]) -> Any:
    return loads_json(read_file(path), str(path))
