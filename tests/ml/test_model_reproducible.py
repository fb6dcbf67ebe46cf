"""The same commit gives the same model bytes: canonical skops files (mlgate.ml.canonical)."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from mlgate.errors import DataError
from mlgate.ml import model
from mlgate.ml.canonical import ZIP_DATE, canonicalize
from tests.conftest import copy_project, git, init_repo, run

MODEL = "models/model.skops"


def _fitted(name: str) -> Any:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = (x[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int)
    p = model.TrainParams(model=name, random_state=3, n_estimators=4, max_depth=2)
    return model.build_estimator(p).fit(x, y), x


def _ids(data: bytes) -> list[int]:
    """Every ``__id__`` in schema.json, in document order."""
    found: list[int] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if "__loader__" in v:
                found.append(v["__id__"])
            for child in v.values():
                walk(child)
        elif isinstance(v, list):
            for child in v:
                walk(child)

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        walk(json.loads(z.read("schema.json")))
    return found


@pytest.mark.parametrize("name", model.MODELS)
def test_same_model_same_bytes_whatever_the_ids(name: str) -> None:
    import skops.io as sio

    estimator, x = _fitted(name)
    first = model.dumps(estimator)
    clutter = [np.zeros(3) for _ in range(500)]  # other objects, so ids move
    twin = copy.deepcopy(estimator)  # the same model in new objects: every id differs
    raw = sio.dumps(twin)
    assert raw != sio.dumps(estimator)  # what skops alone gives: the test would see a break
    assert model.dumps(twin) == first
    assert canonicalize(first) == first  # a fixed point
    del clutter

    loaded = model.loads(first, "canonical")  # mlgate's allow-list loader, as before
    np.testing.assert_array_equal(loaded.predict_proba(x), estimator.predict_proba(x))
    plain = sio.loads(first, trusted=sio.get_untrusted_types(data=first))  # skops itself
    np.testing.assert_array_equal(plain.predict(x), estimator.predict(x))


def test_entries_are_numbered_dated_and_ids_keep_their_sharing() -> None:
    import skops.io as sio

    estimator, _ = _fitted("logistic_regression")
    raw = sio.dumps(estimator)
    data = canonicalize(raw)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
    names = [i.filename for i in infos]
    assert names[0] == "schema.json"
    assert names[1:] == [f"{n}.npy" for n in range(1, len(names))]
    assert all(i.date_time == ZIP_DATE and i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert all(i.external_attr >> 16 == 0o100644 and i.create_system == 3 for i in infos)

    old, new = _ids(raw), _ids(data)
    assert sorted(set(new)) == list(range(1, len(set(new)) + 1))
    # the same places share an id before and after: a renaming, nothing merged or split
    assert len(set(zip(old, new, strict=True))) == len(set(old)) == len(set(new))


def test_padding_of_structured_arrays_is_zeroed_values_kept() -> None:
    import skops.io as sio

    inner = np.dtype({"names": ["a", "b"], "formats": ["<i8", "u1"], "itemsize": 16})
    dtype = np.dtype({"names": ["x", "y", "z"], "formats": ["u1", inner, ("<f4", (2,))],
                      "offsets": [0, 8, 32], "itemsize": 48})  # fmt: skip
    values = np.zeros(3, dtype)
    values["x"], values["y"]["a"], values["y"]["b"], values["z"] = 1, 2, 3, 4.5
    dirty = values.copy()
    raw = dirty.view(np.uint8).reshape(3, dtype.itemsize)
    raw[:, [1, 7, 17, 23, 40, 47]] = 0xFF  # gaps after x, inside y, after y, after z
    saved = [io.BytesIO(), io.BytesIO()]
    np.save(saved[0], dirty)
    np.save(saved[1], values)
    assert saved[0].getvalue() != saved[1].getvalue()  # numpy writes the gaps as they are

    data = canonicalize(sio.dumps(dirty))
    assert data == canonicalize(sio.dumps(values))
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert loaded.dtype == dtype
    assert loaded.tobytes() == values.tobytes()


def test_an_entry_the_schema_does_not_name_is_refused() -> None:
    import skops.io as sio

    buf = io.BytesIO(sio.dumps(np.arange(3)))
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("stray.bin", b"x")
    with pytest.raises(DataError, match=r"entries it does not name: stray\.bin"):
        canonicalize(buf.getvalue())


@pytest.mark.slow
def test_two_fresh_builds_give_the_committed_model(tmp_path: Path, env: dict[str, str]) -> None:
    md5s = []
    for clone in ("a", "b"):
        proj = copy_project(tmp_path / clone)
        init_repo(proj, env)
        # As in a clone with `pip install -e .`: the stages import the clone's own sources,
        # and Python writes __pycache__ beside them (inside the stages' dependencies).
        build = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        build["PYTHONPATH"] = str(proj / "src")
        run(["dvc", "repro", "--quiet"], cwd=proj, env=build)
        assert (proj / "src/mlgate/ml/__pycache__").is_dir()
        md5s.append(hashlib.md5((proj / MODEL).read_bytes(), usedforsecurity=False).hexdigest())
        # nothing git tracks changed: dvc.lock and the metrics are as committed
        assert git("status", "--porcelain", "--untracked-files=no", cwd=proj, env=env) == ""
    lock = yaml.safe_load((proj / "dvc.lock").read_text())
    (recorded,) = [o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == MODEL]
    assert md5s == [recorded, recorded]
