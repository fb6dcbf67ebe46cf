"""``mlgate init``: write the GitHub Actions workflows, a default gate policy and ``deploy/``.

The workflows are package data (``mlgate/templates/workflows``) and are written byte for
byte: mlgate's own ``.github/workflows`` are the same files (tests/test_init.py checks it), so
what a user gets is what mlgate runs itself. Nothing the user changed is overwritten without
``force``; an existing ``gate:`` policy is never touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.config import Section, loads_yaml
from mlgate.errors import ConfigError, DataError
from mlgate.fileio import loads_json, write_text
from mlgate.git import Repo

WORKFLOWS_DIR = ".github/workflows"
WORKFLOWS = ("pr.yml", "pr-comment.yml", "release.yml", "deploy.yml", "rollback.yml", "ct.yml")
PARAMS_FILE = "params.yaml"
REQUIREMENTS_FILE = "requirements.txt"
DEPLOY_README = "deploy/README.md"
DVC_CONFIG = ".dvc/config"

#: Metrics a default rule prefers, best first (flat keys as DVC shows them; suffix match).
PREFERRED_METRICS = ("roc_auc", "auc", "average_precision", "f1", "accuracy", "r2")

CREATED, UNCHANGED, OVERWRITTEN, APPENDED, UPDATED, KEPT = (
    "created",
    "unchanged",
    "overwritten",
    "appended",
    "updated",
    "kept",
)


@dataclass(frozen=True)
class FileAction:
    """What ``init`` did to one file (``path`` relative to the repository root)."""

    path: str
    action: str
    note: str = ""


@dataclass(frozen=True)
class InitResult:
    """The files ``init`` wrote or left alone, and warnings for the user."""

    root: Path
    files: tuple[FileAction, ...]
    warnings: tuple[str, ...] = ()


def template_text(name: str) -> str:
    """The text of ``mlgate/templates/<name>`` (a ``/``-separated path)."""
    node = resources.files("mlgate").joinpath("templates")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")


def workflow_templates() -> dict[str, str]:
    """``.github/workflows/<name>`` -> text, for every workflow ``init`` writes."""
    return {f"{WORKFLOWS_DIR}/{name}": template_text(f"workflows/{name}") for name in WORKFLOWS}


def init_project(
    start: str | Path = ".", *, force: bool = False, environ: Mapping[str, str] | None = None
) -> InitResult:
    """Scaffold mlgate into the git + DVC repository containing ``start``.

    Raises ConfigError, before writing anything, when a file would be overwritten that
    differs from mlgate's version and ``force`` is False, or when the repository has no DVC.
    """
    repo = Repo.find(start, env=environ)
    root = repo.root
    if not (root / ".dvc").is_dir():
        raise ConfigError(f"{root}: not a DVC project (no .dvc/); run `dvc init` first")

    planned = workflow_templates()
    conflicts = [
        path
        for path, text in planned.items()
        if (root / path).is_file() and (root / path).read_text(encoding="utf-8") != text
    ]
    if conflicts and not force:
        listed = ", ".join(conflicts)
        raise ConfigError(
            f"{listed}: differ from mlgate's version; rerun with `mlgate init --force` to "
            "overwrite (commit or save your changes first)"
        )

    actions: list[FileAction] = []
    warnings: list[str] = []
    for path, text in planned.items():
        target = root / path
        if not target.is_file():
            write_text(target, text)
            actions.append(FileAction(path, CREATED))
        elif path in conflicts:
            write_text(target, text)
            actions.append(FileAction(path, OVERWRITTEN))
        else:
            actions.append(FileAction(path, UNCHANGED))

    if (root / DEPLOY_README).exists():  # a README of the user's own is fine: keep it
        actions.append(FileAction(DEPLOY_README, KEPT))
    else:
        write_text(root / DEPLOY_README, template_text("deploy/README.md"))
        actions.append(FileAction(DEPLOY_README, CREATED))
    actions.append(_requirements(root, warnings))
    actions.append(_gate_policy(root, warnings))
    if (remote := _verify_remotes(root, warnings)) is not None:
        actions.append(remote)
    return InitResult(root=root, files=tuple(actions), warnings=tuple(warnings))


def _requirements(root: Path, warnings: list[str]) -> FileAction:
    target = root / REQUIREMENTS_FILE
    if not target.is_file():
        write_text(target, template_text("requirements.txt").replace("{version}", __version__))
        return FileAction(REQUIREMENTS_FILE, CREATED)
    lines = [line.split("#")[0].strip() for line in target.read_text(encoding="utf-8").splitlines()]
    if not any("mlgate" in line.lower() or line in (".", "-e .") for line in lines):
        warnings.append(
            f"{REQUIREMENTS_FILE}: does not name mlgate; add `mlgate=={__version__}` "
            "(the workflows install this file)"
        )
    return FileAction(REQUIREMENTS_FILE, KEPT)


def _gate_policy(root: Path, warnings: list[str]) -> FileAction:
    """Append a default ``gate:`` section to params.yaml unless one exists."""
    target = root / PARAMS_FILE
    existing = target.read_text(encoding="utf-8") if target.is_file() else ""
    params = loads_yaml(existing, PARAMS_FILE) if existing.strip() else None
    if params is not None and not isinstance(params, dict):
        raise ConfigError(f"{PARAMS_FILE}: expected a mapping at the top level")
    if params and "gate" in params:
        return FileAction(PARAMS_FILE, KEPT, "has a gate: policy already")

    found = default_rule_metric(root)
    if found is None:
        metrics_file, metric = "metrics.json", "accuracy"
        warnings.append(
            f"{PARAMS_FILE}: no metrics found in dvc.yaml to gate on; edit gate.rules "
            f"(it names {metric!r} in {metrics_file} as a placeholder)"
        )
    else:
        metrics_file, metric = found
    block = (
        template_text("gate.yaml")
        .replace("{metrics_file}", metrics_file)
        .replace("{metric}", metric)
    )
    _check_policy(block)
    if existing and not existing.endswith("\n"):
        existing += "\n"
    write_text(target, (existing + block) if existing else block.lstrip("\n"))
    return FileAction(
        PARAMS_FILE, APPENDED if existing else CREATED, f"gate on {metric} ({metrics_file})"
    )


def _check_policy(block: str) -> None:
    """The default policy must parse with the gate's own loader (shape drift is a bug)."""
    from mlgate.gate.policy import load_policy

    data = loads_yaml(block, PARAMS_FILE)
    load_policy(Section(data["gate"], file=PARAMS_FILE, where="gate"))


def default_rule_metric(root: Path) -> tuple[str, str] | None:
    """``(metrics file, flat key)`` for a default rule, from the metrics dvc.yaml declares."""
    candidates: list[tuple[str, str]] = []
    for path in _declared_metrics(root):
        file = root / path
        if not file.is_file() or file.suffix != ".json":
            continue
        try:
            data = loads_json(file.read_text(encoding="utf-8"), path)
        except (DataError, UnicodeDecodeError):
            continue
        candidates.extend((path, key) for key in _flat_numbers(data))
    for wanted in PREFERRED_METRICS:
        for path, key in candidates:
            if key == wanted or key.endswith(f".{wanted}"):
                return path, key
    return candidates[0] if candidates else None


def _declared_metrics(root: Path) -> list[str]:
    dvc_yaml = root / "dvc.yaml"
    if not dvc_yaml.is_file():
        return []
    data = loads_yaml(dvc_yaml.read_text(encoding="utf-8"), "dvc.yaml") or {}
    entries: list[Any] = list(data.get("metrics") or [])
    for stage in (data.get("stages") or {}).values():
        if isinstance(stage, dict):
            entries.extend(stage.get("metrics") or [])
    paths: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            paths.append(entry)
        elif isinstance(entry, dict):
            paths.extend(str(key) for key in entry)
    return paths


def _flat_numbers(data: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _flat_numbers(value, f"{prefix}{key}.")
    elif isinstance(data, int | float) and not isinstance(data, bool) and math.isfinite(data):
        yield prefix.rstrip(".")


def _verify_remotes(root: Path, warnings: list[str]) -> FileAction | None:
    """Set ``verify = true`` on every DVC remote of the project config: DVC's default
    (false) accepts a tampered object from the remote without a word."""
    from dvc.config import Config

    config = Config(dvc_dir=str(root / ".dvc"), validate=True)
    remotes: dict[str, dict[str, Any]] = config.read("repo").get("remote", {})
    if not remotes:
        warnings.append(
            "no DVC remote configured: add one for releases, e.g. `dvc remote add -d storage "
            "s3://bucket/path && dvc remote modify storage verify true`"
        )
        return None
    unverified = [
        name for name, conf in remotes.items() if str(conf.get("verify")).lower() != "true"
    ]
    if not unverified:
        return FileAction(DVC_CONFIG, KEPT, "verify = true on every remote")
    with config.edit("repo") as conf:
        for name in unverified:
            conf["remote"][name]["verify"] = True
    return FileAction(DVC_CONFIG, UPDATED, f"verify = true on {', '.join(unverified)}")
