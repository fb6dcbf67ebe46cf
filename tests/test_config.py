from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgate.config import Section, load_params, loads_yaml
from mlgate.errors import ConfigError
from mlgate.ml.model import TrainParams


def test_number_error_names_file_and_key() -> None:
    s = Section.root({"train": {"C": "ten"}}, file="params.yaml").section("train")
    with pytest.raises(
        ConfigError, match=r'^params\.yaml: train\.C: expected a number, got "ten"$'
    ):
        s.number("C")


def test_missing_key_and_unknown_key() -> None:
    s = Section({"model": "logistic_regression", "typo": 1}, file="params.yaml", where="train")
    with pytest.raises(ConfigError, match=r"train\.typo: unknown key"):
        TrainParams.from_section(s)
    s = Section({"model": "logistic_regression"}, file="params.yaml", where="train")
    with pytest.raises(ConfigError, match=r"train\.random_state: missing"):
        TrainParams.from_section(s)


def test_nested_list_paths() -> None:
    s = Section.root({"gate": {"rules": [{}, {"max": "x"}]}}, file="params.yaml")
    items = list(s.section("gate").sections("rules"))
    with pytest.raises(ConfigError, match=r"gate\.rules\[1\]\.max: expected a number"):
        items[1].number("max")


def test_yaml_duplicate_keys_and_syntax(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        loads_yaml("a: 1\na: 2\n", "x.yaml")
    with pytest.raises(ConfigError, match=r"x\.yaml: invalid YAML at line"):
        loads_yaml("a: [1, 2\n", "x.yaml")
    with pytest.raises(ConfigError, match="file not found"):
        load_params(tmp_path / "params.yaml")


@given(st.one_of(st.text(), st.booleans(), st.none(), st.lists(st.integers())))
def test_number_rejects_non_numbers(value: object) -> None:
    s = Section({"k": value}, file="f", where="s")
    with pytest.raises(ConfigError, match=r"^f: s\.k: "):
        s.number("k")
