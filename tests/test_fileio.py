from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlgate.errors import DataError
from mlgate.fileio import atomic_open, loads_json, write_bytes, write_json, write_text


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": NaN}', "NaN is not a finite number"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": 1e999}', "overflows"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": ', "invalid JSON at line 1"),
    ],
)
def test_strict_json(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        loads_json(text, "HEAD:metrics/scores.json")


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "scores.json"
    write_text(target, "old")
    with pytest.raises(DataError):
        write_json(target, {"a": float("nan")})
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["scores.json"]
    # a failure while writing, with the file open: a lone surrogate has no UTF-8 encoding
    with pytest.raises(UnicodeEncodeError):
        write_text(target, "new" + "\ud800")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["scores.json"]


def test_atomic_open_failure_inside_the_block(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    write_bytes(target, b"old")
    with pytest.raises(RuntimeError, match="crash"), atomic_open(target, "wb") as handle:
        handle.write(b"new bytes")
        handle.flush()
        assert len(os.listdir(tmp_path)) == 2  # the temporary file, beside the target
        raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.bin"]
