"""The pointer format: round trips (property-based), and one clear error per bad field."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.deploy.pointer import (
    ModelRef,
    Pointer,
    dumps_pointer,
    example_pointer,
    is_release_tag,
    parse_pointer,
    read_pointer,
    write_pointer,
)
from mlgate.errors import ConfigError, MlgateError
from mlgate.git import Repo

semver = st.builds(
    lambda a, b, c, pre: f"v{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
    st.integers(0, 999),
    st.integers(0, 999),
    st.integers(0, 999),
    st.sampled_from(["", "rc.1", "alpha", "beta.2"]),
)
pointers = st.builds(
    Pointer,
    version=semver,
    commit=st.text(alphabet="0123456789abcdef", min_size=40, max_size=40),
    model=st.builds(
        ModelRef,
        path=st.sampled_from(["models/model.skops", "model.skops", "a/b-c/m_1.skops"]),
        md5=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
        sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
        size=st.integers(0, 2**40),
    ),
    metrics=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=12),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        max_size=8,
    ),
    released_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0)),
)


@settings(deadline=None, max_examples=150)
@given(pointers)
def test_round_trip(pointer: Pointer) -> None:
    assert parse_pointer(dumps_pointer(pointer), "p") == pointer


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=200))
def test_parser_never_crashes_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(MlgateError):
        parse_pointer(text, "p")


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(deadline=None, max_examples=300)
@given(
    st.sampled_from(
        [
            "version",
            "commit",
            "model",
            "metrics",
            "released_at",
            "model.path",
            "model.md5",
            "model.sha256",
            "model.size",
            "metrics.f1",
            "extra",
        ]
    ),
    values,
)
def test_any_wrong_value_is_a_config_error_naming_the_field(field: str, value: object) -> None:
    doc = _doc()
    *parents, leaf = field.split(".")
    target = doc
    for key in parents:
        target = target[key]
    target[leaf] = value
    try:
        pointer = parse_pointer(yaml.safe_dump(doc), "deploy/production.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("deploy/production.yaml: ")
        assert field.split(".")[0] in str(exc)
    else:  # accepted values are valid and survive a round trip
        assert parse_pointer(dumps_pointer(pointer), "p") == pointer


def _doc() -> dict:
    return yaml.safe_load(dumps_pointer(example_pointer()))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(version="1.0.0"), "version: expected a release tag"),
        (lambda d: d.update(commit="abc"), "commit: expected a full commit SHA"),
        (lambda d: d["model"].update(md5="xyz"), "model.md5: expected an md5"),
        (lambda d: d["model"].update(sha256="0" * 63), "model.sha256: expected a sha256"),
        (lambda d: d["model"].update(size=-1), "model.size: must be >= 0"),
        (lambda d: d["model"].update(size="big"), "model.size: expected a whole number"),
        (lambda d: d["model"].update(path="../x"), "model.path: expected a plain relative path"),
        (lambda d: d["model"].update(path="/abs"), "model.path: expected a plain relative path"),
        (lambda d: d["model"].update(path="m\x00.skops"), "model.path: contains a control"),
        (lambda d: d["model"].update(path="m\n.skops"), "model.path: contains a control"),
        (lambda d: d["model"].update(path="m\x85.skops"), "model.path: contains a control"),
        (lambda d: d["model"].update(path="./m.skops"), "model.path: expected a plain relative"),
        (lambda d: d["model"].update(path="a/./m"), "model.path: expected a plain relative"),
        (lambda d: d["model"].update(path="a//m"), "model.path: expected a plain relative"),
        (lambda d: d["model"].update(path="models/"), "model.path: expected a plain relative"),
        (lambda d: d["model"].update(path="~/m.skops"), "model.path: expected a plain relative"),
        (lambda d: d["model"].update(path="C:/m.skops"), "model.path: expected a plain relative"),
        (lambda d: d["model"].update(path="a\\m.skops"), "model.path: expected a plain relative"),
        (lambda d: d["model"].update(path=".git/config"), "model.path: expected a plain relative"),
        (lambda d: d["model"].update(path="sub/.GIT/x"), "model.path: expected a plain relative"),
        (lambda d: d.update(version="v1.0.0\n"), "version: contains a control character"),
        (lambda d: d.update(commit="0" * 40 + "\n"), "commit: contains a control character"),
        (lambda d: d["model"].update(md5="0" * 32 + "\n"), "model.md5: contains a control"),
        (lambda d: d["metrics"].update({"f1\x00": 0.5}), "contains a control character"),
        (lambda d: d["model"].pop("sha256"), "model.sha256: missing"),
        (lambda d: d.pop("model"), "model: missing"),
        (lambda d: d.update(extra=1), "extra: unknown key"),
        (lambda d: d["metrics"].update(f1="high"), "metrics.f1: expected a number"),
        (lambda d: d.update(released_at="yesterday"), "released_at: expected an ISO 8601"),
        (lambda d: d.update(released_at="2026-01-01T00:00:00"), "released_at: the time has no"),
    ],
)
def test_each_bad_field_is_named(edit, message: str) -> None:
    doc = _doc()
    edit(doc)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        parse_pointer(yaml.safe_dump(doc), "deploy/production.yaml")
    assert str(info.value).startswith("deploy/production.yaml: ")


def test_times_are_normalised_to_utc_and_unquoted_yaml_times_work() -> None:
    text = dumps_pointer(example_pointer()).replace(
        "'2026-01-01T00:00:00Z'", "2026-01-01T02:00:00+02:00"
    )
    assert parse_pointer(text, "p").released_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_empty_and_non_mapping_files_are_errors() -> None:
    with pytest.raises(ConfigError, match="empty pointer"):
        parse_pointer("", "p")
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_pointer("- a\n", "p")


def test_release_tags() -> None:
    assert is_release_tag("v1.2.3") and is_release_tag("v2.0.0-rc.1+build.5")
    for bad in ("1.2.3", "v1.2", "v01.2.3", "release-1", "v1.2.3-"):
        assert not is_release_tag(bad)


def test_write_is_atomic_and_read_from_worktree(tmp_path: Path) -> None:
    target = tmp_path / "deploy" / "production.yaml"
    write_pointer(target, example_pointer())
    assert [p.name for p in target.parent.iterdir()] == ["production.yaml"]  # no temp left
    assert read_pointer(Repo(tmp_path), "workspace") == example_pointer()
    assert read_pointer(Repo(tmp_path / "nowhere"), "workspace") is None
