"""The pure parts of reading a DVC project: which dvc.yaml files, what they declare, dvc.lock."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlgate.dvcstore import cache_dir, local_folder_remote, md5_matches, object_path
from mlgate.errors import ConfigError
from mlgate.metrics.layout import (
    Layout,
    LockedOut,
    find_dvc_files,
    parse_dvc_yaml,
    parse_lock,
)


def test_find_dvc_files_skips_subrepos_and_dvcignored_folders() -> None:
    paths = [
        "dvc.yaml",
        "a/dvc.yaml",
        "a/b/dvc.yaml",
        "vendored/dvc.yaml",
        "sub/.dvc/config",  # a nested DVC repository: DVC does not collect its files
        "sub/dvc.yaml",
        "sub/x/dvc.yaml",
    ]
    ignore = {".dvcignore": b"/vendored/\n", "a/.dvcignore": b"b/\n"}
    assert find_dvc_files(paths, ignore) == ["a/dvc.yaml", "dvc.yaml"]
    assert find_dvc_files(paths) == ["a/b/dvc.yaml", "a/dvc.yaml", "dvc.yaml", "vendored/dvc.yaml"]


def test_parse_dvc_yaml_resolves_paths_against_the_file_and_wdir() -> None:
    doc = {
        "stages": {
            "s": {"wdir": "w", "metrics": ["m.json", {"../top.json": {"cache": False}}]},
        },
        "metrics": ["eval", "./eval"],
        "artifacts": {"clf": {"path": "models/m.pkl", "type": "model"}},
    }
    declared = parse_dvc_yaml(doc, "proj/dvc.yaml", "proj/dvc.yaml")
    assert declared.metrics == ("proj/w/m.json", "proj/top.json", "proj/eval")
    assert declared.wdirs == {"s": "proj/w"}
    (art,) = declared.artifacts
    assert (art.name, art.path, art.type) == ("proj:clf", "proj/models/m.pkl", "model")
    with pytest.raises(ConfigError, match=r"stages.s.metrics: expected a list of paths"):
        parse_dvc_yaml({"stages": {"s": {"metrics": "m.json"}}}, "dvc.yaml", "dvc.yaml")
    with pytest.raises(ConfigError, match=r"artifacts.x: expected a mapping with a `path:`"):
        parse_dvc_yaml({"artifacts": {"x": "m.pkl"}}, "dvc.yaml", "dvc.yaml")


def test_parse_lock_places_outputs_and_tells_dvc2_hashes_apart() -> None:
    lock = {
        "stages": {
            "s": {"outs": [{"path": "eval", "hash": "md5", "md5": "a" * 32 + ".dir"}]},
            "g@1": {"outs": [{"path": "m.json", "md5": "b" * 32}]},  # DVC 2: no `hash: md5`
            "h": {"outs": [{"path": "nohash.json"}]},
        }
    }
    outs = parse_lock(lock, "p/dvc.lock", {"s": "p/w", "g": "p/gw"}, "p/dvc.lock")
    assert outs == [
        LockedOut("p/w/eval", "a" * 32 + ".dir", False),
        LockedOut("p/gw/m.json", "b" * 32, True),
    ]
    layout = Layout(outs=tuple(outs))
    assert layout.out_for("p/w/eval/metrics.json") == (outs[0], "metrics.json")
    assert layout.out_for("p/w/eval") == (outs[0], "")
    assert layout.out_for("p/w/evaluation.json") is None
    assert layout.outs_under("p") == outs


def test_objects_are_named_and_checked_as_dvc_names_them(tmp_path: Path) -> None:
    md5 = "5d41402abc4b2a76b9719d911017c592"  # md5("hello")
    assert md5_matches(b"hello", md5) and not md5_matches(b"hello!", md5)
    assert md5_matches(b"hello", md5 + ".dir")
    unix = hashlib.md5(b"a\nb").hexdigest()  # DVC 2 hashed text with CRLF turned into LF
    assert md5_matches(b"a\r\nb", unix, legacy=True)
    assert not md5_matches(b"a\r\nb", unix)  # DVC 3 hashes the bytes as they are
    assert object_path(tmp_path, "ab" + "c" * 30) == tmp_path / "files" / "md5" / "ab" / ("c" * 30)
    assert object_path(tmp_path, "ab" + "c" * 30, legacy=True) == tmp_path / "ab" / ("c" * 30)


def test_cache_dir_and_plain_folder_remote_from_dvc_config(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    assert cache_dir(tmp_path) == tmp_path / ".dvc" / "cache"
    assert local_folder_remote(tmp_path) is None
    (tmp_path / ".dvc" / "config").write_text(
        "[core]\n    remote = Store\n['remote \"store\"']\n    url = ../store\n"
        "[cache]\n    dir = /srv/dvc-cache\n"
    )
    assert cache_dir(tmp_path) == Path("/srv/dvc-cache")
    assert local_folder_remote(tmp_path) == tmp_path / ".dvc" / "../store"
    (tmp_path / ".dvc" / "config.local").write_text(
        "['remote \"store\"']\n    url = s3://bucket/x\n"
    )
    assert local_folder_remote(tmp_path) is None  # a URL: left to DVC itself
