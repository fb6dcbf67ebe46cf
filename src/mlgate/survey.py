"""What ``mlgate init`` reads from a repository before it writes anything.

:func:`survey` reads the working tree as the rest of mlgate does: the metrics files and
their values as ``dvc metrics show`` sees them (:class:`~mlgate.metrics.read.RevisionReader`:
every ``dvc.yaml``, cached outputs from the DVC cache or remote), the models ``dvc.yaml``
declares under ``artifacts:``, the project's own dependency files and whether
``params.yaml`` has ``gate:`` and ``ct:`` sections. The functions after it are pure: the
gate policy drafted from today's values and the ``requirements.txt`` the workflows install.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from mlgate.config import loads_yaml
from mlgate.errors import ConfigError, MlgateError
from mlgate.git import WORKTREE, Repo
from mlgate.metrics.diff import infer_direction
from mlgate.models import Model, models_of, snippet

PARAMS_FILE = "params.yaml"
REQUIREMENTS_FILE = "requirements.txt"
PYPROJECT = "pyproject.toml"
#: Where a project keeps its own requirements files (besides the root).
REQUIREMENTS_DIRS = ("", "src/")

#: Metrics a drafted policy gates first, best first (suffix match on the flat key).
PREFERRED_METRICS = ("roc_auc", "auc", "average_precision", "f1", "accuracy", "acc", "r2")
#: How many metrics of the chosen file get a rule.
RULES = 3
#: A floor (or ceiling) sits this share of today's value on the lenient side of it...
BOUND_MARGIN = 0.05
#: ...and a candidate may lose this share of it against the baseline.
REGRESSION_MARGIN = 0.02


@dataclass(frozen=True)
class MetricsFile:
    """A declared metrics file and its finite numbers (flat keys, in the file's order)."""

    path: str
    values: Mapping[str, float]


@dataclass(frozen=True)
class Dependencies:
    """The project's dependency files, as the workflows' ``requirements.txt`` should name them.

    ``install`` are requirement lines (``-r src/requirements.txt``, ``.``); ``notes`` say
    what was found and left out, one line each.
    """

    install: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    root_file: bool = False  # the project has a requirements.txt of its own at the root


@dataclass(frozen=True)
class Survey:
    """What the repository holds, as ``init`` needs it."""

    metrics: tuple[MetricsFile, ...] = ()
    metrics_errors: tuple[str, ...] = ()
    models: tuple[Model, ...] = ()
    model_snippet: str = ""  # the `artifacts:` line to add when no model is declared
    dependencies: Dependencies = Dependencies()
    has_gate: bool = False
    has_ct: bool = False


def survey(repo: Repo) -> Survey:
    """Read the working tree of ``repo`` (cached metrics included; nothing is written)."""
    from mlgate.metrics.read import RevisionReader, is_number

    params = read_params(repo.root)
    reader = RevisionReader(repo, WORKTREE)
    try:
        layout = reader.layout()
        read = reader.metrics()
    finally:
        reader.close()
    files = []
    for path, flat in read.flat().items():
        numbers = {k: float(v) for k, v in flat.items() if k and is_number(v) and math.isfinite(v)}
        if numbers:
            files.append(MetricsFile(path, numbers))
    models = models_of(layout.artifacts)
    return Survey(
        metrics=tuple(files),
        metrics_errors=tuple(read.errors.values()),
        models=tuple(models),
        model_snippet="" if models else snippet(layout.outs),
        dependencies=dependencies(repo.root),
        has_gate="gate" in params,
        has_ct="ct" in params,
    )


def read_params(root: Path) -> dict[str, Any]:
    """``params.yaml`` as a mapping (``{}`` when absent or empty)."""
    target = root / PARAMS_FILE
    text = target.read_text(encoding="utf-8") if target.is_file() else ""
    data = loads_yaml(text, PARAMS_FILE) if text.strip() else None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{PARAMS_FILE}: expected a mapping at the top level")
    return data


# -- dependencies --------------------------------------------------------------------------------
def dependencies(root: Path) -> Dependencies:
    """The project's requirements files and ``pyproject.toml``, as requirement lines.

    ``requirements.txt`` in ``src/`` is named with ``-r``; the root one is the file the
    workflows install, so it is not listed; other ``requirements*.txt`` (dev, test) are left
    out with a note. A ``pyproject.toml`` that builds a package is installed with ``.``.
    """
    install: list[str] = []
    notes: list[str] = []
    for folder in REQUIREMENTS_DIRS:
        here = root / folder
        for path in sorted(here.glob("requirements*.txt") if here.is_dir() else []):
            rel = f"{folder}{path.name}"
            if rel == REQUIREMENTS_FILE:
                continue
            if path.name == REQUIREMENTS_FILE:
                install.append(f"-r {rel}")
            else:
                notes.append(
                    f"{rel}: not installed by the workflows; add `-r {rel}` to "
                    f"{REQUIREMENTS_FILE} if the pipeline's stages need it"
                )
    package, note = _pyproject(root / PYPROJECT)
    if package:
        install.append(".")
    if note:
        notes.append(note)
    return Dependencies(tuple(install), tuple(notes), (root / REQUIREMENTS_FILE).is_file())


def _pyproject(path: Path) -> tuple[bool, str]:
    """(whether ``pip install .`` installs the project, a note when that cannot be told)."""
    if not path.is_file():
        return False, ""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return False, f"{PYPROJECT}: not read ({exc}); add its dependencies to {REQUIREMENTS_FILE}"
    declares = "project" in doc or "poetry" in doc.get("tool", {})
    if not declares:
        return False, ""  # tool settings only (ruff, black, ...): nothing to install
    if "build-system" in doc:
        return True, ""
    return False, (
        f"{PYPROJECT}: declares dependencies but no [build-system], so `pip install .` may "
        f"not work; list them in {REQUIREMENTS_FILE}"
    )


def names_mlgate(text: str) -> bool:
    """Whether a requirements file installs mlgate (by name, or ``.`` in mlgate's own repo)."""
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    return any(re.match(r"mlgate\b", line, re.I) or line in (".", "-e .") for line in lines)


#: How the workflows install mlgate while no package index has it: from its git repository at
#: one commit. OWNER and COMMIT_SHA are placeholders the user fills (``init`` warns until then).
MLGATE_FROM_GIT = "mlgate @ git+https://github.com/OWNER/mlgate@COMMIT_SHA"
MLGATE_FROM_GIT_COMMENT = (
    "# mlgate from its git repository at one commit (no package index has it yet): replace\n"
    "# OWNER and COMMIT_SHA with the repository and the full 40-hex commit to install. Once an\n"
    "# index you install from has mlgate, replace the line with `mlgate==X.Y.Z`.\n"
)


def has_placeholders(requirement: str) -> bool:
    """Whether an mlgate requirement line still holds :data:`MLGATE_FROM_GIT`'s placeholders."""
    return "OWNER/mlgate" in requirement or "@COMMIT_SHA" in requirement


def requirements_text(template: str, deps: Dependencies, mlgate: str = MLGATE_FROM_GIT) -> str:
    """The ``requirements.txt`` the workflows install: the project's lines, then ``mlgate``."""
    project = "".join(f"{line}\n" for line in deps.install)
    comment = MLGATE_FROM_GIT_COMMENT if mlgate == MLGATE_FROM_GIT else ""
    return (
        template.replace("{project}", project)
        .replace("{mlgate_comment}", comment)
        .replace("{mlgate}", mlgate)
    )


# -- the gate policy --------------------------------------------------------------------------------
def policy_source(files: Sequence[MetricsFile]) -> MetricsFile | None:
    """The metrics file to gate on: the first that holds a well-known score, else the first."""
    for file in files:
        if any(_rank(key) < len(PREFERRED_METRICS) for key in file.values):
            return file
    return files[0] if files else None


def policy_metrics(file: MetricsFile, count: int = RULES) -> list[str]:
    """The first ``count`` metrics of ``file``, well-known scores first."""
    keys = list(file.values)
    return sorted(keys, key=lambda k: (_rank(k), keys.index(k)))[:count]


def _rank(key: str) -> int:
    leaf = key.rsplit(".", 1)[-1].lower()
    for i, wanted in enumerate(PREFERRED_METRICS):
        if leaf == wanted:
            return i
    return len(PREFERRED_METRICS)


def draft_rules(file: MetricsFile, count: int = RULES) -> str:
    """YAML lines of ``gate.rules`` (indented for the policy) from today's values.

    A higher-is-better metric gets ``min`` at today's value minus 5% of it, a lower-is-better
    one ``max`` at today's value plus 5% (directions from the name: ``loss``, ``error``);
    both get ``max_regression``, 2% of today's value, against the baseline.

    >>> print(draft_rules(MetricsFile("m.json", {"acc": 0.9, "loss": 0.3})), end="")
        - metric: acc
          min: 0.855             # today 0.9; higher is better
          max_regression: 0.018  # against the baseline
        - metric: loss
          max: 0.315             # today 0.3; lower is better
          max_regression: 0.006  # against the baseline
    """
    out = []
    for key in policy_metrics(file, count):
        value = file.values[key]
        direction = infer_direction(key)
        margin = abs(value) * BOUND_MARGIN or 0.01
        if direction == "higher":
            bound = f"min: {_round(value - margin, margin, down=True)}"
        else:
            bound = f"max: {_round(value + margin, margin, down=False)}"
        step = abs(value) * REGRESSION_MARGIN or 0.01
        regression = f"max_regression: {_round(step, step, down=False)}"
        out += [
            f"    - metric: {_scalar(key)}\n",
            f"      {bound:<22} # today {value:g}; {direction} is better\n",
            f"      {regression:<22} # against the baseline\n",
        ]
    return "".join(out)


def _round(value: float, scale: float, *, down: bool) -> str:
    """``value`` to two significant digits of ``scale``, rounded to the lenient side."""
    places = max(0, 1 - math.floor(math.log10(scale)))
    step = Decimal(1).scaleb(-places)
    # 12 significant digits first: 0.9 - 0.045 is 0.8549999999999999 in binary
    exact = Decimal(f"{value:.12g}")
    rounded = exact.quantize(step, rounding=ROUND_FLOOR if down else ROUND_CEILING)
    return format(rounded.normalize(), "f") if rounded else "0"


def _scalar(text: str) -> str:
    """A metric name as a YAML scalar (quoted as JSON when it is not a plain word)."""
    import json

    return text if re.fullmatch(r"[A-Za-z_][\w.\-/]*", text) else json.dumps(text)


def check_policy(block: str) -> None:
    """A drafted policy must load with the gate's own loader (a mismatch is mlgate's bug)."""
    from mlgate.config import Section
    from mlgate.gate.policy import load_policy

    try:
        data = loads_yaml(block, PARAMS_FILE)
        load_policy(Section(data["gate"], file=PARAMS_FILE, where="gate"))
    except (MlgateError, KeyError, TypeError) as exc:  # pragma: no cover - a bug, not input
        raise AssertionError(f"the drafted gate policy does not load: {exc}\n{block}") from exc
