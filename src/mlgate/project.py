"""The reference project (validate -> train -> evaluate on a breast-cancer data set), shipped
inside the package so that ``mlgate demo`` and ``mlgate new`` work from any installed wheel.

``mlgate/templates/project`` holds copies of the repository's top-level files named in
:data:`PROJECT_FILES`. The top-level files are the source of truth (what ``dvc.lock`` records
and mlgate's own CI reproduces); ``.ci/sync-project`` refreshes the copies and
tests/test_project.py fails while they differ. ``dvc.lock`` and ``metrics/`` are not shipped:
``dvc repro`` makes them.

The regression variant (``mlgate new --task regression``, ``mlgate demo --task regression``)
is the same project with its own data, schema, profile, ``dvc.yaml`` and ``params.yaml``
(``data.task: regression``), in ``mlgate/templates/project-regression`` (:data:`REGRESSION_FILES`,
the source of truth for those); everything else, the stage scripts first, is the classifier's.
"""

from __future__ import annotations

import shutil
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import yaml

#: The reference project's files, as ``mlgate/templates/project/<name>`` ships them.
PROJECT_FILES = (
    "dvc.yaml",
    "params.yaml",
    ".dvcignore",
    ".dvc/config",
    ".dvc/.gitignore",
    "stages/validate.py",
    "stages/train.py",
    "stages/evaluate.py",
    "data/breast_cancer.csv",
    "data/schema.yaml",
    "data/reference_profile.json",
    "data/incoming/README.md",
    "data/batches.json",
    "data/.gitignore",
    "models/.gitignore",
    "deploy/README.md",
)
#: The tasks a reference project exists for (``data.task`` in its params.yaml).
TASKS = ("binary", "regression")
#: The regression project's own files (``mlgate/templates/project-regression/<name>``).
REGRESSION_FILES = (
    "dvc.yaml",
    "params.yaml",
    "data/diabetes.csv",
    "data/schema.yaml",
    "data/reference_profile.json",
    "data/incoming/README.md",
)
#: The classifier's files the regression project has no use for.
_BINARY_ONLY = ("data/breast_cancer.csv",)
_FOLDER = {"binary": "project", "regression": "project-regression"}
#: What each task's project trains on (``data.path``) and the model it releases.
DATA_FILE = {"binary": "data/breast_cancer.csv", "regression": "data/diabetes.csv"}
#: Where dvc.yaml's stages name mlgate's own code as a dependency (``src/mlgate/ml``).
LIBRARY_PREFIX = "src/mlgate/"
#: The ``.gitignore`` of a project made from the template (not the mlgate repository's own).
GITIGNORE = "new/gitignore"


def _node(name: str) -> Traversable:
    node = resources.files("mlgate").joinpath("templates")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node


def project_files(task: str = "binary") -> tuple[str, ...]:
    """The files of ``task``'s reference project (:data:`PROJECT_FILES` for ``binary``)."""
    if task == "binary":
        return PROJECT_FILES
    shared = [n for n in PROJECT_FILES if n not in _BINARY_ONLY and n not in REGRESSION_FILES]
    return (*REGRESSION_FILES, *shared)


def project_file(name: str, task: str = "binary") -> bytes:
    """The bytes of ``name`` (one of :func:`project_files`) in ``task``'s packaged project."""
    folder = _FOLDER[task] if name in REGRESSION_FILES else "project"
    return _node(f"{folder}/{name}").read_bytes()


def library_deps(dvc_yaml: str) -> list[str]:
    """The ``src/mlgate/...`` paths the stages of ``dvc_yaml`` depend on, in order, once."""
    stages = (yaml.safe_load(dvc_yaml) or {}).get("stages", {})
    out: list[str] = []
    for stage in stages.values():
        for dep in stage.get("deps", []):
            if isinstance(dep, str) and dep.startswith(LIBRARY_PREFIX) and dep not in out:
                out.append(dep)
    return out


def write_reference(dest: Path, *, with_library: bool = True, task: str = "binary") -> None:
    """Write ``task``'s reference project into ``dest`` (made if missing).

    ``with_library`` also copies the parts of the installed mlgate that dvc.yaml names as
    dependencies (``src/mlgate/ml``, ...), so that ``dvc repro`` finds them, as in a clone.
    """
    for name in project_files(task):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(project_file(name, task))
    (dest / ".gitignore").write_bytes(_node(GITIGNORE).read_bytes())
    if with_library:
        package = Path(str(resources.files("mlgate")))
        skip = shutil.ignore_patterns("__pycache__", "*.pyc")
        for dep in library_deps(project_file("dvc.yaml", task).decode()):
            src, target = package / dep.removeprefix(LIBRARY_PREFIX), dest / dep
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, target, ignore=skip, dirs_exist_ok=True)
            else:
                shutil.copyfile(src, target)
