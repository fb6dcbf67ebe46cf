"""Build the demo sandbox: a copy of the reference project, ``origin``, batches of new data.

The reference project is package data (:mod:`mlgate.project`), so the demo runs from any
installed wheel, in any folder.
"""

from __future__ import annotations

import re
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.git import Repo

FIRST_COMMIT = {
    "binary": "reference project (half of the data; the rest arrives later)",
    "regression": "regression reference project (diabetes progression)",
}
#: The drift: the new scanner measures tumour size larger (in standard deviations).
DRIFT_COLUMNS = ("worst_radius", "worst_perimeter", "worst_area")
DRIFT = 0.5


@dataclass(frozen=True)
class Sandbox:
    """The demo's folders: the project (a git repo), its bare origin, the queued batches."""

    root: Path

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def queue(self) -> Path:
        return self.root / "arriving"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def incoming(self) -> Path:
        return self.project / "data" / "incoming"


def copy_files(source: Path, dest: Path, names: tuple[str, ...], *ignore: str) -> None:
    """Copy ``names`` (files or folders) from ``source`` to ``dest`` (the tests' builder)."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", *ignore)
    for name in names:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=skip, dirs_exist_ok=True)
        elif src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _demo_params(text: str) -> str:
    """Release mode for CT, and drift that warns instead of stopping (the models decide)."""
    text = re.sub(r"(?m)^(  mode:\s*)pr\b", r"\1release", text)
    text = re.sub(
        r"(?m)^(    fail:\s*)[0-9.]+(.*)$",
        r"\1null                   # demo: drift warns; the post-deploy check decides",
        text,
    )
    # the demo's own pace: fewer resamples for metrics/bootstrap.json (the gate keeps its own)
    return re.sub(r"(?m)^(  bootstrap_samples:\s*)1000(\s+# resamples)", r"\g<1>200\2", text)


def split_reference(frame: pd.DataFrame, *, share: int = 50) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the sandbox's reference data, the held-back rows new batches are cut from)."""
    keep = frame["row_id"].map(lambda r: zlib.crc32(f"demo:{r}".encode()) % 100 < share)
    return frame[keep].reset_index(drop=True), frame[~keep].reset_index(drop=True)


def cut_batches(held_back: pd.DataFrame, reference: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Batches in arrival order: a bad one, then drifted ones (the new scanner)."""
    rows = held_back.sample(frac=1.0, random_state=0).reset_index(drop=True)
    std = reference.std(numeric_only=True)
    bad = rows.iloc[:30].copy()
    bad.loc[bad.index[:4], "mean_radius"] = -1.0  # a broken export: negative sizes
    rest = rows.iloc[30:].reset_index(drop=True)
    n = len(rest) // 3
    out: dict[str, pd.DataFrame] = {}
    drifted = [rest.iloc[i * n : (i + 1) * n].copy() for i in range(3)]
    for part in drifted:
        for column in DRIFT_COLUMNS:
            part[column] = (part[column] + DRIFT * std[column]).round(4)
    out["batch_001.csv"] = drifted[0]
    out["batch_002.csv"] = bad
    out["batch_003.csv"] = drifted[1]
    out["batch_004.csv"] = drifted[2]
    return out


def create(root: Path, *, repo_env: dict[str, str], task: str = "binary") -> tuple[Sandbox, Repo]:
    """Make the sandbox at ``root`` (which must not exist or be empty).

    ``task`` ``regression``: the regression project, all its data, no batches (its story is
    pull requests only: :func:`mlgate.demo.story.run_demo`).
    """
    import pandas as pd

    from mlgate.git import Repo
    from mlgate.project import write_reference

    box = Sandbox(root.resolve())
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root}: exists and is not empty; remove it or pass another folder")
    box.project.mkdir(parents=True)
    write_reference(box.project, task=task)
    params = box.project / "params.yaml"
    params.write_text(_demo_params(params.read_text()))
    box.queue.mkdir()
    box.reports.mkdir()
    if task == "binary":
        frame = pd.read_csv(box.project / "data/breast_cancer.csv")
        reference, held_back = split_reference(frame)
        reference.to_csv(box.project / "data/breast_cancer.csv", index=False)
        for name, batch in cut_batches(held_back, reference).items():
            batch.to_csv(box.queue / name, index=False)
    (box.project / "README.md").write_text(
        "# mlgate demo sandbox\n\nA copy of the mlgate reference project; see ../reports.\n"
    )
    git = Repo(box.project, repo_env)
    for args in (
        ("init", "-q", "-b", "main"),
        ("add", "-A"),
        ("commit", "-q", "-m", FIRST_COMMIT[task]),
        ("init", "-q", "--bare", "-b", "main", str(box.origin)),
        ("remote", "add", "origin", str(box.origin)),
        ("push", "-q", "-u", "origin", "main"),
        ("remote", "set-head", "origin", "main"),
    ):
        git.run(*args)
    return box, git
