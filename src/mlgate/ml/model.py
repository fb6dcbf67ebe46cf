"""Estimator factory and safe model files (skops, with an explicit allow-list of types).

Pickle and joblib execute code on load; skops does not, provided we pass a reviewed list
of the types a model file may contain. A file that needs anything else is refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError, DataError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from mlgate.config import Section

MODELS = ("logistic_regression", "random_forest", "gradient_boosting")
#: The estimators of each ``data.task`` (``random_forest`` and ``gradient_boosting`` name the
#: regressor of the same family when the task is ``regression``).
MODELS_BY_TASK = {
    "binary": MODELS,
    "regression": ("ridge", "random_forest", "gradient_boosting"),
}
#: The training-set score ``metrics/train.json`` records (``estimator.score``), per task.
TRAIN_SCORE = {"binary": "train_accuracy", "regression": "train_r2"}

#: Every type a model file may contain. Reviewed by hand: add a type only after checking
#: that loading it cannot run code. This list is enforced as it stands: skops' own defaults
#: (it trusts every scikit-learn estimator) do not widen it. (Tree models need the Cython
#: Tree type; a project can trust more in :data:`TRUSTED_TYPES_FILE`.)
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb_losses.BinomialDeviance",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.dummy.DummyClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    # regression (data.task: regression): fitted arrays and the same kinds of loss objects
    # as the classifiers' (no callables in their state); tests/ml/test_ml_model_allow_list.py
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn.dummy.DummyRegressor",
    "sklearn.tree._tree.Tree",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.float32",
    "numpy.int64",
    "numpy.int32",
    "numpy.bool_",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "builtins.slice",
    "collections.OrderedDict",
)

#: A project's own additions to :data:`TRUSTED_TYPES`, one dotted type name a line (``#``
#: starts a comment), at the root of the repository. It goes through code review like code.
TRUSTED_TYPES_FILE = "mlgate-trusted-types.txt"

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


class UntrustedTypes(DataError):
    """A model file needs types outside the allow-list (``types``, sorted)."""

    def __init__(self, message: str, *, types: tuple[str, ...]) -> None:
        super().__init__(message)
        self.types = types


class InvalidStructure(DataError):
    """A loaded model's state is inconsistent in a way that can crash ``predict``."""


def parse_trusted_types(text: str, source: str) -> tuple[str, ...]:
    """The type names in a :data:`TRUSTED_TYPES_FILE`; ConfigError naming a bad line."""
    out: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not _DOTTED.fullmatch(line):
            raise ConfigError(
                f"{source}:{number}: {line[:60]!r} is not a dotted type name like "
                "sklearn.svm._classes.SVC"
            )
        out.append(line)
    return tuple(sorted(set(out)))


@dataclass(frozen=True)
class TrainParams:
    """The ``train:`` section of params.yaml."""

    model: str
    random_state: int
    C: float = 1.0
    max_iter: int = 1000
    n_estimators: int = 200
    max_depth: int | None = None
    learning_rate: float = 0.1
    alpha: float = 1.0
    task: str = "binary"

    @classmethod
    def from_section(cls, s: Section, *, task: str = "binary") -> TrainParams:
        """``task``: ``data.task``, which decides the estimators ``model`` may name."""
        s.check_keys(
            [
                "model",
                "random_state",
                "C",
                "max_iter",
                "n_estimators",
                "max_depth",
                "learning_rate",
                "alpha",
            ]
        )
        depth = s.data.get("max_depth")
        return cls(
            model=s.string("model", choices=MODELS_BY_TASK[task]),
            random_state=s.integer("random_state"),
            C=s.number("C", 1.0, min=1e-12),
            max_iter=s.integer("max_iter", 1000, min=1),
            n_estimators=s.integer("n_estimators", 200, min=1),
            max_depth=None if depth is None else s.integer("max_depth", min=1),
            learning_rate=s.number("learning_rate", 0.1, min=1e-12),
            alpha=s.number("alpha", 1.0, min=0),
            task=task,
        )


def build_estimator(p: TrainParams) -> Pipeline:
    """A scikit-learn pipeline for ``p.model``; ``random_state`` fixes every random choice."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    clf: Any
    if p.task == "regression":
        clf = _regressor(p)
    elif p.model == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=p.C, max_iter=p.max_iter, random_state=p.random_state)
    elif p.model == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        clf = RandomForestClassifier(
            n_estimators=p.n_estimators,
            max_depth=p.max_depth,
            random_state=p.random_state,
            n_jobs=1,
        )
    elif p.model == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingClassifier

        clf = GradientBoostingClassifier(
            n_estimators=p.n_estimators,
            max_depth=p.max_depth or 3,
            learning_rate=p.learning_rate,
            random_state=p.random_state,
        )
    else:  # guarded by TrainParams.from_section; kept for direct callers
        raise ConfigError(f"train.model: unknown model {p.model!r}; use one of {', '.join(MODELS)}")
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def _regressor(p: TrainParams) -> Any:
    if p.model == "ridge":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=p.alpha, random_state=p.random_state)
    if p.model == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=p.n_estimators,
            max_depth=p.max_depth,
            random_state=p.random_state,
            n_jobs=1,
        )
    if p.model == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(
            n_estimators=p.n_estimators,
            max_depth=p.max_depth or 3,
            learning_rate=p.learning_rate,
            random_state=p.random_state,
        )
    models = ", ".join(MODELS_BY_TASK["regression"])
    raise ConfigError(f"train.model: unknown regression model {p.model!r}; use one of {models}")


def dumps(model: Any) -> bytes:
    """``model`` as a skops file, canonical: the same fitted model gives the same bytes.

    skops alone names entries after object ids and dates them, so every run differed and
    `dvc repro` in a fresh clone changed ``dvc.lock`` (see :mod:`mlgate.ml.canonical`).
    """
    import skops.io as sio

    from mlgate.ml.canonical import canonicalize

    return canonicalize(sio.dumps(model))


def save(model: Any, path: str | os.PathLike[str]) -> None:
    """Write ``model`` with skops (canonical bytes, see :func:`dumps`), atomically."""
    from mlgate.fileio import write_bytes

    write_bytes(path, dumps(model))


def file_types(data: bytes, source: str) -> frozenset[str]:
    """Every type and function a skops file names (``__module__`` + ``__class__`` of every
    node of its schema, whatever skops would trust by default), read without loading."""
    import io
    import json
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError, OSError) as exc:
        raise DataError(f"{source}: not a readable skops model file ({exc})") from exc
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:  # iterative: a deeply nested schema cannot exhaust the stack
        node = stack.pop()
        if isinstance(node, dict):
            module, name = node.get("__module__"), node.get("__class__")
            if module is not None or name is not None:
                found.add(f"{module}.{name}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(found)


def _audit(data: bytes, source: str, extra_trusted: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(every type the file needs, the ones skops itself does not trust); DataError else."""
    import skops.io as sio

    if not data.startswith(b"PK"):  # every skops file is a zip archive
        kind = "a pickle" if data[:1] == b"\x80" else "not a skops file"
        raise DataError(
            f"{source}: {kind}; mlgate loads only skops files and never unpickles: convert it "
            "where you trust it (`skops.io.dump(model, 'model.skops')`) and declare that file "
            "under `artifacts:` in dvc.yaml"
        )
    needed = file_types(data, source)
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a corrupt or truncated archive
        raise DataError(f"{source}: not a readable skops model file ({exc})") from exc
    refused = sorted((needed | set(untrusted)) - set(TRUSTED_TYPES) - set(extra_trusted))
    if refused:
        raise UntrustedTypes(
            f"{source}: model file needs types outside mlgate's allow-list: {', '.join(refused)}"
            f" (if you have reviewed them, list them in {TRUSTED_TYPES_FILE} at the root of the"
            " repository)",
            types=tuple(refused),
        )
    return sorted(needed | set(untrusted)), sorted(untrusted)


def scan(data: bytes, source: str, *, extra_trusted: tuple[str, ...] = ()) -> list[str]:
    """Check a skops file against :data:`TRUSTED_TYPES` without loading it.

    Every type the file names must be on the list (or in ``extra_trusted``), including the
    ones skops trusts by default. Returns the types the file needs beyond skops' own
    defaults; DataError for a pickle, anything that is not a zip archive, a corrupt
    archive, and :class:`UntrustedTypes` for a type outside the list. Nothing in the file
    is executed: only its schema is read.
    """
    return _audit(data, source, extra_trusted)[1]


def _trees(model: Any) -> list[tuple[Any, int | None, str]]:
    """Every ``sklearn.tree._tree.Tree`` reachable from ``model``: (tree, the number of
    features its estimator takes when known, where it was found)."""
    import numpy as np
    from sklearn.tree._tree import Tree

    found: list[tuple[Any, int | None, str]] = []
    seen: set[int] = set()
    stack: list[tuple[Any, int | None, str]] = [(model, None, "model")]
    while stack:
        obj, limit, where = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tree):
            found.append((obj, limit, where))
        elif isinstance(obj, dict):
            stack.extend((v, limit, f"{where}[{k!r}]") for k, v in obj.items())
        elif isinstance(obj, list | tuple):
            stack.extend((v, limit, f"{where}[{i}]") for i, v in enumerate(obj))
        elif isinstance(obj, np.ndarray):
            if obj.dtype == object:
                stack.extend((v, limit, f"{where}[{i}]") for i, v in enumerate(obj.flat))
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            attrs = vars(obj)
            own = attrs.get("n_features_in_")
            inner = int(own) if isinstance(own, int | np.integer) else limit
            stack.extend((v, inner, f"{where}.{k}") for k, v in attrs.items())
    return found


def check_structure(model: Any, source: str) -> None:
    """InvalidStructure when a tree's node links or feature indices point outside its arrays.

    skops restores a ``Tree`` from arrays as they are in the file; scikit-learn checks their
    shapes but not their contents, and ``predict`` follows child indices and reads the
    feature column a node names without bounds checks. So every internal node must have
    both children after itself and inside the tree (which also rules out cycles), and name
    a feature the estimator takes.
    """
    import numpy as np

    for tree, limit, where in _trees(model):
        n = int(tree.node_count)
        left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
        feature = np.asarray(tree.feature)
        width = min(int(tree.n_features), limit) if limit is not None else int(tree.n_features)
        problem = ""
        if n < 1 or not (len(left) == len(right) == len(feature) == n):
            problem = f"{n} nodes but arrays of {len(left)}, {len(right)}, {len(feature)}"
        else:
            leaf = left == -1
            inner = np.flatnonzero(~leaf)
            if not np.array_equal(leaf, right == -1):
                problem = "a node with exactly one child"
            elif ((left[inner] <= inner) | (left[inner] >= n)).any() or (
                (right[inner] <= inner) | (right[inner] >= n)
            ).any():
                problem = f"child indices outside 1..{n - 1} or not after their parent"
            elif ((feature[inner] < 0) | (feature[inner] >= width)).any():
                problem = f"feature indices outside 0..{width - 1}"
        if problem:
            raise InvalidStructure(
                f"{source}: {where}: decision tree is malformed ({problem}); a file like this "
                "can crash the process that predicts with it, so it is refused"
            )


def loads(data: bytes, source: str, *, extra_trusted: tuple[str, ...] = ()) -> Any:
    """Load a skops model from bytes, trusting only :data:`TRUSTED_TYPES` (and
    ``extra_trusted``), then check its structure (:func:`check_structure`)."""
    import skops.io as sio

    trusted = _audit(data, source, extra_trusted)[0]
    try:
        model = sio.loads(data, trusted=trusted)
    except Exception as exc:
        raise DataError(f"{source}: cannot load the model ({type(exc).__name__}: {exc})") from exc
    check_structure(model, source)
    return model


def load(path: str | os.PathLike[str]) -> Any:
    from mlgate.fileio import read_file

    return loads(read_file(path, hint="run `dvc repro` or `dvc pull`"), str(path))


def importances(estimator: Any, features: list[str]) -> dict[str, list[dict[str, float | str]]]:
    """Feature importances (trees) or absolute coefficients (linear), as DVC bar-plot data."""
    import numpy as np

    clf = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if hasattr(clf, "feature_importances_"):
        values = list(clf.feature_importances_)
    else:
        values = [abs(v) for v in np.ravel(clf.coef_)]  # (1, n) for a classifier, (n,) else
    rows = sorted(zip(features, values, strict=True), key=lambda fv: -fv[1])
    return {"importance": [{"feature": f, "importance": round(float(v), 6)} for f, v in rows]}
