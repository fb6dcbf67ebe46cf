"""Property: on generated DVC layouts and values, `mlgate diff --json` prints what DVC prints.

A layout is a few metrics files, each git-tracked or cached, declared at the top level of
``dvc.yaml``, by a stage, inside a cached directory output or through a metrics directory,
in JSON or YAML, at the root or in a folder (declared by the root's ``dvc.yaml`` or by the
folder's own). Each file holds one value per revision (mappings of floats with NaN and
infinities, ints, booleans, short strings, lists, nulls; a scalar; a list; malformed text;
or nothing). Two revisions are built with real DVC (``dvc repro`` for the stages) and
``mlgate diff v1 v2 --json`` (and ``--all``) must equal ``dvc metrics diff v1 v2 --json``.

Each example runs DVC five times (about 5 s), so the number of examples is small and
shrinking is off: a failure prints the whole example, and the layout tests in
tests/metrics/test_metrics_layouts.py name the cases one by one.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.metrics_layouts import (
    DEPS,
    assert_same,
    dvc_diff,
    dvc_project,
    dvc_yaml,
    mlgate_diff,
    snapshot,
)

#: git: top-level metrics, file in git; stage_git: a stage's metric with cache: false;
#: stage_cached: a stage's metric (cached, DVC's default); in_cached_dir: inside a cached
#: directory output, declared at the top level; in_git_dir: in a metrics directory in git.
KINDS = ("git", "stage_git", "stage_cached", "in_cached_dir", "in_git_dir")
#: Kinds whose file may be absent in a revision (a stage must produce its outputs).
MAY_BE_MISSING = ("git", "in_cached_dir", "in_git_dir")


class Odd(Enum):
    """File contents that are no value: absent in the revision, or not parseable."""

    MISSING = "missing"
    MALFORMED = "malformed"


MISSING, MALFORMED = Odd.MISSING, Odd.MALFORMED


@dataclass(frozen=True)
class MetricFile:
    kind: str
    fmt: str  # "json" or "yaml"
    folder: str  # "" or "sub/"
    nested: bool  # declared in sub/dvc.yaml (when it lives directly in sub/)

    @property
    def dvc_yaml_dir(self) -> str:
        """Where the dvc.yaml that declares this file is: "" (the root) or "sub/"."""
        direct = self.kind in ("git", "stage_git", "stage_cached")
        return "sub/" if self.nested and direct and self.folder == "sub/" else ""

    def path(self, index: int) -> str:
        name = f"{self.folder}m{index}.{self.fmt}"
        if self.kind == "in_cached_dir":
            return f"cdir/{name}"
        if self.kind == "in_git_dir":
            return f"gdir/{name}"
        return name


# -- values ----------------------------------------------------------------------------------
KEYS = st.sampled_from(["a", "b", "c", "acc"])  # few names, so revisions share keys
# Strings that read the same in YAML 1.1 (PyYAML) and 1.2 (DVC's ruamel) once PyYAML has
# quoted what it must: no letter "e" beside digits (1e3), no yes/no/on/off, no octals.
TEXT = st.text(alphabet="abxyz01 .", max_size=4)


def weighted(*options: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn with its weight."""
    pool = [strategy for weight, strategy in options for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


LEAF = weighted(
    (3, st.floats(allow_nan=True, allow_infinity=True)),
    (2, st.integers(min_value=-(10**20), max_value=10**20)),
    (1, st.booleans()),
    (1, TEXT),
    (1, st.none()),
)
TREE = st.recursive(
    LEAF,
    lambda inner: weighted(
        (3, st.dictionaries(KEYS, inner, max_size=3)), (1, st.lists(inner, max_size=2))
    ),
    max_leaves=6,
)
DOCUMENT = weighted(
    (6, st.dictionaries(KEYS, TREE, min_size=1, max_size=4)),
    (1, LEAF),  # a scalar file such as `0.25`
    (1, st.lists(LEAF, max_size=2)),
)


@st.composite
def contents(draw: st.DrawFn, kind: str) -> tuple[Any, Any]:
    """The file's content at v1 and v2: often one value changed, sometimes odd."""
    odd = [(1, st.just(MALFORMED))] + ([(1, st.just(MISSING))] if kind in MAY_BE_MISSING else [])
    one = weighted((8, DOCUMENT), *odd)
    old = draw(one)
    how = draw(st.sampled_from(["same", "tweak", "tweak", "fresh"]))
    if how == "same":
        return old, old
    if how == "tweak" and isinstance(old, dict):
        key = draw(KEYS)
        return old, {**old, key: draw(TREE)}
    return old, draw(one)


@st.composite
def layouts(draw: st.DrawFn) -> list[tuple[MetricFile, tuple[Any, Any]]]:
    files = draw(
        st.lists(
            st.builds(
                MetricFile,
                kind=st.sampled_from(KINDS),
                fmt=st.sampled_from(["json", "yaml"]),
                folder=st.sampled_from(["", "sub/"]),
                nested=st.booleans(),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return [(f, draw(contents(f.kind))) for f in files]


def render(fmt: str, value: Any) -> str | None:
    """A file's text; YAML through PyYAML's safe dumper (`.nan`, `.inf`, `1.0e+20`)."""
    if value is MISSING:
        return None
    if value is MALFORMED:
        return '{"a": 1' if fmt == "json" else "a: [1\n"
    if fmt == "json":
        return json.dumps(value)
    return yaml.safe_dump(value, default_flow_style=False)


# -- the project -----------------------------------------------------------------------------
def dvc_doc(files: list[tuple[MetricFile, str]], where: str) -> dict[str, Any]:
    """The ``dvc.yaml`` in folder ``where`` ("" or "sub/") for the files it declares."""
    up = "../" * where.count("/")  # a stage runs in its dvc.yaml's folder

    def declared(kind: str) -> list[str]:
        return [p for f, p in files if f.kind == kind and f.dvc_yaml_dir == where]

    def stage(paths: list[str], **entries: Any) -> dict[str, Any]:
        cmd = f"python {up}materialise.py " + " ".join(paths)
        return {"cmd": cmd, "deps": [up + d for d in DEPS], **entries}

    def rel(paths: list[str]) -> list[str]:
        return [p[len(where) :] for p in paths]

    stages: dict[str, Any] = {}
    if paths := declared("stage_git"):
        stages["produce_git"] = stage(paths, metrics=[{p: {"cache": False}} for p in rel(paths)])
    if paths := declared("stage_cached"):
        stages["produce_cached"] = stage(paths, metrics=rel(paths))
    if declared("in_cached_dir"):
        stages["produce_dir"] = stage(["cdir"], outs=["cdir"])
    doc: dict[str, Any] = {"stages": stages} if stages else {}
    top = rel(declared("git")) + declared("in_cached_dir")
    if declared("in_git_dir"):
        top.append("gdir")
    if top:
        doc["metrics"] = top
    return doc


def build(root: Path, env: dict[str, str], layout: list[tuple[MetricFile, Any]]) -> Path:
    files = [(f, f.path(i)) for i, (f, _) in enumerate(layout)]
    docs = {where: dvc_doc(files, where) for where in ("", "sub/")}
    dvc_project(
        root, env, files={f"{where}dvc.yaml": dvc_yaml(doc) for where, doc in docs.items() if doc}
    )
    has_stages = any(doc.get("stages") for doc in docs.values())
    for rev, tag in ((0, "v1"), (1, "v2")):
        in_git: dict[str, Any] = {}
        produced: dict[str, str] = {"cdir/keep.txt": "keep"}  # the directory always exists
        for (f, path), (_, values) in zip(files, layout, strict=True):
            text = render(f.fmt, values[rev])
            if f.kind in ("git", "in_git_dir"):
                in_git[path] = text
            elif text is not None:
                produced[path] = text
        snapshot(root, env, tag, files=in_git, produce=produced, repro=has_stages)
    return root


class Workdir:
    """Where examples are built; its repr stays short in Hypothesis' failure report."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path, self.env, self._examples = path, env, itertools.count()

    def __repr__(self) -> str:
        return f"Workdir({str(self.path)!r})"

    def next_root(self) -> Path:
        return self.path / f"example{next(self._examples)}"


@pytest.fixture
def workdir(tmp_path: Path, env: dict[str, str]) -> Workdir:
    return Workdir(tmp_path, env)


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: see the docstring
)
@given(layout=layouts())
def test_diff_agrees_with_dvc(workdir: Workdir, layout: list[tuple[MetricFile, Any]]) -> None:
    env = workdir.env
    root = build(workdir.next_root(), env, layout)
    shown = "\n".join(f"{f.path(i)} ({f.kind}): {values!r}" for i, (f, values) in enumerate(layout))
    for args in (("v1", "v2"), ("v1", "v2", "--all")):
        theirs = dvc_diff(root, env, *args)
        ours, _ = mlgate_diff(root, env, *args)
        assert_same(ours, theirs, f"diff {' '.join(args)} on\n{shown}\n")
