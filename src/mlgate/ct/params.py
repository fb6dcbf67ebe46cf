"""The ``ct:`` section of ``params.yaml``, parsed and validated once: all ``mlgate ct`` reads.

Continuous training reads no other section of the pipeline's (a reference project's
``data:`` belongs to its stages). What it must be told, :data:`REQUIRED`: where new batches
arrive, the model to retrain (``artifacts:`` in dvc.yaml), the label and key columns, the
held-out split and the schema every batch is checked against. :func:`require` names each
missing key with an example (:data:`EXAMPLE`, one line of YAML).

>>> from mlgate.config import Section
>>> p = CtParams.from_section(Section({"window": 2}, file="params.yaml", where="ct"))
>>> p.source, p.window, p.mode, p.missing()
('data/incoming', 2, 'pr', ['source', 'model', 'label', 'id_column', 'holdout', 'schema'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError

if TYPE_CHECKING:
    from mlgate.config import Section

MODES = ("pr", "release")
DEFAULT_SOURCE = "data/incoming"
#: Keys ``mlgate ct`` cannot do without, in the order the example shows them.
REQUIRED = ("source", "model", "label", "id_column", "holdout", "schema")
_KEYS = (
    "source",
    "window",
    "mode",
    "base_branch",
    "schedule",
    "remote",
    "model",
    "label",
    "id_column",
    "holdout",
    "schema",
    "profile",
    "drift",
    "reference",
    "threshold",
    "slices",
)
#: What each required key means, for the message that asks for it.
_MEANING = {
    "source": "where new labeled batches arrive, CSV or Parquet",
    "model": "the model to retrain, named under `artifacts:` in dvc.yaml",
    "label": "the label column",
    "id_column": "a stable row key, for the held-out split and duplicate rows",
    "holdout": "your pipeline's held-out fraction and seed, on a hash of id_column",
    "schema": "the checks every batch must pass, from `mlgate schema infer`",
}
EXAMPLE = (
    "ct: {{source: data/incoming, model: {model}, label: {label}, id_column: row_id, "
    "holdout: {{fraction: 0.3, seed: 42}}, schema: data/schema.yaml}}"
)


@dataclass(frozen=True)
class Holdout:
    """The share of a batch's rows kept out of training (hash of ``id_column`` with ``seed``)."""

    fraction: float
    seed: int


@dataclass(frozen=True)
class CtParams:
    """Where batches arrive, how many train, how a batch is checked and scored, and what a
    passing cycle does.

    ``window`` is None for "all batches", else the number of newest batches trained on.
    ``schedule`` is a note for people: the cron that runs lives in ``.github/workflows/ct.yml``.
    ``drift``, ``slices`` and ``threshold`` are kept as written (the cycle parses them
    with the validators of :mod:`mlgate.data.validate` and :mod:`mlgate.ml.evaluation`).
    """

    source: str = DEFAULT_SOURCE
    window: int | None = None
    mode: str = "pr"
    base_branch: str | None = None
    schedule: str = ""
    remote: str | None = None
    model: str | None = None
    label: str | None = None
    id_column: str | None = None
    holdout: Holdout | None = None
    schema: str | None = None
    profile: str | None = None  # reference bins: drift is measured only with one
    reference: str | None = None  # the data trained on besides the batches (duplicate keys)
    drift: Any = None
    threshold: Any = None
    slices: Any = None
    given: frozenset[str] = frozenset()  # the keys the section has

    @classmethod
    def from_section(cls, s: Section | None) -> CtParams:
        if s is None:
            return cls()
        s.check_keys(_KEYS)
        raw = s.data.get("window", "all")
        window: int | None
        if raw == "all" or raw is None:
            window = None
        elif isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            window = raw
        else:
            s.fail("window", f'expected "all" or a whole number >= 0, got {raw!r}')
        source = s.string("source", DEFAULT_SOURCE).rstrip("/")
        if not source or source.startswith("/") or ".." in source.split("/"):
            s.fail("source", f"expected a folder inside the repository, got {source!r}")

        def text(key: str) -> str | None:
            return s.string(key) if s.data.get(key) is not None else None

        holdout = None
        if s.data.get("holdout") is not None:
            h = s.section("holdout")
            h.check_keys(["fraction", "seed"])
            holdout = Holdout(h.number("fraction", min=0.05, max=0.95), h.integer("seed"))
        return cls(
            source=source,
            window=window,
            mode=s.string("mode", "pr", choices=MODES),
            base_branch=text("base_branch"),
            schedule=s.string("schedule", ""),
            remote=text("remote"),
            model=text("model"),
            label=text("label"),
            id_column=text("id_column"),
            holdout=holdout,
            schema=text("schema"),
            profile=text("profile"),
            reference=text("reference"),
            drift=s.data.get("drift"),
            threshold=s.data.get("threshold"),
            slices=s.data.get("slices"),
            given=frozenset(k for k, v in s.data.items() if v is not None),
        )

    def missing(self) -> list[str]:
        """The required keys this section lacks (:data:`REQUIRED` order)."""
        return [key for key in REQUIRED if key not in self.given]

    @property
    def window_label(self) -> str:
        return "all" if self.window is None else str(self.window)


def require(ct: CtParams, *, file: str = "params.yaml", model: str = "my-model") -> None:
    """Raise ConfigError naming each required key ``ct`` lacks, with an example section.

    ``model`` fills the example (the model ``dvc.yaml`` declares, when there is one).
    """
    missing = ct.missing()
    if not missing:
        return
    where = f"{file}: no `ct:` section" if not ct.given else f"{file}: ct: missing keys"
    keys = "; ".join(f"ct.{k} ({_MEANING[k]})" for k in missing)
    example = EXAMPLE.format(model=model, label="label")
    raise ConfigError(
        f"{where}; `mlgate ct` needs {keys}; add them, e.g. `{example}` "
        '(see mlgate\'s README, "Continuous training")'
    )
