"""Is the pipeline up to date at a commit? Checked from git objects, without a checkout.

A release must ship what ``dvc.lock`` says was produced: at the tagged commit, every
git-tracked output (the metrics) must have the md5 the lock records, the params the lock
records must equal ``params.yaml``, and git-tracked file dependencies must match too.
The model is a DVC output (a file or a folder): the lock's md5 and size name the object to push.
(DVC 3 ``hash: md5`` is the plain md5 of the file's bytes: https://dvc.org/doc/user-guide/project-structure/dvcyaml-files#dvclock-file.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mlgate.config import loads_yaml
from mlgate.errors import DataError
from mlgate.git import Repo

LOCK_PATH = "dvc.lock"


@dataclass(frozen=True)
class LockedModel:
    """The model output as ``dvc.lock`` records it at one commit."""

    path: str
    md5: str  # ``<32 hex>.dir`` for a folder: DVC's listing object
    size: int  # bytes (a folder: the total of its files)

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


_MISSING = object()


def _lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def check_pipeline(repo: Repo, rev: str, *, label: str, model_path: str) -> LockedModel:
    """Check that ``dvc.lock`` at ``rev`` matches the files committed there; return the model.

    ``label`` names the revision in messages (a tag such as ``v1.2.0``). Raises DataError
    naming the stale file and the fix (`dvc repro`, commit, tag again).
    """
    check = _LockCheck(repo, rev, label=label)
    model: LockedModel | None = None
    for stage_name, stage in check.stages().items():
        if not isinstance(stage, dict):
            continue
        model = check.outs(stage_name, stage.get("outs") or [], model_path) or model
        check.deps(stage_name, stage.get("deps") or [])
        check.params(stage_name, stage.get("params") or {})
    if model is None or len(model.md5.removesuffix(".dir")) != 32 or model.size < 0:
        raise DataError(
            f"{label}: dvc.lock at {rev[:12]} records no output {model_path} (with md5 and "
            f"size), the path dvc.yaml declares under `artifacts:`; make it a stage output "
            f"(`outs: [{model_path}]`), run `dvc repro`, commit dvc.lock and tag again, or fix "
            "the artifact's `path:`"
        )
    return model


class _LockCheck:
    """The steps of :func:`check_pipeline`: each holds one part of a stage in ``dvc.lock``
    (outs, deps, params) to the files committed at ``rev`` (each file read once)."""

    def __init__(self, repo: Repo, rev: str, *, label: str) -> None:
        self.repo, self.rev, self.label = repo, rev, label
        self.fix = f"run `dvc repro` and commit dvc.lock with its outputs, then tag again ({label})"
        self._files: dict[str, bytes | None] = {}

    def at_rev(self, path: str) -> bytes | None:
        if path not in self._files:
            self._files[path] = self.repo.show(self.rev, path)
        return self._files[path]

    def stages(self) -> dict[str, Any]:
        """The ``stages:`` of ``dvc.lock`` at the revision."""
        raw = self.repo.show(self.rev, LOCK_PATH)
        if raw is None:
            raise DataError(f"{self.label}: no dvc.lock at {self.rev[:12]}; {self.fix}")
        lock = loads_yaml(raw, f"{self.label}:{LOCK_PATH}")
        stages = lock.get("stages") if isinstance(lock, dict) else None
        if not isinstance(stages, dict):
            raise DataError(f"{self.label}:{LOCK_PATH}: no stages recorded; {self.fix}")
        return stages

    def outs(self, stage_name: str, outs: list[Any], model_path: str) -> LockedModel | None:
        """Check a stage's committed outputs; the model's entry when this stage writes it."""
        model = None
        for entry in outs:
            path, md5 = entry.get("path"), str(entry.get("md5", ""))
            if path == model_path:
                if entry.get("hash") != "md5":  # DVC 2 locks: md5-dos2unix, another remote layout
                    raise DataError(
                        f"{self.label}: dvc.lock records {path} with DVC 2 hashes; run `dvc repro` "
                        "(or `dvc cache migrate --dvc-files`) with DVC 3 and tag again"
                    )
                # a folder (md5 ``<32 hex>.dir``): size is the total of its files
                model = LockedModel(path, md5, int(entry.get("size", -1)))
                continue
            if md5.endswith(".dir"):
                continue
            data = self.at_rev(path)
            if data is not None and _md5(data) != md5:
                raise DataError(
                    f"{self.label}: {path} does not match dvc.lock (stage {stage_name}): the "
                    f"pipeline is not up to date at {self.rev[:12]}; {self.fix}"
                )
        return model

    def deps(self, stage_name: str, deps: list[Any]) -> None:
        for entry in deps:
            path, md5 = entry.get("path"), str(entry.get("md5", ""))
            if not path or md5.endswith(".dir"):
                continue
            data = self.at_rev(path)
            if data is not None and _md5(data) != md5:
                raise DataError(
                    f"{self.label}: {path} changed since dvc.lock was written (stage "
                    f"{stage_name}): the pipeline is not up to date at {self.rev[:12]}; {self.fix}"
                )

    def params(self, stage_name: str, params: dict[str, Any]) -> None:
        for params_file, values in params.items():
            data = self.at_rev(params_file)
            current = loads_yaml(data, f"{self.label}:{params_file}") if data is not None else None
            for key, recorded in (values or {}).items():
                if _lookup(current, key) != recorded:
                    raise DataError(
                        f"{self.label}: {params_file}: {key} differs from what dvc.lock recorded "
                        f"(stage {stage_name}): the pipeline is not up to date at "
                        f"{self.rev[:12]}; {self.fix}"
                    )


def read_scores(repo: Repo, rev: str, *, path: str) -> dict[str, float]:
    """The numbers of the metrics file ``path`` at ``rev``, read as the gate reads it.

    Empty when the file cannot be read there (the gate has already judged the release).
    """
    from mlgate.errors import MlgateError
    from mlgate.metrics.read import RevisionReader, flatten, is_number, load_metrics

    reader = RevisionReader(repo, rev)
    try:
        raw = reader.read(path)
        if raw is None:
            return {}
        flat = flatten(load_metrics(raw, reader.source(path)), reader.source(path))
    except MlgateError:
        return {}
    finally:
        reader.close()
    return {
        k: float(v) for k, v in flat.items() if is_number(v) and v == v and abs(v) != float("inf")
    }
