"""``mlgate init``: read the repository, then write the workflows, a gate policy, ``deploy/``.

It reads first (:mod:`mlgate.survey`): the metrics and their values as DVC reads them, the
models ``dvc.yaml`` declares, the project's dependency files, the ``gate:`` and ``ct:``
sections of ``params.yaml``. Then it plans every file and writes the plan (``dry_run``: only
returns it). The workflows are package data (``mlgate/templates/workflows``) written byte for
byte: mlgate's own ``.github/workflows`` are the same files (tests/test_init.py checks it).
``ct.yml`` is written only for a repository with a ``ct:`` section (or when asked). Nothing
the user changed is overwritten without ``force``; an existing ``gate:`` policy and the
user's ``requirements.txt`` lines are never touched (mlgate is appended to the latter).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from mlgate.errors import ConfigError
from mlgate.fileio import write_text
from mlgate.git import Repo
from mlgate.survey import (
    MLGATE_FROM_GIT,
    MLGATE_FROM_GIT_COMMENT,
    PARAMS_FILE,
    PYPROJECT,
    REQUIREMENTS_FILE,
    Survey,
    check_policy,
    draft_rules,
    has_placeholders,
    names_mlgate,
    policy_metrics,
    policy_source,
    requirements_text,
    survey,
)

WORKFLOWS_DIR = ".github/workflows"
WORKFLOWS = (
    "pr.yml",
    "pr-comment.yml",
    "outputs.yml",
    "release.yml",
    "deploy.yml",
    "rollback.yml",
    "ct.yml",
)
CT_WORKFLOW = "ct.yml"
#: What ``init --gitlab`` writes instead of the workflows (template ``gitlab-ci.yml``).
GITLAB_CI_FILE = ".gitlab-ci.yml"
#: The image digest placeholder of the GitLab template (``init`` warns until it is replaced).
IMAGE_DIGEST_PLACEHOLDER = "sha256:PYTHON_IMAGE_DIGEST"
DEPLOY_README = "deploy/README.md"
DVC_CONFIG = ".dvc/config"


class Action(StrEnum):
    """What ``init`` does (or, in a dry run, would do) to one file."""

    CREATED = "created"
    OVERWRITTEN = "overwritten"
    APPENDED = "appended"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept"
    SKIPPED = "skipped"

    @property
    def writes(self) -> bool:
        return self in (Action.CREATED, Action.OVERWRITTEN, Action.APPENDED, Action.UPDATED)

    @property
    def planned(self) -> str:
        """The dry run's wording: ``would create``."""
        verbs = {"created": "create", "overwritten": "overwrite", "appended": "append to"}
        return f"would {verbs.get(self.value, 'update')}" if self.writes else self.value


@dataclass(frozen=True)
class FileAction:
    """What ``init`` did to one file (``path`` relative to the repository root)."""

    path: str
    action: Action
    note: str = ""


@dataclass(frozen=True)
class InitResult:
    """What ``init`` read, the files it wrote or left alone, and what it could not infer.

    ``found`` and ``warnings`` are one line each; ``dry_run``: nothing was written.
    """

    root: Path
    files: tuple[FileAction, ...]
    found: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def wrote(self) -> bool:
        """Whether some file was (or, in a dry run, would be) written."""
        return any(f.action.writes for f in self.files)


@dataclass(frozen=True)
class _Step:
    action: FileAction
    write: Callable[[], None] | None = None


def template_text(name: str) -> str:
    """The text of ``mlgate/templates/<name>`` (a ``/``-separated path)."""
    node = resources.files("mlgate").joinpath("templates")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")


def workflow_templates(names: tuple[str, ...] = WORKFLOWS) -> dict[str, str]:
    """``.github/workflows/<name>`` -> text, for the workflows ``init`` writes."""
    return {f"{WORKFLOWS_DIR}/{name}": template_text(f"workflows/{name}") for name in names}


def init_project(
    start: str | Path = ".",
    *,
    force: bool = False,
    ct: bool = False,
    dry_run: bool = False,
    mlgate: str = MLGATE_FROM_GIT,
    environ: Mapping[str, str] | None = None,
    gitlab: bool = False,
) -> InitResult:
    """Read the git + DVC repository containing ``start``, then scaffold mlgate into it.

    Raises ConfigError, before writing anything, when a workflow would be overwritten that
    differs from mlgate's version and ``force`` is False, or when the repository has no DVC.
    ``ct`` writes ``ct.yml`` even without a ``ct:`` section; ``dry_run`` writes nothing.
    ``mlgate`` is the requirement line that installs mlgate in the workflows (default: from
    its git repository, with placeholders to fill; e.g. ``mlgate==0.2.0`` from an index).
    ``gitlab`` writes ``.gitlab-ci.yml`` (GitLab CI) instead of ``.github/workflows``.
    """
    repo = Repo.find(start, env=environ)
    root = repo.root
    if not (root / ".dvc").is_dir():
        raise ConfigError(f"{root}: not a DVC project (no .dvc/); run `dvc init` first")
    found = survey(repo)
    warnings = _what_is_missing(found, ct=ct)
    if gitlab:
        steps = _pipeline_files(root, {GITLAB_CI_FILE: template_text("gitlab-ci.yml")}, force)
        current = root / GITLAB_CI_FILE
        kept = current.is_file() and steps[0].write is None
        if not kept or IMAGE_DIGEST_PLACEHOLDER in current.read_text(encoding="utf-8"):
            warnings.append(
                f"{GITLAB_CI_FILE}: replace {IMAGE_DIGEST_PLACEHOLDER} with the digest of the "
                "python image you trust (every image is pinned by digest)"
            )
    else:
        steps = _workflows(root, found, ct=ct, force=force)
    steps.append(_deploy_readme(root))
    steps.append(_requirements(root, found, warnings, mlgate))
    steps.append(_gate_policy(root, found))
    steps.append(_verify_remotes(root, warnings))
    if not dry_run:
        for step in steps:
            if step.write is not None:
                step.write()
    return InitResult(
        root=root,
        files=tuple(s.action for s in steps if s.action.path),
        found=tuple(_what_was_found(found)),
        warnings=tuple(warnings),
        dry_run=dry_run,
    )


def _what_was_found(s: Survey) -> list[str]:
    out = []
    for file in s.metrics:
        keys = list(file.values)
        shown = ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")
        out.append(f"metrics {file.path}: {shown}")
    out += [f"model {m.name}: {m.path}" for m in s.models]
    if s.dependencies.install:
        named = [line.removeprefix("-r ") for line in s.dependencies.install]
        out.append("dependencies: " + ", ".join(PYPROJECT if n == "." else n for n in named))
    return out


def _what_is_missing(s: Survey, *, ct: bool) -> list[str]:
    """One line per thing ``init`` could not infer, with what to do about it."""
    out = list(s.metrics_errors)
    if not s.metrics and not s.metrics_errors and not s.has_gate:
        out.append(
            "dvc.yaml declares no metrics with numbers: add the file your evaluation writes "
            "under `metrics:`, then rerun `mlgate init` to write the gate policy"
        )
    if not s.models:
        out.append(
            f"dvc.yaml declares no model: add `{s.model_snippet}` to dvc.yaml (DVC's model "
            "registry) so that `mlgate release` knows what to release"
        )
    if not s.dependencies.install and not s.dependencies.root_file:
        out.append(
            "no src/requirements.txt or installable pyproject.toml found: list what the "
            f"pipeline's stages import in {REQUIREMENTS_FILE} (the workflows install it)"
        )
    out += s.dependencies.notes
    if not s.has_ct:
        out.append(
            f"{PARAMS_FILE} has no `ct:` section: "
            + (
                "`mlgate ct` (ct.yml) exits 2 naming the keys to add until it has one"
                if ct
                else "ct.yml (continuous training) not written; add one and rerun, or "
                "`mlgate init --ct`"
            )
        )
    return out


def _workflows(root: Path, s: Survey, *, ct: bool, force: bool) -> list[_Step]:
    wanted = ct or s.has_ct or (root / WORKFLOWS_DIR / CT_WORKFLOW).is_file()
    names = tuple(n for n in WORKFLOWS if n != CT_WORKFLOW or wanted)
    return _pipeline_files(root, workflow_templates(names), force)


def _pipeline_files(root: Path, planned: Mapping[str, str], force: bool) -> list[_Step]:
    """Write each of ``planned`` (path -> text) unless it is there, refusing to overwrite
    a changed one without ``force``."""
    conflicts = [
        path
        for path, text in planned.items()
        if (root / path).is_file()
        and _digest_free((root / path).read_text(encoding="utf-8")) != _digest_free(text)
    ]
    if conflicts and not force:
        listed = ", ".join(conflicts)
        raise ConfigError(
            f"{listed}: differ from mlgate's version; rerun with `mlgate init --force` to "
            "overwrite (commit or save your changes first)"
        )
    steps = []
    for path, text in planned.items():
        target = root / path
        if (root / path).is_file() and path not in conflicts:
            steps.append(_Step(FileAction(path, Action.UNCHANGED)))
            continue
        action = Action.OVERWRITTEN if path in conflicts else Action.CREATED
        steps.append(_Step(FileAction(path, action), _writer(target, text)))
    return steps


def _digest_free(text: str) -> str:
    """``text`` with image digests replaced by the placeholder: filling in the digest is the
    one change to ``.gitlab-ci.yml`` that ``init`` expects, not a conflict."""
    return re.sub(r"@sha256:[0-9a-f]{64}\b", "@" + IMAGE_DIGEST_PLACEHOLDER, text)


def _writer(target: Path, text: str) -> Callable[[], None]:
    return lambda: write_text(target, text)


def _deploy_readme(root: Path) -> _Step:
    if (root / DEPLOY_README).exists():  # a README of the user's own is fine: keep it
        return _Step(FileAction(DEPLOY_README, Action.KEPT))
    text = template_text("deploy/README.md")
    return _Step(FileAction(DEPLOY_README, Action.CREATED), _writer(root / DEPLOY_README, text))


def _requirements(root: Path, s: Survey, warnings: list[str], mlgate: str) -> _Step:
    """The file the workflows install: the project's dependencies, then mlgate."""
    target = root / REQUIREMENTS_FILE
    if not target.is_file():
        text = requirements_text(template_text("requirements.txt"), s.dependencies, mlgate)
        _warn_placeholders(text, warnings)
        note = ", ".join([*s.dependencies.install, mlgate])
        return _Step(FileAction(REQUIREMENTS_FILE, Action.CREATED, note), _writer(target, text))
    text = target.read_text(encoding="utf-8")
    lines = {line.split("#")[0].strip() for line in text.splitlines()}
    lines |= {"."} if "-e ." in lines else set()
    for line in s.dependencies.install:
        if line not in lines:
            warnings.append(
                f"{REQUIREMENTS_FILE}: does not name `{line}`; add it if the pipeline's stages "
                "need it (the workflows install only this file)"
            )
    if names_mlgate(text):
        _warn_placeholders(text, warnings)
        return _Step(FileAction(REQUIREMENTS_FILE, Action.KEPT, "names mlgate"))
    if "--hash" in text:  # pip's hash-checking mode: an unhashed line would fail the install
        warnings.append(
            f"{REQUIREMENTS_FILE}: pins hashes, so mlgate was not added; add `{mlgate}` with "
            "its hashes (the workflows install this file)"
        )
        return _Step(FileAction(REQUIREMENTS_FILE, Action.KEPT, "pins hashes"))
    comment = MLGATE_FROM_GIT_COMMENT if mlgate == MLGATE_FROM_GIT else ""
    added = (
        ("" if text.endswith("\n") or not text else "\n")
        + "# the mlgate workflows install this file (added by `mlgate init`)\n"
        + f"{comment}{mlgate}\n"
    )
    _warn_placeholders(added, warnings)
    return _Step(
        FileAction(REQUIREMENTS_FILE, Action.APPENDED, mlgate), _writer(target, text + added)
    )


def _warn_placeholders(text: str, warnings: list[str]) -> None:
    """Until the mlgate line names a real repository and commit, every workflow's install fails."""
    for line in text.splitlines():
        if names_mlgate(line) and has_placeholders(line.split("#")[0]):
            warnings.append(
                f"{REQUIREMENTS_FILE}: replace OWNER and COMMIT_SHA in `{line.strip()}` with the "
                "repository mlgate is installed from and a full commit SHA (the workflows "
                "install this line), or pass `--mlgate 'mlgate==X.Y.Z'` once an index has it"
            )


def _gate_policy(root: Path, s: Survey) -> _Step:
    """Append a ``gate:`` section drafted from today's metrics, unless one exists."""
    if s.has_gate:
        return _Step(FileAction(PARAMS_FILE, Action.KEPT, "its gate: policy is never overwritten"))
    source = policy_source(s.metrics)
    if source is None:
        return _Step(FileAction(PARAMS_FILE, Action.SKIPPED, "no metrics to gate on"))
    block = (
        template_text("gate.yaml")
        .replace("{metrics_file}", source.path)
        .replace("{rules}\n", draft_rules(source))
    )
    check_policy(block)
    target = root / PARAMS_FILE
    existing = target.read_text(encoding="utf-8") if target.is_file() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    text = (existing + block) if existing.strip() else block.lstrip("\n")
    note = f"gate on {', '.join(policy_metrics(source))} in {source.path}"
    action = Action.APPENDED if existing.strip() else Action.CREATED
    return _Step(FileAction(PARAMS_FILE, action, note), _writer(target, text))


def _verify_remotes(root: Path, warnings: list[str]) -> _Step:
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
        return _Step(FileAction("", Action.SKIPPED))
    unverified = [
        name for name, conf in remotes.items() if str(conf.get("verify")).lower() != "true"
    ]
    if not unverified:
        return _Step(FileAction(DVC_CONFIG, Action.KEPT, "verify = true on every remote"))

    def write() -> None:
        with config.edit("repo") as conf:
            for name in unverified:
                conf["remote"][name]["verify"] = True

    note = f"verify = true on {', '.join(unverified)}"
    return _Step(FileAction(DVC_CONFIG, Action.UPDATED, note), write)
