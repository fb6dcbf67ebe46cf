"""The reference dataset and the deterministic train/eval split.

The dataset is scikit-learn's Wisconsin breast-cancer table (569 rows, 30 numeric
features), shipped inside scikit-learn, so nothing is downloaded. Column names are made
snake_case, ``diagnosis`` is 1 for malignant (the positive class), and ``row_id`` is a
stable key so two models' predictions can be paired row by row.

The split hashes ``row_id`` with a seed (as TFX does with hash buckets): a row stays on the
same side when new rows arrive, so eval sets of successive data versions stay comparable.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import Section

TARGET = "diagnosis"
ROW_ID = "row_id"

#: What ``data.task`` may say: the kind of label, which decides the estimators (train) and
#: the metrics and predictions file (evaluate). Without the key a project is ``binary``.
TASKS = ("binary", "regression")
#: The regression reference's label: disease progression one year after baseline.
REGRESSION_TARGET = "progression"
#: scikit-learn's names for the diabetes blood serum measurements, and what they are.
_DIABETES_COLUMNS = {
    "s1": "tc",  # total serum cholesterol
    "s2": "ldl",  # low-density lipoproteins
    "s3": "hdl",  # high-density lipoproteins
    "s4": "tch",  # total cholesterol / HDL
    "s5": "ltg",  # log of serum triglycerides
    "s6": "glu",  # blood sugar
}


def load_reference() -> pd.DataFrame:
    """The breast-cancer table with ``row_id`` first and ``diagnosis`` last."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame[TARGET] = 1 - frame.pop("target")  # sklearn: 0 = malignant; here 1 = malignant
    frame.insert(0, ROW_ID, range(len(frame)))
    return frame


def load_regression_reference() -> pd.DataFrame:
    """scikit-learn's diabetes table (442 rows, 10 features, unscaled, shipped with
    scikit-learn): ``row_id`` first, ``progression`` (a number, 25 to 346) last."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(columns=_DIABETES_COLUMNS)
    frame[REGRESSION_TARGET] = frame.pop("target")
    frame.insert(0, ROW_ID, range(len(frame)))
    return frame


def eval_mask(row_ids: pd.Series, *, fraction: float, seed: int) -> pd.Series:
    """True for rows in the eval set: crc32(seed:row_id) bucketed into 10,000 parts."""
    cut = round(fraction * 10_000)
    buckets = row_ids.map(lambda rid: zlib.crc32(f"{seed}:{rid}".encode()) % 10_000)
    return buckets < cut


def split(
    frame: pd.DataFrame, *, id_column: str, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, eval) frames; deterministic for a given ``seed`` and ``fraction``."""
    mask = eval_mask(frame[id_column], fraction=fraction, seed=seed)
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


@dataclass(frozen=True)
class DataParams:
    """The ``data:`` section of params.yaml."""

    path: str
    target: str
    id_column: str
    eval_fraction: float
    split_seed: int
    task: str = "binary"

    @classmethod
    def from_section(cls, s: Section) -> DataParams:
        s.check_keys(["path", "target", "id_column", "eval_fraction", "split_seed", "task"])
        return cls(
            path=s.string("path"),
            target=s.string("target"),
            id_column=s.string("id_column"),
            eval_fraction=s.number("eval_fraction", min=0.05, max=0.95),
            split_seed=s.integer("split_seed"),
            task=s.string("task", "binary", choices=TASKS),
        )


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV or Parquet file; errors name the file."""
    import pandas as pd

    from mlgate.errors import DataError

    try:
        if path.endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: data file not found") from exc
    except Exception as exc:
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from exc


def feature_columns(frame: pd.DataFrame, p: DataParams) -> list[str]:
    return [c for c in frame.columns if c not in (p.target, p.id_column)]


def write_parquet(frame: pd.DataFrame, path: str) -> None:
    """Write ``frame`` as Parquet, atomically."""
    import io

    from mlgate.fileio import write_bytes

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_bytes(path, buffer.getvalue())
