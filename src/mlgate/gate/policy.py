"""The gate policy: the ``gate:`` section of ``params.yaml``, validated once on load.

Shape (every rule key but ``metric`` is optional; see README, "The gate")::

    gate:
      metrics_file: metrics/scores.json   # where rule metrics live unless a rule says `file`
      predictions_file: metrics/predictions.csv  # per-row predictions (paired bootstrap)
      task: binary                        # binary | multiclass | regression (default: from
                                          # the predictions file's columns)
      bootstrap_file: metrics/bootstrap.json     # per-metric std (unpaired fallback)
      slices_file: metrics/slices.json           # slice rules, unless a rule says `file`
      validation_file: metrics/validation.json   # the report's data-validation section
      confidence: 0.95                    # intervals shown in the report
      bootstrap_samples: 1000             # resamples of the paired bootstrap
      seed: 0
      near_miss: 0.8                      # warn when a rule uses this share of its tolerance
      rules:
        - metric: roc_auc
          min: 0.95
          max_regression: 0.01
          significance: 0.05
        - metric: column:revenue          # the mean of a predictions-file column
          max_regression_rel: 0.02
          significance: 0.05
      slices:
        - metric: accuracy
          min: 0.85
          max_regression: 0.1
          min_n: 30
"""

from __future__ import annotations

from dataclasses import dataclass

from mlgate.config import Section
from mlgate.constants import (
    BOOTSTRAP_FILE,
    DEFAULT_METRICS_FILE,
    DEFAULT_SLICES_FILE,
    DIRECTIONS,
    PREDICTIONS_FILE,
    VALIDATION_FILE,
    Direction,
)
from mlgate.gate.tasks import TASKS
from mlgate.gate.tasks import direction as table_direction
from mlgate.metrics.diff import infer_direction

INCONCLUSIVE = ("warn", "fail")

_GATE_KEYS = (
    "metrics_file",
    "predictions_file",
    "task",
    "bootstrap_file",
    "slices_file",
    "validation_file",
    "confidence",
    "bootstrap_samples",
    "seed",
    "near_miss",
    "rules",
    "slices",
)
_RULE_KEYS = (
    "metric",
    "file",
    "direction",
    "min",
    "max",
    "max_regression",
    "max_regression_rel",
    "significance",
    "inconclusive",
    "max_improvement",
    "k",
)
_SLICE_KEYS = ("metric", "file", "direction", "min", "max", "max_regression", "min_n")


@dataclass(frozen=True)
class MetricRule:
    """Limits on one metric; ``name`` (``rules[0]``) points back into the policy."""

    name: str
    metric: str
    file: str
    direction: Direction
    min: float | None = None
    max: float | None = None
    max_regression: float | None = None
    max_regression_rel: float | None = None
    significance: float | None = None
    inconclusive: str = "warn"
    max_improvement: float | None = None
    k: int | None = None  # top_k_accuracy's k

    @property
    def relative(self) -> bool:
        """Whether the rule compares with the baseline at all."""
        return any(
            v is not None
            for v in (self.max_regression, self.max_regression_rel, self.max_improvement)
        )


@dataclass(frozen=True)
class SliceRule:
    """Bounds for every slice (so the worst) and a cap on any slice's regression.

    Only slices with at least ``min_n`` rows count.
    """

    name: str
    metric: str
    file: str
    direction: Direction
    min: float | None = None
    max: float | None = None
    max_regression: float | None = None
    min_n: int = 0


@dataclass(frozen=True)
class Policy:
    """A parsed gate policy; ``source`` names where it was read (``main:params.yaml``)."""

    rules: tuple[MetricRule, ...] = ()
    slices: tuple[SliceRule, ...] = ()
    metrics_file: str = DEFAULT_METRICS_FILE
    predictions_file: str = PREDICTIONS_FILE
    task: str | None = None  # None: inferred from the predictions file's columns
    bootstrap_file: str = BOOTSTRAP_FILE
    slices_file: str = DEFAULT_SLICES_FILE
    validation_file: str = VALIDATION_FILE
    confidence: float = 0.95
    bootstrap_samples: int = 1000
    seed: int = 0
    near_miss: float = 0.8
    source: str = ""

    def direction_of(self, file: str, metric: str) -> Direction:
        """The direction a rule gives ``metric``, else the inferred one."""
        for rule in self.rules:
            if rule.file == file and rule.metric == metric:
                return rule.direction
        return default_direction(metric)

    def columns(self) -> list[str]:
        """The predictions-file columns the rules read (``metric: column:<name>``)."""
        return [r.metric[len("column:") :] for r in self.rules if r.metric.startswith("column:")]

    def ks(self) -> dict[str, int]:
        """top_k_accuracy's k per metric name, from the rules that set ``k``."""
        return {r.metric: r.k for r in self.rules if r.k is not None}


def _direction(s: Section, metric: str) -> Direction:
    """A rule's ``direction``, one of :data:`~mlgate.constants.DIRECTIONS` (default: the
    metric's)."""
    text = s.string("direction", default_direction(metric), choices=DIRECTIONS)
    return "lower" if text == "lower" else "higher"  # choices= checked it


def default_direction(metric: str) -> Direction:
    """The direction of a known metric (:mod:`mlgate.gate.tasks`), else from its name."""
    if metric.startswith("column:"):
        return infer_direction(metric[len("column:") :])
    return table_direction(metric) or infer_direction(metric)


def load_policy(section: Section) -> Policy:
    """Parse and validate the ``gate:`` section (a :class:`~mlgate.config.Section`).

    >>> from mlgate.config import Section
    >>> p = load_policy(Section({"rules": [{"metric": "f1", "min": 0.9}]}, file="params.yaml", where="gate"))
    >>> p.rules[0].min, p.rules[0].direction
    (0.9, 'higher')
    """
    section.check_keys(_GATE_KEYS)
    metrics_file = section.string("metrics_file", DEFAULT_METRICS_FILE)
    predictions_file = section.string("predictions_file", PREDICTIONS_FILE)
    rules = tuple(
        _metric_rule(item, i, metrics_file, predictions_file)
        for i, item in enumerate(section.sections("rules", []))
    )
    slices_file = section.string("slices_file", DEFAULT_SLICES_FILE)
    slices = tuple(
        _slice_rule(item, i, slices_file) for i, item in enumerate(section.sections("slices", []))
    )
    return Policy(
        rules=rules,
        slices=slices,
        metrics_file=metrics_file,
        predictions_file=predictions_file,
        task=section.string("task", None, choices=TASKS) if "task" in section else None,
        bootstrap_file=section.string("bootstrap_file", BOOTSTRAP_FILE),
        slices_file=slices_file,
        validation_file=section.string("validation_file", VALIDATION_FILE),
        confidence=section.number("confidence", 0.95, min=0.5, max=0.999),
        bootstrap_samples=section.integer("bootstrap_samples", 1000, min=100, max=100_000),
        seed=section.integer("seed", 0),
        near_miss=section.number("near_miss", 0.8, min=0, max=1),
        source=section.file,
    )


def _metric_rule(s: Section, index: int, default_file: str, predictions: str) -> MetricRule:
    s.check_keys(_RULE_KEYS)
    metric = s.string("metric")
    column = metric.startswith("column:")
    if column and not metric[len("column:") :]:
        s.fail("metric", "column: needs a column name of the predictions file (column:<name>)")
    if column and s.string("file", predictions) != predictions:
        s.fail("file", f"a column: metric is read from gate.predictions_file ({predictions})")
    k = s.integer("k", None, min=1) if "k" in s else None
    if k is not None and metric != "top_k_accuracy":
        s.fail("k", "only a top_k_accuracy rule takes k")
    rule = MetricRule(
        name=f"rules[{index}]",
        metric=metric,
        file=predictions if column else s.string("file", default_file),
        k=k,
        direction=_direction(s, metric),
        min=s.optional_number("min"),
        max=s.optional_number("max"),
        max_regression=s.optional_number("max_regression", min=0),
        max_regression_rel=s.optional_number("max_regression_rel", min=0),
        significance=s.optional_number("significance", min=1e-6, max=0.5),
        inconclusive=s.string("inconclusive", "warn", choices=INCONCLUSIVE),
        max_improvement=s.optional_number("max_improvement", min=0),
    )
    _check_bound(s, rule.direction, rule.min, rule.max)
    if (
        rule.significance is not None
        and rule.max_regression is None
        and (rule.max_regression_rel is None)
    ):
        s.fail("significance", "needs max_regression or max_regression_rel to test against")
    return rule


def _check_bound(s: Section, direction: str, low: float | None, high: float | None) -> None:
    # A bound caps the worst acceptable value: a better candidate must never fail the gate
    # (suspiciously large gains are what max_improvement is for).
    if direction == "lower" and low is not None:
        s.fail("min", "the metric is lower-is-better, so bound it with max (or set direction)")
    if direction == "higher" and high is not None:
        s.fail("max", "the metric is higher-is-better, so bound it with min (or set direction)")


def _slice_rule(s: Section, index: int, default_file: str) -> SliceRule:
    s.check_keys(_SLICE_KEYS)
    metric = s.string("metric")
    rule = SliceRule(
        name=f"slices[{index}]",
        metric=metric,
        file=s.string("file", default_file),
        direction=_direction(s, metric),
        min=s.optional_number("min"),
        max=s.optional_number("max"),
        max_regression=s.optional_number("max_regression", min=0),
        min_n=s.integer("min_n", 0, min=0),
    )
    _check_bound(s, rule.direction, rule.min, rule.max)
    return rule
