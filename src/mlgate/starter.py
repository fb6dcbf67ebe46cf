"""``mlgate new DIR``: a new repository with the reference pipeline, ready to gate.

The five-minute start for a team without a pipeline yet (``mlgate init`` adopts one that
exists): the packaged reference project (:mod:`mlgate.project`: validate -> train ->
evaluate, a schema and a reference profile, params with a gate policy, the model under
``artifacts:``), mlgate's workflows, ``requirements.txt``, a README, ``git init`` and
``dvc init``; with ``run`` a first ``dvc repro`` and commit.

In a clone of mlgate the stages depend on its sources (``src/mlgate/ml``, ...); a new
project has none, so those dependencies become ``requirements.txt``, where the version of
mlgate (whose code the stages call) is pinned: changing it reruns the pipeline.

``task`` picks the reference project: ``binary`` (the breast-cancer classifier) or
``regression`` (scikit-learn's diabetes table; :data:`mlgate.project.REGRESSION_FILES`), with
the same stages, schema, gate policy and workflows; continuous training (``ct:``, ``ct.yml``)
comes with the classifier only, as ``mlgate ct`` scores held-out rows as a classifier does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlgate.errors import ConfigError
from mlgate.fileio import write_text
from mlgate.git import Repo
from mlgate.project import DATA_FILE, LIBRARY_PREFIX, TASKS, project_files, write_reference
from mlgate.scaffold import template_text, workflow_templates
from mlgate.survey import MLGATE_FROM_GIT, REQUIREMENTS_FILE, Dependencies, requirements_text

README_TEMPLATE = "new/README.md"
FIRST_COMMIT = "mlgate new: the reference pipeline (validate -> train -> evaluate), reproduced"
_LIBRARY_DEP = re.compile(rf"(?m)^( +)- {re.escape(LIBRARY_PREFIX)}\S+[^\n]*\n")
_STAGE_SCRIPT = re.compile(r"(?m)^( +)- (stages/\w+\.py)\n")
#: The workflow only the classifier's project gets (``mlgate ct`` needs ``ct:``).
CT_WORKFLOW = ".github/workflows/ct.yml"
#: What the new README says of each task's project (``{placeholders}`` of new/README.md).
README_TEXT = {
    "binary": {
        "what": "a breast-cancer classifier",
        "evaluate_extra": "curves",
        "params_extra": ", the gate policy (`gate:`) and continuous training (`ct:`)",
        "ct_workflow": ", `ct.yml` retrains on new batches in `data/incoming/`",
    },
    "regression": {
        "what": "a regression on scikit-learn's diabetes table (disease progression one year on)",
        "evaluate_extra": "`metrics/predictions.csv` (`row_id,y_true,y_pred`: the gate's paired "
        "bootstrap resamples rmse, mae and r2 from it); `data.task: regression` in "
        "`params.yaml` makes the stages fit a regressor and score it so",
        "params_extra": " and the gate policy (`gate:`); batches dropped in `data/incoming/` "
        "are trained on at the next `dvc repro`",
        "ct_workflow": "",
    },
}


@dataclass(frozen=True)
class NewProject:
    """What ``mlgate new`` made: the repository, its files, and the first commit (``run``)."""

    root: Path
    files: tuple[str, ...]
    commit: str | None = None


def new_dvc_yaml(text: str) -> str:
    """The reference ``dvc.yaml`` with mlgate's sources as deps replaced by requirements.txt.

    >>> new_dvc_yaml("    deps:\\n      - stages/a.py\\n      - src/mlgate/ml\\n")
    '    deps:\\n      - stages/a.py\\n      - requirements.txt  # mlgate pinned: its code\\n'
    """
    text = _LIBRARY_DEP.sub("", text)
    return _STAGE_SCRIPT.sub(rf"\g<0>\g<1>- {REQUIREMENTS_FILE}  # mlgate pinned: its code\n", text)


def new_project(
    dest: str | Path,
    *,
    run: bool = False,
    mlgate: str = MLGATE_FROM_GIT,
    environ: Mapping[str, str] | None = None,
    task: str = "binary",
) -> NewProject:
    """Make a new repository at ``dest`` (missing or empty) from ``task``'s reference project.

    ``run``: a first ``dvc repro`` and a commit of everything (``NewProject.commit``).
    ``mlgate`` is the requirement line the workflows install mlgate with.
    Raises ConfigError when ``dest`` is a file or a folder that is not empty, or for a
    ``task`` other than :data:`~mlgate.project.TASKS`.
    """
    if task not in TASKS:
        raise ConfigError(f"--task: unknown task {task!r}; use one of {', '.join(TASKS)}")
    root = Path(dest).resolve()
    if root.is_file() or (root.is_dir() and any(root.iterdir())):
        raise ConfigError(f"{dest}: exists and is not empty; pass a new folder")
    root.mkdir(parents=True, exist_ok=True)
    repo = Repo(root, environ)
    repo.run("init", "-q", "-b", "main")
    _dvc_init(root)
    write_reference(root, with_library=False, task=task)  # its .dvc/config and .dvcignore win
    planned = {
        "dvc.yaml": new_dvc_yaml((root / "dvc.yaml").read_text(encoding="utf-8")),
        REQUIREMENTS_FILE: requirements_text(
            template_text("requirements.txt"), Dependencies(), mlgate
        ),
        "README.md": readme_text(root.name, task),
        **{
            path: text
            for path, text in workflow_templates().items()
            if task == "binary" or path != CT_WORKFLOW
        },
    }
    for path, text in planned.items():
        write_text(root / path, text)
    files = tuple(sorted({*project_files(task), ".gitignore", *planned}))
    if not run:
        return NewProject(root=root, files=files)
    from mlgate.ct.cycle import run_dvc

    run_dvc(root, "repro", "--quiet")
    repo.run("add", "-A")
    repo.run("commit", "-q", "-m", FIRST_COMMIT)
    sha = repo.run("rev-parse", "HEAD").stdout.decode().strip()
    return NewProject(root=root, files=files, commit=sha)


def readme_text(name: str, task: str = "binary") -> str:
    """The new project's README: new/README.md for ``task`` and the folder ``name``."""
    text = template_text(README_TEMPLATE)
    for key, value in {"name": name, "data_file": DATA_FILE[task], **README_TEXT[task]}.items():
        text = text.replace(f"{{{key}}}", value)
    return text


def _dvc_init(root: Path) -> None:
    from mlgate.ct.cycle import run_dvc

    run_dvc(root, "init", "--quiet")
