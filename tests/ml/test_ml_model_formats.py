"""Loading a model: skops files only, against the allow-list; anything else is refused unread."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from mlgate.errors import DataError
from mlgate.ml.model import loads


class _Payload:
    """Unpickling this would create a file: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "unpickled!"))  # type: ignore[return-value]


def test_a_pickle_is_refused_with_the_way_to_convert_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = pickle.dumps(_Payload(marker))
    with pytest.raises(
        DataError, match=r"^models/model\.pkl: a pickle; mlgate loads only skops"
    ) as info:
        loads(data, "models/model.pkl")
    assert "skops.io.dump(model, 'model.skops')" in str(info.value)
    assert not marker.exists()


def test_other_bytes_are_not_a_skops_file() -> None:
    with pytest.raises(DataError, match=r"^m\.onnx: not a skops file; .* under `artifacts:`"):
        loads(b"\x08\x07onnx", "m.onnx")
