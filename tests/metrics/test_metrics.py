"""mlgate.metrics: declared files, strict parsing, DVC-style flattening, the pure diff."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgate.errors import ConfigError, DataError, GitError
from mlgate.git import WORKTREE, Repo
from mlgate.metrics import (
    declared_metrics,
    diff_metrics,
    flatten,
    infer_direction,
    parse_metrics,
    read_metrics,
    read_params,
)
from tests.conftest import git
from tests.gate_support import commit, metrics_repo


def test_declared_metrics_stages_wdir_and_top_level() -> None:
    text = b"""
stages:
  a:
    cmd: x
    metrics:
      - m/a.json:
          cache: false
      - m/b.yaml
  b:
    cmd: y
    wdir: sub
    metrics:
      - ../m/c.json
      - d.json
metrics:
  - top.json
  - m/a.json
"""
    assert declared_metrics(text) == ["m/a.json", "m/b.yaml", "m/c.json", "sub/d.json", "top.json"]
    assert declared_metrics(None) == []
    with pytest.raises(ConfigError, match="templating"):  # DVC's resolver reads those
        declared_metrics(
            b"stages:\n  t:\n    foreach: [1]\n    do:\n      metrics: [m/${item}.json]\n"
        )


def test_declared_metrics_rejects_bad_shapes() -> None:
    with pytest.raises(ConfigError, match=r"dvc.yaml: stages.a.metrics: expected a list"):
        declared_metrics(b"stages:\n  a:\n    metrics: m.json\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        declared_metrics(b"stages: [\n")


def test_flatten_like_dvc() -> None:
    data = {"a": {"b": 1, "c": {"d": 2.5}, "e": {}}, "f": 3, 1: {"x": 0}}
    assert flatten(data, "m.json") == {"a.b": 1, "a.c.d": 2.5, "f": 3, "1.x": 0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"acc": NaN}', {"acc": math.nan}),  # shown as DVC shows it; the gate refuses it
        (b'{"acc": -Infinity}', {"acc": -math.inf}),
        (b'{"acc": 1, "acc": 2}', {"acc": 2}),  # Python's json, as DVC: the last one wins
        (b"[1, 2]", {}),  # a list is not a metric
        (b"0.25", {"": 0.25}),  # a scalar file: the key ""
        (b"0", {}),  # ... unless falsy (DVC: `val or {}`)
        (b'{"a": {"b": []}, "c": null}', {}),
    ],
)
def test_parse_metrics_like_dvc(text: bytes, expected: dict[str, Any]) -> None:
    got = parse_metrics(text, "m.json")
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == value or (math.isnan(got[key]) and math.isnan(value))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"a": {"b": 1}, "a.b": 2}', "a.b: the key appears twice"),
        (b'{"acc": 0.9', "invalid JSON"),
    ],
)
def test_parse_metrics_errors_name_the_file(text: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        parse_metrics(text, "main:metrics/scores.json")
    assert str(info.value).startswith("main:metrics/scores.json: ")


def test_text_booleans_kept_lists_and_nulls_dropped_like_dvc() -> None:
    text = b'{"acc": 0.9, "src": "data.csv", "ok": true, "cm": [[1, 2]], "none": null}'
    assert parse_metrics(text, "m.json") == {"acc": 0.9, "src": "data.csv", "ok": True}
    changed = diff_metrics({"m": {"ok": False, "src": "a"}}, {"m": {"ok": True, "src": "b"}})
    assert changed.to_json() == {
        "m": {"ok": {"old": False, "new": True, "diff": 1}, "src": {"old": "a", "new": "b"}}
    }


def test_parse_yaml_and_toml_metrics() -> None:
    assert parse_metrics(b"a:\n  b: 0.5\n", "m.yaml") == {"a.b": 0.5}
    assert parse_metrics(b"[a]\nb = 2\n", "m.toml") == {"a.b": 2}
    assert math.isnan(parse_metrics(b"a: .nan\n", "m.yaml")["a"])
    with pytest.raises(DataError, match=r"m\.yaml: invalid YAML"):
        parse_metrics(b"a: [\n", "m.yaml")


def test_diff_shape_matches_dvc() -> None:
    old = {"m.json": {"acc": 0.5, "n": 10, "gone": 1.0, "same": 2}, "old.json": {"x": 1}}
    new = {"m.json": {"acc": 0.75, "n": 12, "new": 3.0, "same": 2.0}, "new.json": {"y": 2}}
    assert diff_metrics(old, new).to_json() == {
        "m.json": {
            "acc": {"old": 0.5, "new": 0.75, "diff": 0.25},
            "gone": {"old": 1.0, "new": None},
            "n": {"old": 10, "new": 12, "diff": 2},
            "new": {"old": None, "new": 3.0},
        },
        "new.json": {"y": {"old": None, "new": 2}},
        "old.json": {"x": {"old": 1, "new": None}},
    }
    everything = diff_metrics(old, new, all=True).to_json()
    assert everything["m.json"]["same"] == {"old": 2, "new": 2.0, "diff": 0.0}


def test_infer_direction() -> None:
    assert infer_direction("log_loss") == "lower"
    assert infer_direction("val.error_rate") == "lower"
    assert infer_direction("loss_curve.auc") == "higher"  # only the leaf name counts
    assert infer_direction("roc_auc") == "higher"
    assert infer_direction("log_loss.high") == "lower"  # a bound is named after its metric
    assert infer_direction("accuracy.low") == "higher"
    for name in ("rmse", "val_mae", "test.mse", "mape", "brier-score", "rmse.high", "median_ae"):
        assert infer_direction(name) == "lower", name
    for name in ("r2", "gamma", "max_depth", "precision"):  # no error word inside a word
        assert infer_direction(name) == "higher", name


# -- property-based ---------------------------------------------------------------------------
_keys = st.text(alphabet="abcxyz_.0", min_size=1, max_size=4)
_leaf = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32)
)
_nested: Any = st.recursive(
    _leaf, lambda children: st.dictionaries(_keys, children, max_size=4), max_leaves=12
)
_metrics_file = st.dictionaries(_keys, _nested, max_size=5)
_files = st.dictionaries(st.sampled_from(["a.json", "b.json", "c.json"]), _metrics_file, max_size=3)


def _flat_files(files: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    try:
        return {name: flatten(data, name) for name, data in files.items()}
    except DataError:  # "a.b" next to {"a": {"b": ...}}: rejected, as DVC rejects it
        return None


@given(_files, _files)
def test_any_nested_metrics_diff_without_crashing(old: dict[str, Any], new: dict[str, Any]) -> None:
    a, b = _flat_files(old), _flat_files(new)
    if a is None or b is None:
        return
    result = diff_metrics(a, b).to_json()
    for changes in result.values():
        for change in changes.values():
            assert change["old"] != change["new"]
            if "diff" in change:
                assert math.isclose(change["new"] - change["old"], change["diff"])


@given(_files)
def test_diff_of_x_against_x_is_empty(files: dict[str, Any]) -> None:
    flat = _flat_files(files)
    if flat is None:
        return
    assert diff_metrics(flat, flat).to_json() == {}
    assert not diff_metrics(flat, flat)


# -- at git revisions -------------------------------------------------------------------------
def test_read_metrics_and_params_at_revisions(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    first = git("rev-parse", "HEAD", cwd=root, env=env)
    commit(root, env, "better", {"metrics/scores.json": {"accuracy": 0.95, "roc_auc": 0.96}})
    (root / "metrics" / "scores.json").write_text('{"accuracy": 0.5}')
    repo = Repo(root, env)
    assert read_metrics(repo, first).flat()["metrics/scores.json"]["roc_auc"] == 0.95
    head = read_metrics(repo, "HEAD").flat()
    assert head["metrics/scores.json"] == {"accuracy": 0.95, "roc_auc": 0.96}
    assert read_metrics(repo, WORKTREE).flat()["metrics/scores.json"] == {"accuracy": 0.5}
    at_first = read_metrics(repo, first)
    assert "metrics/bootstrap.json" not in at_first.values  # declared, absent: an error
    assert (
        "declared as metrics in dvc.yaml but not found" in at_first.errors["metrics/bootstrap.json"]
    )
    assert read_params(repo, first)["gate.rules"][0]["metric"] == "roc_auc"
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        read_metrics(repo, "nope")


def test_read_metrics_names_revision_in_errors(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    commit(root, env, "broken", {"metrics/scores.json": '{"accuracy": 0.5'})
    read = read_metrics(Repo(root, env), "HEAD")
    assert read.errors["metrics/scores.json"].startswith("HEAD:metrics/scores.json: invalid JSON")
    assert "metrics/scores.json" not in read.values and read.declared


# -- the parse cache ------------------------------------------------------------------------------
def test_parse_cache_is_content_addressed(tmp_path: Path) -> None:
    from mlgate.metrics.cache import ParseCache

    path = tmp_path / ".git" / "mlgate-cache.json"
    path.parent.mkdir()
    calls: list[bytes] = []

    def parse(b: bytes) -> list[str]:
        calls.append(b)
        return [b.decode()]

    cache = ParseCache(path)
    assert cache.get_or_parse("k", b"one", parse) == ["one"]
    cache.save()
    again = ParseCache.for_repo(tmp_path)
    assert again.get_or_parse("k", b"one", parse) == ["one"] and calls == [b"one"]
    assert again.get_or_parse("k", b"two", parse) == ["two"] and calls == [b"one", b"two"]
    path.write_text("{not json")  # a broken cache is ignored, never an error
    assert ParseCache(path).get_or_parse("k", b"one", parse) == ["one"]


def test_cached_diff_stays_correct_and_errors_are_not_cached(
    tmp_path: Path, env: dict[str, str]
) -> None:
    from tests.conftest import mlgate

    root = metrics_repo(tmp_path / "repo", env)
    params = root / "params.yaml"
    first = mlgate("diff", "--md", cwd=root, env=env)
    assert first.returncode == 0 and (root / ".git" / "mlgate-cache.json").is_file()
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.25"))
    assert "| `train.C` | 1 | 0.25 |" in mlgate("diff", "--md", cwd=root, env=env).stdout
    params.write_text("train: [\n")
    for _ in range(2):
        bad = mlgate("diff", "--md", cwd=root, env=env)
        assert bad.returncode == 2 and "params.yaml: invalid YAML" in bad.stderr


def test_repo_discover_matches_find(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    sub = root / "metrics"
    assert Repo.discover(sub, env).root == Repo.find(sub, env).root == root.resolve()
    worktree = tmp_path / "wt"
    git("worktree", "add", "-q", str(worktree), cwd=root, env=env)  # .git is a file there
    assert Repo.discover(worktree / "metrics", env).root == worktree.resolve()
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(GitError, match="not inside a git repository"):
        Repo.discover(outside, {**env, "GIT_CEILING_DIRECTORIES": str(tmp_path)})
