"""Record: the frozen-dataclass behaviour of the values on mlgate diff's start-up path."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from mlgate.git import Repo
from mlgate.metrics import Change, Diff, RevisionMetrics
from mlgate.metrics.layout import Artifact, Layout, LockedOut


def test_records_compare_hash_and_print_like_frozen_dataclasses() -> None:
    out = LockedOut("eval", "a" * 32 + ".dir")
    assert out == LockedOut(path="eval", md5="a" * 32 + ".dir", legacy=False)
    assert out != LockedOut("eval", "a" * 32 + ".dir", True)
    assert out != ("eval", "a" * 32 + ".dir", False)  # not a tuple
    assert hash(out) == hash(LockedOut("eval", "a" * 32 + ".dir"))
    assert repr(Change(1, 2.5)) == "Change(old=1, new=2.5)"
    assert out.is_dir and Change(1, 2.5).diff == 1.5
    assert {Artifact("m", "models/m.pkl"): 1}[Artifact("m", "models/m.pkl", None)] == 1
    assert Layout() == Layout((), (), (), ()) and Layout().metrics == ()


def test_records_are_frozen() -> None:
    change = Change(1, 2)
    with pytest.raises(AttributeError, match="cannot assign to field 'old' of Change"):
        change.old = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del change.new  # type: ignore[misc]
    with pytest.raises(AttributeError):
        change.other = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        Change(1)  # type: ignore[call-arg]


def test_records_copy_and_pickle() -> None:
    layout = Layout(("m.json",), (LockedOut("eval", "0" * 32),), ("dvc.yaml",))
    assert copy.deepcopy(layout) == layout and copy.copy(layout) == layout
    assert pickle.loads(pickle.dumps(layout)) == layout
    repo = Repo(Path("/tmp"), {"A": "1"})
    assert copy.copy(repo) == repo and copy.copy(repo).env == {"A": "1"}


def test_defaults_are_not_shared() -> None:
    a, b = RevisionMetrics("HEAD"), RevisionMetrics("HEAD")
    assert a.values == {} and a.errors == {} and a == b
    assert a.values is not b.values
    assert Diff({}) == Diff({}) and not Diff({"m.json": {}})
