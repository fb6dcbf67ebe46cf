"""Estimator factory and safe model files (skops, with an explicit allow-list of types).

Pickle and joblib execute code on load; skops does not, provided we pass a reviewed list
of the types a model file may contain. A file that needs anything else is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError, DataError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from mlgate.config import Section

MODELS = ("logistic_regression", "random_forest", "gradient_boosting")

#: Every type a model file written by mlgate may contain. Reviewed by hand: add a type only
#: after checking that loading it cannot run code. (Tree models need the Cython Tree type.)
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb_losses.BinomialDeviance",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.dummy.DummyClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
    "numpy.dtype",
    "numpy.ndarray",
    "builtins.slice",
    "collections.OrderedDict",
)


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

    @classmethod
    def from_section(cls, s: Section) -> TrainParams:
        s.check_keys(
            ["model", "random_state", "C", "max_iter", "n_estimators", "max_depth", "learning_rate"]
        )
        depth = s.data.get("max_depth")
        return cls(
            model=s.string("model", choices=MODELS),
            random_state=s.integer("random_state"),
            C=s.number("C", 1.0, min=1e-12),
            max_iter=s.integer("max_iter", 1000, min=1),
            n_estimators=s.integer("n_estimators", 200, min=1),
            max_depth=None if depth is None else s.integer("max_depth", min=1),
            learning_rate=s.number("learning_rate", 0.1, min=1e-12),
        )


def build_estimator(p: TrainParams) -> Pipeline:
    """A scikit-learn pipeline for ``p.model``; ``random_state`` fixes every random choice."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    clf: Any
    if p.model == "logistic_regression":
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


def scan(data: bytes, source: str) -> list[str]:
    """Check a skops file against :data:`TRUSTED_TYPES` without loading it.

    Returns the types the file needs beyond skops' own defaults (all on the allow-list);
    DataError for a pickle, anything that is not a zip archive, a corrupt archive, or a
    type outside the list. Nothing in the file is executed: skops only reads its schema.
    """
    import skops.io as sio

    if not data.startswith(b"PK"):  # every skops file is a zip archive
        kind = "a pickle" if data[:1] == b"\x80" else "not a skops file"
        raise DataError(
            f"{source}: {kind}; mlgate loads only skops files and never unpickles: convert it "
            "where you trust it (`skops.io.dump(model, 'model.skops')`) and declare that file "
            "under `artifacts:` in dvc.yaml"
        )
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a corrupt or truncated archive
        raise DataError(f"{source}: not a readable skops model file ({exc})") from exc
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise DataError(
            f"{source}: model file needs types outside mlgate's allow-list: {', '.join(refused)}"
            " (if you trust them, add them to mlgate.ml.model.TRUSTED_TYPES)"
        )
    return sorted(untrusted)


def loads(data: bytes, source: str) -> Any:
    """Load a skops model from bytes, trusting only :data:`TRUSTED_TYPES`."""
    import skops.io as sio

    trusted = scan(data, source)
    try:
        return sio.loads(data, trusted=trusted)
    except Exception as exc:
        raise DataError(f"{source}: cannot load the model ({type(exc).__name__}: {exc})") from exc


def load(path: str | os.PathLike[str]) -> Any:
    from mlgate.fileio import read_file

    return loads(read_file(path, hint="run `dvc repro` or `dvc pull`"), str(path))


def importances(estimator: Any, features: list[str]) -> dict[str, list[dict[str, float | str]]]:
    """Feature importances (trees) or absolute coefficients (linear), as DVC bar-plot data."""
    clf = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if hasattr(clf, "feature_importances_"):
        values = list(clf.feature_importances_)
    else:
        values = [abs(v) for v in clf.coef_[0]]
    rows = sorted(zip(features, values, strict=True), key=lambda fv: -fv[1])
    return {"importance": [{"feature": f, "importance": round(float(v), 6)} for f, v in rows]}
