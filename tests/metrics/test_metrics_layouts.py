"""`mlgate diff`/`gate` on DVC repositories laid out as their users lay them out (issue 12).

Every test builds a real git + DVC project (``dvc repro`` writes dvc.lock, caches and
gitignores the outputs), checks what DVC itself prints for it (so the layout really is
exercised: two empty outputs would agree and prove nothing), then checks that
``mlgate diff A B --json`` (and ``--all``) prints the same thing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, mlgate
from tests.metrics_layouts import (
    DEPS,
    assert_parity,
    assert_same,
    cache_object,
    drop_cached,
    dvc,
    dvc_diff,
    dvc_project,
    dvc_yaml,
    mlgate_diff,
    snapshot,
    tracked,
    warned,
)

pytestmark = pytest.mark.slow

NAN = float("nan")
INF = float("inf")
ABSENT = object()


# -- a. metrics inside cached outputs --------------------------------------------------------
CACHED: dict[str, Any] = {
    "stages": {
        "evaluate": {
            "cmd": "python materialise.py eval m.json",
            "deps": DEPS,
            "outs": ["eval"],
            "metrics": ["m.json"],  # cache: true, DVC's default
        }
    },
    "metrics": ["eval/metrics.json"],
}


def _cached_project(
    root: Path,
    env: dict[str, str],
    *,
    remote: Path | None = None,
    params: Mapping[str, Any] | None = None,
    baseline: Any = None,
) -> Path:
    """v1 -> v2: acc drops by 0.1 in eval/metrics.json (inside the cached `eval` output).

    ``baseline`` replaces v1's eval/metrics.json (``ABSENT``: not produced); with a
    ``remote``, each revision is pushed.
    """
    files = {"dvc.yaml": dvc_yaml(CACHED), **({"params.yaml": params} if params else {})}
    dvc_project(root, env, remote=remote, files=files)
    push = remote is not None
    v1: dict[str, Any] = {
        "eval/metrics.json": {"acc": 0.9, "loss": 0.3} if baseline is None else baseline,
        "eval/plot.csv": "x,y\n1,2\n",
        "m.json": {"f1": 0.5},
    }
    snapshot(root, env, "v1", produce={k: v for k, v in v1.items() if v is not ABSENT}, push=push)
    snapshot(
        root,
        env,
        "v2",
        produce={
            "eval/metrics.json": {"acc": 0.8, "loss": 0.3},
            "eval/plot.csv": "x,y\n1,3\n",
            "m.json": {"f1": 0.5, "n": 3},
        },
        push=push,
    )
    return root


V1_V2: dict[str, Any] = {
    "eval/metrics.json": {"acc": {"old": 0.9, "new": 0.8, "diff": 0.8 - 0.9}},
    "m.json": {"n": {"old": None, "new": 3}},
}
V1_V2_ALL: dict[str, Any] = {
    "eval/metrics.json": {
        "acc": {"old": 0.9, "new": 0.8, "diff": 0.8 - 0.9},
        "loss": {"old": 0.3, "new": 0.3, "diff": 0.0},
    },
    "m.json": {"f1": {"old": 0.5, "new": 0.5, "diff": 0.0}, "n": {"old": None, "new": 3}},
}


def test_metrics_inside_cached_outputs(tmp_path: Path, env: dict[str, str]) -> None:
    root = _cached_project(tmp_path / "repo", env)
    assert not {"eval/metrics.json", "m.json"} & tracked(root, env)  # cached, not in git
    out = assert_parity(root, env, "v1", "v2")
    assert_same(out["plain"], V1_V2, "DVC")
    assert_same(out["all"], V1_V2_ALL, "DVC")
    assert_same(assert_parity(root, env, "v2", "v1")["plain"], _reverse(V1_V2), "DVC")
    assert "m.json" not in out["stderr"], out["stderr"]  # nothing to warn about
    # the working tree as the candidate (mlgate's default, DVC's `workspace`), then edited
    assert_parity(root, env, "v1")
    (root / "eval" / "metrics.json").write_text('{"acc": 0.7, "loss": 0.3}')
    out = assert_parity(root, env, "v1")
    assert_same(
        out["plain"]["eval/metrics.json"]["acc"], {"old": 0.9, "new": 0.7, "diff": 0.7 - 0.9}, "DVC"
    )


def test_working_tree_metric_only_in_the_cache(tmp_path: Path, env: dict[str, str]) -> None:
    """A cached metric deleted from the working tree: DVC reads it by dvc.lock's hash."""
    root = _cached_project(tmp_path / "repo", env)
    shutil.rmtree(root / "eval")
    (root / "m.json").unlink()
    assert_same(dvc_diff(root, env, "v1"), V1_V2, "DVC")
    assert_parity(root, env, "v1")


def test_cached_metric_missing_from_the_cache(tmp_path: Path, env: dict[str, str]) -> None:
    root = _cached_project(tmp_path / "repo", env)
    sha = git("rev-parse", "v1", cwd=root, env=env)
    drop_cached(root, env, "v1", "eval/metrics.json")  # the .dir manifest stays
    drop_cached(root, env, "v1", "m.json")
    out = assert_parity(root, env, "v1", "v2")
    assert_same(
        out["plain"],
        {
            "eval/metrics.json": {
                "acc": {"old": None, "new": 0.8},
                "loss": {"old": None, "new": 0.3},
            },
            "m.json": {"f1": {"old": None, "new": 0.5}, "n": {"old": None, "new": 3}},
        },
        "DVC",
    )
    for path in ("eval/metrics.json", "m.json"):
        assert warned(out["stderr"], path, "v1", sha[:7]), out["stderr"]


def test_cached_directory_manifest_missing(tmp_path: Path, env: dict[str, str]) -> None:
    root = _cached_project(tmp_path / "repo", env)
    for rev in ("v1", "v2"):
        lock = git("show", f"{rev}:dvc.lock", cwd=root, env=env)
        md5 = next(w for w in lock.split() if w.endswith(".dir"))
        cache_object(root, md5).unlink()
    out = assert_parity(root, env, "v1", "v2")
    assert_same(out["plain"], {"m.json": {"n": {"old": None, "new": 3}}}, "DVC")
    assert warned(out["stderr"], "eval/metrics.json", "v1", "v2"), out["stderr"]


# -- b. a metrics directory ------------------------------------------------------------------
RESULTS_V1 = {
    "results/a.json": {"acc": 0.9},
    "results/b.yaml": "loss: 0.3\nnested:\n  k: 1\n",
    "results/c.txt": "x: 1\n",  # no known extension: DVC reads it as YAML
    "results/deep/d.json": {"d": 1},
    "results/gone.json": {"g": 1},
}
RESULTS_V2 = {
    "results/a.json": {"acc": 0.8},
    "results/b.yaml": "loss: 0.3\nnested:\n  k: 2\n",
    "results/c.txt": "x: 2\n",
    "results/deep/d.json": {"d": 1},
    "results/new.json": {"n": 1},
}
RESULTS_DIFF = {
    "results/a.json": {"acc": {"old": 0.9, "new": 0.8, "diff": 0.8 - 0.9}},
    "results/b.yaml": {"nested.k": {"old": 1, "new": 2, "diff": 1}},
    "results/c.txt": {"x": {"old": 1, "new": 2, "diff": 1}},
    "results/gone.json": {"g": {"old": 1, "new": None}},
    "results/new.json": {"n": {"old": None, "new": 1}},
}


def test_metrics_directory_in_git(tmp_path: Path, env: dict[str, str]) -> None:
    root = dvc_project(
        tmp_path / "repo", env, files={"dvc.yaml": dvc_yaml({"metrics": ["results"]})}
    )
    snapshot(root, env, "v1", files=RESULTS_V1, repro=False)
    snapshot(root, env, "v2", files={**RESULTS_V2, "results/gone.json": None}, repro=False)
    out = assert_parity(root, env, "v1", "v2")
    assert_same(out["plain"], RESULTS_DIFF, "DVC")
    assert "results/deep/d.json" in out["all"]


@pytest.mark.parametrize(
    "declared",
    [
        pytest.param({"metrics": ["results"]}, id="stage-metrics-dir"),
        pytest.param({"outs": ["results"], "top": ["results"]}, id="outs-and-top-level"),
    ],
)
def test_metrics_directory_as_cached_output(
    tmp_path: Path, env: dict[str, str], declared: dict[str, list[str]]
) -> None:
    stage: dict[str, Any] = {"cmd": "python materialise.py results", "deps": DEPS}
    stage.update({k: v for k, v in declared.items() if k != "top"})
    doc: dict[str, Any] = {"stages": {"evaluate": stage}}
    if "top" in declared:
        doc["metrics"] = declared["top"]
    root = dvc_project(tmp_path / "repo", env, files={"dvc.yaml": dvc_yaml(doc)})
    snapshot(root, env, "v1", produce=RESULTS_V1)
    snapshot(root, env, "v2", produce=RESULTS_V2)
    assert not any(p.startswith("results/") for p in tracked(root, env))
    out = assert_parity(root, env, "v1", "v2")
    assert_same(out["plain"], RESULTS_DIFF, "DVC")


# -- c. templated paths ----------------------------------------------------------------------
TEMPLATED = {
    # inline values and another params file; params.yaml is loaded as well, implicitly
    "vars": [{"fmt": "json"}, "paths.yaml"],
    "stages": {
        "report": {
            "wdir": "${report_dir}",
            "cmd": "python ../materialise.py ${report_dir}/${name}.${fmt}",
            "deps": ["../materialise.py", "../spec.json"],
            "metrics": [{"${name}.${fmt}": {"cache": False}}],
        },
        "evaluate": {
            "cmd": "python materialise.py ${eval.dir}",
            "deps": DEPS,
            "outs": ["${eval.dir}"],
        },
    },
    "metrics": ["${eval.dir}/${eval.file}"],
}


def _params(name: str) -> dict[str, Any]:
    return {"report_dir": "reports", "name": name}


def test_templated_metrics_paths(tmp_path: Path, env: dict[str, str]) -> None:
    root = dvc_project(
        tmp_path / "repo",
        env,
        files={
            "dvc.yaml": dvc_yaml(TEMPLATED),
            "params.yaml": _params("scores"),
            "paths.yaml": "eval:\n  dir: out\n  file: m.yaml\n",
            "reports/.keep": "",  # DVC runs a stage in its wdir, which must exist
        },
    )
    snapshot(root, env, "v1", produce={"reports/scores.json": {"acc": 0.9}, "out/m.yaml": "r: 1\n"})
    snapshot(root, env, "v2", produce={"reports/scores.json": {"acc": 0.8}, "out/m.yaml": "r: 2\n"})
    # the template's value changes: the metrics file moves
    snapshot(
        root,
        env,
        "v3",
        files={"params.yaml": _params("other"), "reports/scores.json": None},
        produce={"reports/other.json": {"acc": 0.8}, "out/m.yaml": "r: 2\n"},
    )
    out = assert_parity(root, env, "v1", "v2")
    assert_same(
        out["plain"],
        {
            "reports/scores.json": {"acc": {"old": 0.9, "new": 0.8, "diff": 0.8 - 0.9}},
            "out/m.yaml": {"r": {"old": 1, "new": 2, "diff": 1}},
        },
        "DVC",
    )
    out = assert_parity(root, env, "v2", "v3")
    assert_same(
        out["plain"],
        {
            "reports/scores.json": {"acc": {"old": 0.8, "new": None}},
            "reports/other.json": {"acc": {"old": None, "new": 0.8}},
        },
        "DVC",
    )


# -- d. nested dvc.yaml, .dvcignore ----------------------------------------------------------
NESTED_FILES = {
    "dvc.yaml": dvc_yaml({"metrics": ["root.json"]}),
    "sub/dvc.yaml": dvc_yaml(
        {
            "stages": {
                "s": {
                    "cmd": "python ../materialise.py sub/eval sub/m.json",
                    "deps": ["../materialise.py", "../spec.json"],
                    "outs": ["eval"],
                    "metrics": [{"m.json": {"cache": False}}],
                }
            },
            "metrics": ["eval/scores.json", "top.json"],
        }
    ),
    "sub/deeper/dvc.yaml": dvc_yaml({"metrics": ["d.yaml"]}),
    "ignored/dvc.yaml": dvc_yaml({"metrics": ["i.json"]}),
    "sub/skip/dvc.yaml": dvc_yaml({"metrics": ["s.json"]}),
    ".dvcignore": "ignored/\nsub/skip\n",
}


def _nested_project(root: Path, env: dict[str, str]) -> Path:
    dvc_project(root, env, files=NESTED_FILES)
    for tag, v in (("v1", 1), ("v2", 2)):
        snapshot(
            root,
            env,
            tag,
            files={
                "root.json": {"v": v},
                "sub/top.json": {"v": v},
                "sub/deeper/d.yaml": f"v: {v}\n",
                "ignored/i.json": {"v": v},
                "sub/skip/s.json": {"v": v},
            },
            produce={"sub/eval/scores.json": {"v": v}, "sub/m.json": {"v": v}},
        )
    return root


def test_nested_dvc_yaml_and_dvcignore(tmp_path: Path, env: dict[str, str]) -> None:
    root = _nested_project(tmp_path / "repo", env)
    change = {"v": {"old": 1, "new": 2, "diff": 1}}
    out = assert_parity(root, env, "v1", "v2")
    expected = ("root.json", "sub/top.json", "sub/eval/scores.json", "sub/m.json")
    assert_same(out["plain"], {p: change for p in (*expected, "sub/deeper/d.yaml")}, "DVC")


def test_run_from_a_subdirectory(tmp_path: Path, env: dict[str, str]) -> None:
    """DVC names files relative to the working directory (`../root.json`)."""
    root = _nested_project(tmp_path / "repo", env)
    out = assert_parity(root / "sub", env, "v1", "v2")
    assert {"../root.json", "m.json", "eval/scores.json", "deeper/d.yaml"} <= set(out["plain"])


# -- e. foreach and matrix stages ------------------------------------------------------------
GENERATED = {
    "stages": {
        "per_split": {
            "foreach": ["train", "test"],
            "do": {
                "cmd": "python materialise.py split/${item}.json",
                "deps": DEPS,
                "metrics": [{"split/${item}.json": {"cache": False}}],
            },
        },
        "per_model": {
            "foreach": "${models}",  # a mapping in params.yaml
            "do": {
                "cmd": "python materialise.py ${item.dir} ${key}.json",
                "deps": DEPS,
                "outs": ["${item.dir}"],
                "metrics": ["${key}.json"],  # cached
            },
        },
        "grid": {
            "matrix": {"model": ["lr", "rf"], "seed": [1, 2]},
            "cmd": "python materialise.py grid/${item.model}-${item.seed}.json",
            "deps": DEPS,
            "metrics": ["grid/${item.model}-${item.seed}.json"],
        },
    },
}


def test_foreach_and_matrix_stages(tmp_path: Path, env: dict[str, str]) -> None:
    params = {"models": {"lr": {"dir": "out_lr"}, "rf": {"dir": "out_rf"}}}
    root = dvc_project(
        tmp_path / "repo", env, files={"dvc.yaml": dvc_yaml(GENERATED), "params.yaml": params}
    )

    def produced(v: int) -> dict[str, Any]:
        files: dict[str, Any] = {f"split/{s}.json": {"acc": v} for s in ("train", "test")}
        for m in ("lr", "rf"):
            files[f"out_{m}/model.txt"] = f"{m}{v}"
            files[f"{m}.json"] = {"auc": v, "model": m}
            for seed in (1, 2):
                files[f"grid/{m}-{seed}.json"] = {"f1": v * seed}
        return files

    snapshot(root, env, "v1", produce=produced(1))
    snapshot(root, env, "v2", produce=produced(2))
    out = assert_parity(root, env, "v1", "v2")
    names = {
        "split/train.json",
        "split/test.json",
        "lr.json",
        "rf.json",
        *(f"grid/{m}-{s}.json" for m in ("lr", "rf") for s in (1, 2)),
    }
    assert set(out["plain"]) == names
    assert out["plain"]["grid/rf-2.json"] == {"f1": {"old": 2, "new": 4, "diff": 2}}


# -- f. values -------------------------------------------------------------------------------
VALUES_V1: dict[str, Any] = {
    "values.json": (
        '{"nan": NaN, "inf": Infinity, "ninf": -Infinity, "null": null, "s": "abc", "b": true,'
        ' "l": [1, 2], "d": {"x": {"y": 1}}, "e": {}, "n": 1, "f": 0.5, "i": 1, "same_nan": NaN,'
        ' "sn": "1", "bi": 1, "big": 12345678901234567890}'
    ),
    "values.yaml": "a: 1\nb:\n  c: .nan\nd: .inf\ne: [1, 2]\nf: null\ng: text\n",
    "scalar.json": "0.25",
    "scalar_str.json": '"abc"',
    "scalar_to_dict.yaml": "5\n",
    "scalar_zero.json": "0",
    "scalar_false.json": "false",
    "scalar_str_number.yaml": "'0.5'\n",
    "list.json": "[1, 2]",
    "null.json": "null",
    "empty.json": "{}",
    "bad.json": {"x": 1},
    "gone.json": {"g": 1},
}
VALUES_V2: dict[str, Any] = {
    "values.json": (
        '{"nan": 1.0, "inf": Infinity, "ninf": 2, "null": 3, "s": "abd", "b": false,'
        ' "l": [1, 3], "d": {"x": {"y": 2}}, "e": {"z": 1}, "n": NaN, "f": 0.5, "i": 1.0,'
        ' "same_nan": NaN, "sn": 1, "bi": true, "big": 12345678901234567891}'
    ),
    "values.yaml": "a: 2\nb:\n  c: 1.0\nd: .inf\ne: [1, 3]\nf: 2\ng: text\n",
    "scalar.json": "0.5",
    "scalar_str.json": '"abd"',
    "scalar_to_dict.yaml": "x: 1\n",
    "scalar_zero.json": "1",
    "scalar_false.json": "true",
    "scalar_str_number.yaml": "'0.75'\n",
    "list.json": "[1, 3]",
    "null.json": "null",
    "empty.json": '{"a": 1}',
    "bad.json": '{"x": 1',  # malformed
    "gone.json": None,  # declared, missing
}


def _values_project(root: Path, env: dict[str, str]) -> Path:
    doc = {"metrics": sorted(VALUES_V1)}
    dvc_project(root, env, files={"dvc.yaml": dvc_yaml(doc)})
    snapshot(root, env, "v1", files=VALUES_V1, repro=False)
    snapshot(root, env, "v2", files=VALUES_V2, repro=False)
    return root


def test_values_as_dvc_shows_them(tmp_path: Path, env: dict[str, str]) -> None:
    root = _values_project(tmp_path / "repo", env)
    sha = git("rev-parse", "v2", cwd=root, env=env)
    out = assert_parity(root, env, "v1", "v2")
    assert_same(
        out["plain"],
        {
            "values.json": {
                "nan": {"old": NAN, "new": 1.0, "diff": NAN},
                "ninf": {"old": -INF, "new": 2, "diff": INF},
                "null": {"old": None, "new": 3},
                "s": {"old": "abc", "new": "abd"},
                "b": {"old": True, "new": False, "diff": -1},
                "d.x.y": {"old": 1, "new": 2, "diff": 1},
                "e.z": {"old": None, "new": 1},
                "n": {"old": 1, "new": NAN, "diff": NAN},
                "same_nan": {"old": NAN, "new": NAN, "diff": NAN},  # NaN != NaN
                "sn": {"old": "1", "new": 1},
                "big": {"old": 12345678901234567890, "new": 12345678901234567891, "diff": 1},
            },
            "values.yaml": {
                "a": {"old": 1, "new": 2, "diff": 1},
                "b.c": {"old": NAN, "new": 1.0, "diff": NAN},
                "f": {"old": None, "new": 2},
            },
            "scalar.json": {"": {"old": 0.25, "new": 0.5, "diff": 0.25}},
            "scalar_str.json": {"": {"old": "abc", "new": "abd"}},
            # DVC's own placeholder when the other side is not a mapping
            "scalar_to_dict.yaml": {"x": {"old": "unable to parse", "new": 1}},
            # a text scalar is parsed as JSON; 0 and false, being falsy, read as {}: unshown
            "scalar_str_number.yaml": {"": {"old": 0.5, "new": 0.75, "diff": 0.25}},
            "empty.json": {"a": {"old": None, "new": 1}},
            "bad.json": {"x": {"old": 1, "new": None}},
            "gone.json": {"g": {"old": 1, "new": None}},
        },
        "DVC",
    )
    unchanged = {"inf", "f", "i", "bi"}
    assert unchanged <= set(out["all"]["values.json"]) and "l" not in out["all"]["values.json"]
    assert_same(out["all"]["values.json"]["bi"], {"old": 1, "new": True, "diff": 0}, "DVC")
    assert_same(out["all"]["values.json"]["i"], {"old": 1, "new": 1.0, "diff": 0.0}, "DVC")
    assert {"list.json", "null.json", "scalar_zero.json", "scalar_false.json"}.isdisjoint(
        out["all"]
    )
    for path in ("bad.json", "gone.json"):
        assert warned(out["stderr"], path, "v2", sha[:7]), out["stderr"]
    assert "Traceback" not in out["stderr"]


def test_values_reversed_and_against_the_working_tree(tmp_path: Path, env: dict[str, str]) -> None:
    root = _values_project(tmp_path / "repo", env)
    out = assert_parity(root, env, "v2", "v1")
    assert_same(
        out["plain"]["scalar_to_dict.yaml"], {"x": {"old": 1, "new": "unable to parse"}}, "DVC"
    )
    assert_same(out["plain"]["bad.json"], {"x": {"old": None, "new": 1}}, "DVC")
    (root / "scalar.json").write_text("1")  # working tree: an int where there was a float
    (root / "bad.json").write_text('{"x": 2}')
    out = assert_parity(root, env, "v2")
    assert_same(out["plain"]["scalar.json"], {"": {"old": 0.5, "new": 1, "diff": 0.5}}, "DVC")
    assert_same(out["plain"]["bad.json"], {"x": {"old": None, "new": 2}}, "DVC")
    assert warned(
        out["stderr"], "bad.json", "v2", git("rev-parse", "--short", "v2", cwd=root, env=env)
    )


def test_yaml_and_toml_read_as_dvc_reads_them(tmp_path: Path, env: dict[str, str]) -> None:
    """DVC reads YAML 1.2 (ruamel): `1e-3` is a number, `yes` a string, `017` is 17."""
    doc = {"metrics": ["m.yaml", "t.toml", "./dot/x.json"]}
    root = dvc_project(tmp_path / "repo", env, files={"dvc.yaml": dvc_yaml(doc)})
    for tag, v in (("v1", 1), ("v2", 2)):
        yaml_text = (
            f"a: {v}e-3\nb: {['yes', 'no'][v - 1]}\nc: 0o1{v}\nd: 01{v}\ne: {v}_000\n"
            f"f: 0x1{v}\ng: .{v}\nh: +{v}\ni: 200{v}-01-01\n"
        )
        toml_text = f"acc = 0.{v}\n[nested]\nk = {v}\n"
        files = {"m.yaml": yaml_text, "t.toml": toml_text, "dot/x.json": {"x": v}}
        snapshot(root, env, tag, files=files, repro=False)
    out = assert_parity(root, env, "v1", "v2")
    assert_same(
        out["plain"]["m.yaml"],
        {
            "a": {"old": 0.001, "new": 0.002, "diff": 0.001},
            "b": {"old": "yes", "new": "no"},
            "c": {"old": 9, "new": 10, "diff": 1},  # 0o11, 0o12
            "d": {"old": 11, "new": 12, "diff": 1},
            "e": {"old": 1000, "new": 2000, "diff": 1000},
            "f": {"old": 17, "new": 18, "diff": 1},
            "g": {"old": 0.1, "new": 0.2, "diff": 0.1},
            "h": {"old": 1, "new": 2, "diff": 1},
            # i: a date, a type DVC does not show
        },
        "DVC",
    )
    assert set(out["plain"]) == {"m.yaml", "t.toml", "dot/x.json"}


@pytest.mark.parametrize(
    ("bad", "warn"),
    [
        pytest.param({"eval/metrics.json": '{"acc": 0.8'}, True, id="malformed"),
        pytest.param({"eval/metrics.json": None}, True, id="missing-from-output-dir"),
        pytest.param({"eval/metrics.json": '{"acc": NaN}'}, False, id="nan"),
    ],
)
def test_unreadable_cached_metrics(
    tmp_path: Path, env: dict[str, str], bad: Mapping[str, Any], warn: bool
) -> None:
    root = dvc_project(tmp_path / "repo", env, files={"dvc.yaml": dvc_yaml(CACHED)})
    good = {"eval/metrics.json": {"acc": 0.9}, "eval/plot.csv": "x\n", "m.json": {"f1": 0.5}}
    snapshot(root, env, "v1", produce=good)
    produced = {k: v for k, v in {**good, **bad}.items() if v is not None}
    sha = snapshot(root, env, "v2", produce=produced)
    out = assert_parity(root, env, "v1", "v2")
    if warn:
        assert_same(out["plain"], {"eval/metrics.json": {"acc": {"old": 0.9, "new": None}}}, "DVC")
        assert warned(out["stderr"], "eval/metrics.json", "v2", sha[:7]), out["stderr"]
    else:
        nan = {"acc": {"old": 0.9, "new": NAN, "diff": NAN}}
        assert_same(out["plain"], {"eval/metrics.json": nan}, "DVC")


# -- 2. a clone: metrics from the DVC remote, or from nowhere --------------------------------
_DIFFS = (("v1", "v2"), ("v1", "v2", "--all"))


def _clone(src: Path, dest: Path, env: dict[str, str]) -> Path:
    git("clone", "-q", str(src), str(dest), cwd=src.parent, env=env)
    assert not (dest / ".dvc" / "cache").exists() and not (dest / "eval").exists()
    return dest


def test_clone_reads_cached_metrics_from_the_remote(tmp_path: Path, env: dict[str, str]) -> None:
    remote = tmp_path / "remote"
    root = _gated_project(tmp_path / "repo", env, remote=remote)
    original = {args: mlgate_diff(root, env, *args)[0] for args in _DIFFS}
    gates = {tag: _gate_json(root, env, tag) for tag in ("v1", "v2")}
    assert {tag: code for tag, (code, _) in gates.items()} == {"v1": 1, "v2": 0}

    clone = _clone(root, tmp_path / "clone", env)
    for args in _DIFFS:
        theirs = dvc_diff(clone, env, *args)
        assert_same(theirs, original[args], f"DVC in the clone, diff {args}")
        ours, _ = mlgate_diff(clone, env, *args)
        assert_same(ours, theirs, f"clone, diff {args}")
    assert_same(original[("v1", "v2")], V1_V2, "DVC")
    # the working tree has no eval/ either: DVC reads it by dvc.lock's hash, from the remote
    for tag, answer in gates.items():
        assert _gate_json(clone, env, tag) == answer, f"gate {tag}: the clone differs"


@pytest.mark.parametrize("unreachable", ["folder-removed", "url-points-nowhere"])
def test_clone_without_cache_or_remote(
    tmp_path: Path, env: dict[str, str], unreachable: str
) -> None:
    remote = tmp_path / "remote"
    root = _gated_project(tmp_path / "repo", env, remote=remote)
    clone = _clone(root, tmp_path / "clone", env)
    if unreachable == "folder-removed":
        shutil.rmtree(remote)
    else:  # .dvc/config.local, which DVC applies to every revision
        dvc(clone, env, "remote", "modify", "--local", "store", "url", str(tmp_path / "nowhere"))
    for args in _DIFFS:
        theirs = dvc_diff(clone, env, *args)
        assert theirs == {}, theirs  # DVC reads nothing either
        ours, proc = mlgate_diff(clone, env, *args)
        assert_same(ours, theirs, f"clone without remote, diff {args}")
        assert "eval/metrics.json" in proc.stderr and "Traceback" not in proc.stderr
    # both sides unreadable (the working tree has no eval/ either)
    proc = _gate(clone, env, "v1")
    _assert_one_line_error(proc, "eval/metrics.json")
    # as in CI: the candidate rebuilt, the baseline only in an unreachable remote
    dvc(clone, env, "repro", "-q")
    sha = git("rev-parse", "v1", cwd=clone, env=env)
    proc = _gate(clone, env, "v1")
    _assert_one_line_error(proc, "eval/metrics.json", "v1", sha[:7])


# -- 3. the gate fails closed ----------------------------------------------------------------
GATE: dict[str, Any] = {
    "gate": {
        "metrics_file": "eval/metrics.json",
        "rules": [{"metric": "acc", "max_regression": 0.01}],
    }
}


def _gate(root: Path, env: dict[str, str], *args: str) -> Any:
    return mlgate("gate", *args, cwd=root, env=env, timeout=180)


def _gated_project(root: Path, env: dict[str, str], **kwargs: Any) -> Path:
    """:func:`_cached_project` with the gate policy (acc may drop by 0.01 at most)."""
    return _cached_project(root, env, params=GATE, **kwargs)


def _gate_json(root: Path, env: dict[str, str], baseline: str) -> tuple[int, Any]:
    """``mlgate gate BASELINE --json``: the exit code and the verdict (exit 0 or 1 only)."""
    proc = _gate(root, env, baseline, "--json")
    assert proc.returncode in (0, 1), f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.returncode, json.loads(proc.stdout)


def _assert_one_line_error(proc: Any, path: str, *revision_names: str) -> None:
    shown = f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 2, shown
    assert "Traceback" not in proc.stderr, shown
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, shown
    assert path in lines[0], shown
    if revision_names:
        assert any(name in lines[0] for name in revision_names), shown


def test_gate_fails_on_a_drop_in_a_cached_metric(tmp_path: Path, env: dict[str, str]) -> None:
    root = _gated_project(tmp_path / "repo", env)
    assert_same(dvc_diff(root, env, "v1")["eval/metrics.json"], V1_V2["eval/metrics.json"], "DVC")
    code, verdict = _gate_json(root, env, "v1")
    assert code == 1 and verdict["verdict"] == "fail", verdict
    (rule,) = verdict["rules"]
    assert (rule["status"], rule["baseline"], rule["candidate"]) == ("fail", 0.9, 0.8), rule
    code, verdict = _gate_json(root, env, "v2")  # no change at all: passes
    assert code == 0 and verdict["verdict"] == "pass", verdict


@pytest.mark.parametrize(
    "baseline",
    [
        pytest.param('{"acc": 0.9, "loss": 0.3', id="malformed"),
        pytest.param('{"acc": NaN, "loss": 0.3}', id="nan"),
        pytest.param(None, id="cached-and-unavailable"),
        pytest.param(ABSENT, id="missing-from-the-output"),
    ],
)
def test_gate_exits_2_on_an_unreadable_baseline(
    tmp_path: Path, env: dict[str, str], baseline: Any
) -> None:
    root = _gated_project(tmp_path / "repo", env, baseline=baseline)
    if baseline is None:
        drop_cached(root, env, "v1", "eval/metrics.json")
    sha = git("rev-parse", "v1", cwd=root, env=env)
    proc = _gate(root, env, "v1")
    shown = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 2, shown
    assert "Traceback" not in proc.stderr, shown
    assert warned(proc.stderr, "eval/metrics.json", "v1", sha[:7]), shown


def test_gate_exits_2_on_an_unreadable_candidate(tmp_path: Path, env: dict[str, str]) -> None:
    root = _gated_project(tmp_path / "repo", env)
    (root / "eval" / "metrics.json").write_text('{"acc": 0.95')
    proc = _gate(root, env, "v1")
    shown = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 2, shown
    assert "eval/metrics.json" in proc.stderr and "Traceback" not in proc.stderr, shown


@pytest.mark.parametrize("before", ["stage-without-metrics", "no-dvc-yaml"])
@pytest.mark.parametrize(("acc", "code"), [(0.8, 0), (0.4, 1)])
def test_gate_first_adoption_absolute_rules_decide(
    tmp_path: Path, env: dict[str, str], acc: float, code: int, before: str
) -> None:
    """A baseline that declares no metrics at all is not an error: only `min` can fail."""
    policy = {
        "gate": {**GATE["gate"], "rules": [{"metric": "acc", "min": 0.5, "max_regression": 0.01}]}
    }
    root = dvc_project(tmp_path / "repo", env, files={"params.yaml": policy})
    if before == "no-dvc-yaml":
        snapshot(root, env, "v1", repro=False)
    else:
        stage = {k: v for k, v in CACHED["stages"]["evaluate"].items() if k != "metrics"}
        snapshot(
            root,
            env,
            "v1",
            files={"dvc.yaml": dvc_yaml({"stages": {"evaluate": stage}})},
            produce={"eval/metrics.json": {"acc": 0.99}},
        )
    snapshot(
        root,
        env,
        "v2",
        files={"dvc.yaml": dvc_yaml(CACHED)},
        produce={"eval/metrics.json": {"acc": acc}, "m.json": {"f1": 0.5}},
    )
    # DVC: nothing was declared at v1, so nothing is old
    assert_same(
        dvc_diff(root, env, "v1", "v2")["eval/metrics.json"],
        {"acc": {"old": None, "new": acc}},
        "DVC",
    )
    proc = _gate(root, env, "v1")
    assert proc.returncode == code, f"{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr


def _reverse(diff: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """What DVC prints for B A given what it prints for A B (numbers only)."""
    out: dict[str, Any] = {}
    for path, keys in diff.items():
        out[path] = {}
        for key, v in keys.items():
            r = {"old": v["new"], "new": v["old"]}
            if "diff" in v:
                r["diff"] = v["old"] - v["new"]
            out[path][key] = r
    return out
