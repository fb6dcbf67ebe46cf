"""mlgate.ml.dataset: the train/eval split by a hash of row_id, and CT's held-out rows."""

from __future__ import annotations

import zlib

import pandas as pd
import pytest

from mlgate.ct.scoring import held_out_rows
from mlgate.errors import DataError
from mlgate.ml.dataset import DataParams, eval_mask, load_reference, split

DATA = DataParams("data/breast_cancer.csv", "diagnosis", "row_id", 0.3, 42)


def test_eval_mask_is_the_documented_hash_bucket() -> None:
    """crc32(f"{seed}:{row_id}") % 10,000 below fraction x 10,000: the same rows on every
    machine and in every version (the eval set must not move under a committed dvc.lock)."""
    ids = pd.Series([0, 1, 2, 17, 568, "a-key"])
    by_hand = [zlib.crc32(f"42:{rid}".encode()) % 10_000 < 3_000 for rid in ids]
    assert eval_mask(ids, fraction=0.3, seed=42).tolist() == by_hand
    assert any(by_hand) and not all(by_hand)  # both sides are exercised


def test_eval_mask_depends_on_each_row_alone() -> None:
    ids = pd.Series(range(2_000))
    mask = eval_mask(ids, fraction=0.3, seed=42)
    assert 0.27 < mask.mean() < 0.33
    # new rows, another order: every old row keeps its side
    grown = pd.Series([*range(5_000, 5_500), *reversed(range(2_000))])
    again = eval_mask(grown, fraction=0.3, seed=42)
    side = dict(zip(grown, again, strict=True))
    assert all(side[i] == mask[i] for i in range(2_000))
    assert not eval_mask(ids, fraction=0.3, seed=7).equals(mask)  # the seed matters
    assert not eval_mask(ids, fraction=0.0, seed=42).any()
    assert eval_mask(ids, fraction=1.0, seed=42).all()


def test_split_is_a_partition_by_the_mask() -> None:
    frame = load_reference()
    train, evaluation = split(frame, id_column="row_id", fraction=0.3, seed=42)
    assert len(train) + len(evaluation) == len(frame)
    assert set(train["row_id"]).isdisjoint(evaluation["row_id"])
    mask = eval_mask(frame["row_id"], fraction=0.3, seed=42)
    assert sorted(evaluation["row_id"]) == sorted(frame.loc[mask, "row_id"])


def test_ct_held_out_rows_are_never_trained_on() -> None:
    """A batch's held-out rows are exactly its rows on the eval side of the pipeline's split
    of reference + batch: the retrained model never sees them."""
    reference = load_reference()
    batch = reference.iloc[:200].copy()
    batch["row_id"] = range(100_000, 100_200)
    held = held_out_rows(batch, DATA, source="batch_001.csv")
    train, evaluation = split(
        pd.concat([reference, batch], ignore_index=True),
        id_column=DATA.id_column,
        fraction=DATA.eval_fraction,
        seed=DATA.split_seed,
    )
    batch_ids = set(batch["row_id"])
    assert set(held["row_id"]) == set(evaluation["row_id"]) & batch_ids
    assert set(held["row_id"]).isdisjoint(train["row_id"])
    assert set(train["row_id"]) & batch_ids, "the rest of the batch is trained on"
    assert 40 < len(held) < 80


def test_too_few_held_out_rows_is_an_error_naming_the_batch() -> None:
    batch = load_reference().iloc[:5]
    with pytest.raises(DataError, match=r"tiny\.csv: only \d+ held-out rows"):
        held_out_rows(batch, DATA, source="tiny.csv")
