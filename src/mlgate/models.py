"""Which models a repository releases: ``artifacts:`` in ``dvc.yaml``, and their tags.

DVC's model registry convention (https://dvc.org/doc/user-guide/project-structure/dvcyaml-files#artifacts)
declares a model as an artifact of ``type: model`` whose ``path`` is a DVC output::

    artifacts:
      text-classification:
        path: models/model.pkl
        type: model

Each model has its own pointer file: ``deploy/production.yaml`` when the repository declares
one model, ``deploy/<NAME>/production.yaml`` when it declares several (so adding a second
model later moves nothing: the first keeps its pointer only while it is alone; see README).
Release tags follow GTO (https://mlem.ai/doc/gto/user-guide#git-tags-format):
``NAME@v1.2.0`` names model NAME (``:`` in a nested name is ``=`` in the tag), and a plain
``v1.2.0`` names the only model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mlgate.errors import ConfigError, GitError
from mlgate.git import WORKTREE, Repo
from mlgate.metrics.layout import Artifact, LockedOut

#: The pointer of a repository's only model.
SINGLE_POINTER = "deploy/production.yaml"
MODEL_TYPE = "model"

#: ``v`` + semantic version 2.0.0 (https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string):
#: groups major, minor, patch, pre-release, build. The one semver pattern of mlgate.
_SEMVER = (
    r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
#: GTO's artifact names (``gto.constants.name``), with an optional ``folder=`` in tags.
_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_TAG = re.compile(rf"^(?:(?P<name>(?:[a-zA-Z0-9-_./]+=)?{_NAME})@)?(?P<version>{_SEMVER})$")
VERSION = re.compile(rf"^{_SEMVER}$")
#: Extensions of files that are usually models (for the `artifacts:` hint).
_MODEL_HINTS = (".pkl", ".pickle", ".joblib", ".skops", ".onnx", ".pt", ".pth", ".h5", ".keras")


@dataclass(frozen=True)
class Model:
    """A model the repository releases: its artifact name, its path and its pointer file."""

    name: str
    path: str
    pointer: str
    single: bool = True  # the repository's only model: plain `vX.Y.Z` tags name it

    def tag(self, version: str) -> str:
        """The release tag of ``version`` (``v1.2.0`` or ``NAME@v1.2.0``)."""
        return version if self.single else f"{self.name.replace(':', '=')}@{version}"


@dataclass(frozen=True)
class ReleaseTag:
    """A release tag split into its model name (None: the only model) and version."""

    tag: str
    name: str | None
    version: str


def parse_tag(tag: str) -> ReleaseTag | None:
    """``NAME@vX.Y.Z`` or ``vX.Y.Z`` -> its parts; None for anything else.

    >>> parse_tag("text-classification@v1.2.0")
    ReleaseTag(tag='text-classification@v1.2.0', name='text-classification', version='v1.2.0')
    >>> parse_tag("v1.0.0").name is None, parse_tag("release-1") is None
    (True, True)
    """
    m = _TAG.match(tag)
    if m is None:
        return None
    name = m.group("name")
    return ReleaseTag(tag, name.replace("=", ":") if name else None, m.group("version"))


def pointer_path(name: str | None) -> str:
    """The pointer file of model ``name`` among several; None: the only model's."""
    return SINGLE_POINTER if name is None else f"deploy/{name.replace(':', '/')}/production.yaml"


def models_of(artifacts: Sequence[Artifact]) -> list[Model]:
    """The models among declared artifacts (``type: model``), each with its pointer path."""
    found = [a for a in artifacts if a.type == MODEL_TYPE]
    single = len(found) == 1
    return [Model(a.name, a.path, pointer_path(None if single else a.name), single) for a in found]


def declared_models(repo: Repo, rev: str = WORKTREE, *, label: str | None = None) -> list[Model]:
    """The models ``dvc.yaml`` declares at ``rev`` (every ``dvc.yaml`` of the project)."""
    from mlgate.metrics.read import RevisionReader

    return models_of(RevisionReader(repo, rev, label=label).layout().artifacts)


def snippet(outs: Sequence[LockedOut]) -> str:
    """The ``artifacts:`` block to add, filled with outputs that look like models."""
    likely = [o.path for o in outs if o.path.lower().endswith(_MODEL_HINTS)]
    likely = likely or [o.path for o in outs if "model" in o.path.lower()]
    path = likely[0] if likely else "models/model.pkl"
    stem = path.rsplit("/", 1)[-1].split(".", 1)[0].lower()
    name = re.sub(r"[^a-z0-9-]+", "-", stem).strip("-") or "model"
    return f"artifacts: {{{name}: {{path: {path}, type: model}}}}"


def pick_model(
    repo: Repo, name: str | None = None, *, rev: str = WORKTREE, tag: ReleaseTag | None = None
) -> Model:
    """The model a command acts on: ``name`` (``--model``), the tag's, or the only one.

    Raises ConfigError naming the fix: the ``artifacts:`` snippet to add when none is
    declared, the names to choose from when several are.
    """
    from mlgate.metrics.read import RevisionReader

    reader = RevisionReader(repo, rev)
    layout = reader.layout()
    models = models_of(layout.artifacts)
    wanted = name or (tag.name if tag else None)
    where = "dvc.yaml" if rev == WORKTREE else f"{rev[:12]}:dvc.yaml"
    if not models:
        raise ConfigError(
            f"{where}: no model is declared; add it under `artifacts:` (DVC's model "
            f"registry), e.g. `{snippet(layout.outs)}`, and commit dvc.yaml"
        )
    names = ", ".join(m.name for m in models)
    if wanted is not None:
        for model in models:
            if model.name == wanted:
                if tag is not None and tag.name is None and not model.single:
                    raise GitError(
                        f"{tag.tag}: several models are declared ({names}); "
                        f"tag {model.tag(tag.version)} instead"
                    )
                return model
        raise ConfigError(
            f"{where}: no model named {wanted!r} under `artifacts:` (declared: {names})"
        )
    if len(models) > 1:
        raise ConfigError(
            f"{where}: several models are declared ({names}); choose one with --model NAME"
            " (or a NAME@vX.Y.Z tag)"
        )
    return models[0]


def pointer_of(repo: Repo, name: str | None = None) -> tuple[str, str | None]:
    """(pointer file, model path) for commands that read a deployment (status, history, ...).

    A repository that declares no model but has ``deploy/production.yaml`` (released before
    models were declared) still reads that pointer; the model path is then unknown (None).
    """
    try:
        model = pick_model(repo, name)
    except ConfigError:
        if name is None and (repo.root / SINGLE_POINTER).is_file():
            return SINGLE_POINTER, None
        raise
    return model.pointer, model.path
