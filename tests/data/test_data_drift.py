"""Drift: exact binning, PSI and approximate KS, and seeded shifted/identical samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlgate.data import infer as infer_module
from mlgate.data.drift import BinCounter, categorical_drift, numeric_drift, psi
from mlgate.data.infer import infer
from mlgate.data.profile import ColumnProfile
from mlgate.data.validate import Limit, Thresholds, validate_file

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    edges=st.lists(finite, min_size=0, max_size=30, unique=True).map(sorted),
    values=hnp.arrays(np.float64, st.integers(0, 3000), elements=finite),
    chunk=st.integers(1, 5000),
)
def test_bin_counter_matches_searchsorted(
    edges: list[float], values: np.ndarray, chunk: int
) -> None:
    counter = BinCounter(tuple(edges))
    counter.CHUNK = 257  # exercise chunk boundaries  # type: ignore[misc]
    counter._pos = np.empty(257)
    counter._cells = np.empty(257, dtype=np.intp)
    for start in range(0, len(values), chunk):
        counter.add(values[start : start + chunk])
    expected = np.bincount(
        np.searchsorted(np.asarray(edges), values, side="left"), minlength=len(edges) + 1
    )
    assert counter.counts.tolist() == expected.tolist()


@settings(max_examples=60, deadline=None)
@given(
    edges=st.lists(st.floats(-1e4, 1e4), min_size=0, max_size=30, unique=True).map(sorted),
    values=hnp.arrays(
        st.sampled_from([np.int64, np.int32, np.uint8, np.uint32]),
        st.integers(0, 2000),
        elements=st.integers(0, 255),
    ),
    offset=st.sampled_from([0, -5000, 10**12]),
)
def test_bin_counter_integer_path_matches_searchsorted(
    edges: list[float], values: np.ndarray, offset: int
) -> None:
    if offset and values.dtype.kind == "u":
        offset = 0
    shifted = values.astype(np.int64) + offset if offset else values
    counter = BinCounter(tuple(e + offset for e in edges))
    counter.add(shifted)
    expected = np.bincount(
        np.searchsorted(counter.edges, shifted, side="left"), minlength=len(edges) + 1
    )
    assert counter.counts.tolist() == expected.tolist()


def test_bin_counter_values_on_edges_and_integers() -> None:
    counter = BinCounter((1.0, 2.0, 3.0))
    counter.add(np.array([0, 1, 1, 2, 3, 4, 100], dtype=np.int64))
    counter.add(np.array([1.0000001, 2.9999999, -np.inf, np.inf]))
    assert counter.counts.tolist() == [4, 2, 2, 3]


def test_psi_basics() -> None:
    ref = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(ref, ref, floor=1e-4) == 0.0
    shifted = np.array([0.1, 0.2, 0.3, 0.4])
    assert psi(ref, shifted, floor=1e-4) == pytest.approx(0.2282, abs=1e-3)
    empty = np.array([0.0, 0.0, 0.5, 0.5])  # floored, finite
    assert np.isfinite(psi(ref, empty, floor=1e-4)) and psi(ref, empty, floor=1e-4) > 1


def _profile_of(sample: np.ndarray) -> ColumnProfile:
    edges = np.unique(np.quantile(sample, np.arange(1, 100) / 100))
    counter = BinCounter(edges)
    counter.add(sample)
    return ColumnProfile(
        kind="numeric",
        edges=tuple(edges),
        frequencies=tuple(counter.counts / counter.counts.sum()),
    )


def _exact_ks(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_approximate_ks_is_close_to_the_exact_statistic(shift: float) -> None:
    rng = np.random.default_rng(11)
    ref, cur = rng.normal(size=20_000), rng.normal(shift, 1.0, size=20_000)
    profile = _profile_of(ref)
    counter = BinCounter(profile.edges)
    counter.add(cur)
    _, ks = numeric_drift(profile, counter.counts, floor=1e-4)
    assert ks == pytest.approx(_exact_ks(ref, cur), abs=0.015)


def test_categorical_psi_new_category_and_missing_one() -> None:
    profile = ColumnProfile(kind="categorical", categories={"a": 0.5, "b": 0.5})
    assert categorical_drift(profile, {"a": 50, "b": 50}, floor=1e-4) == 0.0
    assert categorical_drift(profile, {"a": 50, "b": 40, "new": 10}, floor=1e-4) > 0.25
    assert categorical_drift(profile, {"a": 100}, floor=1e-4) > 1


def _table(seed: int, n: int, *, shift: float = 0.0, mix: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    p = np.array([0.5, 0.3, 0.2])
    if mix:
        p = (1 - mix) * p + mix * np.array([0.1, 0.2, 0.7])
    return pa.table(
        {
            "id": np.arange(n),
            "x": rng.normal(10 + shift, 2.0, n),
            "k": rng.poisson(5, n),
            "c": np.array(["red", "green", "blue"])[rng.choice(3, n, p=p)],
        }
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, object]:
    d = tmp_path_factory.mktemp("ref")
    pq.write_table(_table(1, 20_000), d / "ref.parquet")
    schema, profile = infer(str(d / "ref.parquet"))
    return d, schema, profile


def test_identically_distributed_sample_is_not_flagged(reference: tuple) -> None:  # type: ignore[type-arg]
    d, schema, profile = reference
    pq.write_table(_table(2, 20_000), d / "same.parquet")
    result = validate_file(str(d / "same.parquet"), schema=schema, profile=profile)
    assert result.findings == (), result.findings
    scores = {c.name: (c.psi, c.ks) for c in result.columns}
    assert scores["id"] == (None, None)  # a key is not profiled
    assert scores["x"][0] < 0.01 and scores["x"][1] < 0.03
    assert scores["c"][0] < 0.01 and scores["c"][1] is None


def test_shifted_distribution_is_flagged(reference: tuple) -> None:  # type: ignore[type-arg]
    d, schema, profile = reference
    pq.write_table(_table(3, 20_000, shift=1.0, mix=0.5), d / "shifted.parquet")
    result = validate_file(str(d / "shifted.parquet"), schema=schema, profile=profile)
    drift = {(f.column, f.check): f for f in result.findings if f.check.startswith("drift")}
    assert drift[("x", "drift.psi")].level == "violation"
    assert drift[("x", "drift.ks")].level == "violation"
    assert drift[("c", "drift.psi")].level == "violation"
    assert ("k", "drift.psi") not in drift
    assert not result.passed
    # per-column overrides and warn-only thresholds
    lenient = Thresholds(
        psi=Limit(warn=0.1, fail=None),
        ks=Limit(warn=None, fail=None),
        columns={"c": {"psi": Limit(warn=None, fail=None)}},
    )
    relaxed = validate_file(
        str(d / "shifted.parquet"), schema=schema, profile=profile, thresholds=lenient
    )
    assert relaxed.passed
    assert [(f.column, f.check, f.level) for f in relaxed.findings] == [
        ("x", "drift.psi", "warning")
    ]


def test_infer_thins_the_sample_and_counts_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infer_module, "SAMPLE", 1000)
    table = _table(4, 10_000)
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=1500)
    _, profile = infer(str(tmp_path / "d.parquet"))
    x = profile.columns["x"]
    counter = BinCounter(x.edges)
    counter.add(np.asarray(table.column("x")))
    assert list(x.frequencies) == pytest.approx(list(counter.counts / 10_000))
    assert 60 < len(x.edges) <= 99  # quantiles of a 1,000-value systematic sample
