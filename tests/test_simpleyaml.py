"""simpleyaml.load agrees with PyYAML (mlgate.config.loads_yaml) or declines, never differs."""

from __future__ import annotations

import json
import math
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.config import ConfigError, dumps_yaml, loads_yaml
from mlgate.deploy.pointer import dumps_pointer, example_pointer
from mlgate.simpleyaml import NOT_SIMPLE, load

TRICKY = [
    "yes", "No", "on", "OFF", "true", "null", "Null", "~", "1e3", "1.5e3", "0x1F", "0o17",
    "017", "0b101", "1_000", "+12", "-0.5", ".inf", "-.inf", ".nan", "2026-01-31", "1:30",
    "2026-01-31T12:00:00Z", "v1.2.0", "a/b.c", "x@y", "-x", "e", "E5", "0", "00", "1.", ".5",
    "=", "<<", "it's", "a b", "a: b", "#x", "a #x", "'", "''", "é", "-", "--", "- a", "@x",
]  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and types compared too (1 is not 1.0 nor True)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _check(text: str) -> bool:
    """True when the fast path took the text (and agreed)."""
    got = load(text)
    if got is NOT_SIMPLE:
        return False
    assert _same(got, loads_yaml(text, "t")), text
    return True


scalars = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)
keys = st.one_of(st.sampled_from(TRICKY), st.from_regex(r"[a-z_][a-z0-9_.-]{0,8}", fullmatch=True))
docs = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(keys, inner, min_size=1, max_size=4)
    ),
    max_leaves=25,
)


plain_keys = st.from_regex(r"[a-z_][a-z0-9_.-]{0,8}", fullmatch=True)
plain_scalars = st.one_of(
    st.sampled_from(TRICKY),
    st.from_regex(r"[A-Za-z0-9_./+@'-]{1,12}", fullmatch=True),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)
plain_docs = st.recursive(
    plain_scalars,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4),
        st.dictionaries(plain_keys, inner, min_size=1, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.dictionaries(keys, docs, min_size=1, max_size=6),
        st.dictionaries(plain_keys, plain_docs, min_size=1, max_size=6),
    ),
    st.sampled_from([None, 2, 4]),
)
def test_dumped_documents_parse_as_pyyaml_parses_them(doc: dict[str, Any], indent: Any) -> None:
    for text in (
        dumps_yaml(doc),
        yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, indent=indent),
    ):
        _check(text)


SIMPLE = ["a", "b", "c1", "k.x", "v1.0", "0.5", "12"]
LINES = st.lists(
    st.tuples(
        st.sampled_from(["", "", "", "  ", "  ", "    ", "- ", "  - ", " ", "# "]),
        st.sampled_from([*SIMPLE, *SIMPLE, *TRICKY]),
        st.sampled_from([": ", ": ", ":", ":", "", ": '", ":  "]),
        st.sampled_from(["", *SIMPLE, *SIMPLE, *TRICKY, "'q'", "'a''b'", " # c"]),
    ),
    max_size=8,
)


@settings(max_examples=1500, deadline=None)
@given(LINES)
def test_arbitrary_lines_agree_or_decline(lines: list[tuple[str, str, str, str]]) -> None:
    text = "".join("".join(parts) + "\n" for parts in lines)
    try:
        expected: Any = loads_yaml(text, "t")
    except ConfigError:
        assert load(text) is NOT_SIMPLE, text  # PyYAML's error stays PyYAML's
        return
    got = load(text)
    if got is not NOT_SIMPLE:
        assert _same(got, expected), text


def test_pointers_take_the_fast_path() -> None:
    text = dumps_pointer(example_pointer())
    assert _check(text)
    doc = json.loads(json.dumps(loads_yaml(text, "t")))
    doc["model"].update(
        md5="0" * 32 + ".dir",
        files=[{"path": "a.json", "md5": "1" * 32, "sha256": "2" * 64, "size": 3}],
    )
    assert _check(dumps_yaml(doc))
    assert _check("a:\n  - x: 1\n    y: '2'\n  - 3\nb:\n")
    for declined in ("a: [1]\n", "a: &x 1\nb: *x\n", "a: 1\na: 2\n", "a: |\n  x\n", "a:\tb\n"):
        assert load(declined) is NOT_SIMPLE
