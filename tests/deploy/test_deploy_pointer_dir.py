"""The pointer of a directory model: its manifest is validated on every read.

Pure tests (no repository): a valid folder pointer round-trips; each malformed manifest is
refused with one message naming the key and the fix; file pointers read as before; and
``servable`` picks a folder's one .skops file.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from mlgate.deploy.pointer import (
    ModelFile,
    ModelRef,
    Pointer,
    dumps_pointer,
    example_pointer,
    manifest_sha256,
    parse_pointer,
    servable,
)
from mlgate.errors import ConfigError


def _file(path: str, data: bytes) -> dict[str, Any]:
    return {
        "path": path,
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


FILES = [
    _file("config.json", b'{"hidden": 8}'),
    _file("sub/tokenizer.json", b'{"vocab": []}'),
    _file("weights.bin", b"\x00" * 100),
]


def _doc(files: list[dict[str, Any]] = FILES, **model: Any) -> dict[str, Any]:
    lines = "".join(f"{f['sha256']} {f['size']} {f['path']}\n" for f in files)
    base = {
        "path": "models/hf",
        "md5": "a" * 32 + ".dir",
        "sha256": hashlib.sha256(lines.encode()).hexdigest(),
        "size": sum(f["size"] for f in files),
        "files": files,
    }
    return {
        "version": "hf@v1.0.0",
        "commit": "0" * 40,
        "model": {**base, **model},
        "released_at": "2026-01-01T00:00:00Z",
    }


def _parse(doc: dict[str, Any]) -> Pointer:
    return parse_pointer(yaml.safe_dump(doc), "deploy/hf/production.yaml")


def test_a_folder_pointer_round_trips_and_its_sha256_is_the_manifests() -> None:
    p = _parse(_doc())
    assert p.model.is_dir and [f.path for f in p.model.files] == [f["path"] for f in FILES]
    assert p.model.sha256 == manifest_sha256(p.model.files)
    assert parse_pointer(dumps_pointer(p), "again") == p
    assert p.to_dict()["model"]["files"] == FILES


def test_a_file_pointer_reads_as_before_and_writes_no_files_key() -> None:
    p = example_pointer()
    assert not p.model.is_dir and p.model.files == ()
    text = dumps_pointer(p)
    assert "files" not in text
    assert parse_pointer(text, "x") == p


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"files": FILES[::-1]}, "must be sorted by path"),
        ({"files": [FILES[0], FILES[0]]}, "without repeats"),
        ({"files": []}, "at least one file"),
        ({"size": 1}, "is not the total of the files"),
        ({"sha256": "b" * 64}, "is not the sha256 of the manifest"),
        ({"files": [{**FILES[0], "path": "../x"}]}, "plain relative path inside the model"),
        ({"files": [{**FILES[0], "path": "/etc/passwd"}]}, "plain relative path"),
        ({"files": [{**FILES[0], "md5": "xyz"}]}, "expected an md5"),
        ({"files": [{**FILES[0], "extra": 1}]}, "unknown key"),
        ({"files": "config.json"}, "expected a list"),
        ({"md5": "a" * 32}, "only a directory model (md5 ending in .dir) lists files"),
    ],
)
def test_a_malformed_manifest_is_refused_naming_the_key(change: dict[str, Any], said: str) -> None:
    doc = _doc()
    doc["model"].update(change)
    if "files" in change and "sha256" not in change and isinstance(change["files"], list):
        # keep the manifest sha256 consistent so the check under test is the one that fires
        lines = "".join(
            f"{f['sha256']} {f['size']} {f['path']}\n"
            for f in sorted(change["files"], key=lambda f: f["path"])
        )
        doc["model"]["sha256"] = hashlib.sha256(lines.encode()).hexdigest()
    with pytest.raises(ConfigError) as err:
        _parse(doc)
    message = str(err.value)
    assert said in message and "deploy/hf/production.yaml" in message and "\n" not in message


def test_a_dir_md5_without_files_is_refused() -> None:
    doc = _doc()
    del doc["model"]["files"]
    with pytest.raises(ConfigError, match=r"model\.files: missing: a directory model"):
        _parse(doc)


def test_a_file_that_is_also_a_folder_is_refused() -> None:
    files = [_file("a", b"1"), _file("a/b", b"2")]
    with pytest.raises(ConfigError, match="is both a file and a folder"):
        _parse(_doc(files))


def test_servable_names_the_one_skops_file_and_refuses_other_folders() -> None:
    skops = _file("model.skops", b"PK")
    p = _parse(_doc([FILES[0], skops]))
    one = servable(p)
    assert one.model == ModelRef("models/hf/model.skops", skops["md5"], skops["sha256"], 2)
    assert one.version == p.version and one.commit == p.commit
    assert servable(example_pointer()) == example_pointer()  # a file: unchanged
    for files in ([FILES[0]], [_file("a.skops", b"1"), _file("b.skops", b"2")]):
        with pytest.raises(ConfigError, match="serves only skops models") as err:
            servable(_parse(_doc(files)))
        assert "models/hf/" in str(err.value) and "skops.io.dump" in str(err.value)


def test_manifest_sha256_ignores_order_and_names_every_field() -> None:
    a = ModelFile("a", "0" * 32, "1" * 64, 1)
    b = ModelFile("b", "0" * 32, "2" * 64, 2)
    assert manifest_sha256([a, b]) == manifest_sha256([b, a])
    assert manifest_sha256([a, b]) != manifest_sha256([a, ModelFile("b", "0" * 32, "2" * 64, 3)])
    assert manifest_sha256([a, b]) != manifest_sha256([a, ModelFile("c", "0" * 32, "2" * 64, 2)])
