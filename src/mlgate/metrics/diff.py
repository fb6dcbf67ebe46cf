"""Pure diffs of flat metrics and params, in the shape of ``dvc metrics diff --json``.

``{"<file>": {"<key>": {"old": x, "new": y, "diff": y - x}}}``: a key missing on one side
has ``None`` there and no ``diff``; unchanged keys appear only with ``all=True``
(DVC's ``--all``). The numbers are computed exactly as DVC computes them (``new - old``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlgate._record import Record
from mlgate.constants import Direction

#: Names containing these words are lower-is-better unless a policy says otherwise.
LOWER_WORDS = ("loss", "error")
#: Whole words (parts of a name split at ``_``, ``-``, ``.``) that are lower-is-better.
LOWER_TOKENS = frozenset(
    {"mse", "rmse", "msle", "rmsle", "mae", "mape", "smape", "brier", "perplexity", "wer",
     "cer", "fpr", "fnr", "eer", "latency", "ece", "ae", "medae", "mdae", "mase"}
)  # fmt: skip


#: Leaves of keys derived from a metric: a bound of its interval follows the metric's
#: direction (``log_loss.high`` down is better); a spread has none (``roc_auc.std``).
BOUND_LEAVES = frozenset({"low", "high", "lower", "upper"})
SPREAD_LEAVES = frozenset({"std", "stdev", "stderr", "sem", "var", "variance"})


def infer_direction(key: str) -> Direction:
    """``"lower"`` for losses, errors and error measures (``log_loss``, ``val.error_rate``,
    ``rmse``, ``val_mae``), else ``"higher"``.

    Only the leaf name counts, except for a bound, which is named after its metric:
    ``log_loss.high`` is lower-is-better like ``log_loss``.
    """
    parent, _, leaf = key.rpartition(".")
    if parent and leaf.lower() in BOUND_LEAVES:
        return infer_direction(parent)
    name = leaf.lower()
    tokens = set(name.replace("-", "_").split("_"))
    lower = any(w in name for w in LOWER_WORDS) or bool(tokens & LOWER_TOKENS)
    return "lower" if lower else "higher"


def change_direction(
    key: str, *, file: str = "", directions: Mapping[str, str] | None = None
) -> str | None:
    """How a change of ``key`` is coloured: ``"higher"`` or ``"lower"`` is better, ``None``
    for a spread (``roc_auc.std``: a narrower interval is not a better or worse metric).

    ``directions`` (``{"file:key": direction}``, from the gate policy) beats names; a bound
    takes its metric's stated direction from any file (bootstrap intervals live beside the
    scores they bound).

    >>> change_direction("mae.high", directions={"metrics/scores.json:mae": "lower"})
    'lower'
    >>> change_direction("roc_auc.std") is None
    True
    """
    dirs = directions or {}
    stated = dirs.get(f"{file}:{key}")
    if stated is not None:
        return stated
    parent, _, leaf = key.rpartition(".")
    if leaf.lower() in SPREAD_LEAVES:
        return None
    if parent and leaf.lower() in BOUND_LEAVES:
        metric = dirs.get(f"{file}:{parent}") or next(
            (d for k, d in dirs.items() if k.endswith(f":{parent}")), None
        )
        return metric or change_direction(parent, file=file)
    return infer_direction(key)


def policy_directions(
    flat_params: Mapping[str, Any], *, default_file: str = "metrics/scores.json"
) -> dict[str, str]:
    """``{"file:metric": direction}`` from the ``gate.rules`` of flat params (no YAML needed).

    >>> policy_directions({"gate.rules": [{"metric": "mae", "direction": "lower"}]})
    {'metrics/scores.json:mae': 'lower'}
    """
    file = flat_params.get("gate.metrics_file")
    file = file if isinstance(file, str) else default_file
    rules = flat_params.get("gate.rules")
    out: dict[str, str] = {}
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, Mapping):
            continue
        metric, direction = rule.get("metric"), rule.get("direction")
        rule_file = rule.get("file") if isinstance(rule.get("file"), str) else file
        if isinstance(metric, str) and direction in ("higher", "lower"):
            out[f"{rule_file}:{metric}"] = direction
    return out


class Change(Record):
    """One key's values on both sides; ``diff`` only when both are numbers."""

    _fields = ("old", "new")
    __slots__ = _fields
    old: Any
    new: Any

    def __init__(self, old: Any, new: Any) -> None:
        self._init(old, new)

    @property
    def diff(self) -> float | None:
        if _is_number(self.old) and _is_number(self.new):
            return self.new - self.old  # type: ignore[no-any-return]
        return None

    @property
    def changed(self) -> bool:
        return _differs(self.old, self.new)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"old": self.old, "new": self.new}
        d = self.diff
        if d is not None:
            out["diff"] = d
        return out


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float)  # booleans too: DVC computes True - False = 1


class Diff(Record):
    """Changes per file (a metrics file, or ``params.yaml``), ordered by file then key."""

    _fields = ("files",)
    __slots__ = _fields
    files: Mapping[str, Mapping[str, Change]]

    def __init__(self, files: Mapping[str, Mapping[str, Change]]) -> None:
        self._init(files)

    def to_json(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The ``dvc metrics diff --json`` shape."""
        return {
            f: {k: c.to_json() for k, c in changes.items()} for f, changes in self.files.items()
        }

    def __bool__(self) -> bool:
        return any(self.files.values())


def diff_flat(
    old: Mapping[str, Any], new: Mapping[str, Any], *, all: bool = False
) -> dict[str, Change]:
    """Changes between two flat mappings (keys sorted; equal values only with ``all``)."""
    out: dict[str, Change] = {}
    for key in sorted(set(old) | set(new)):
        change = Change(old.get(key), new.get(key))
        if all or change.changed:
            out[key] = change
    return out


def diff_metrics(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    all: bool = False,
) -> Diff:
    """Diff ``{file: value}`` of two revisions as ``dvc metrics diff`` does.

    A value is what :func:`mlgate.metrics.read.load_metrics` returns (a mapping, nested or
    flat, or a scalar); a file missing or unreadable on one side is absent from its map.
    Files with no change are left out. DVC's rules, kept exactly
    (``dvc/utils/diff.py``): a scalar file is the key ``""``; when one side is a mapping
    and the other a scalar, the scalar side reads ``"unable to parse"``; NaN never equals
    itself, so it always shows.

    >>> diff_metrics({"m.json": {"acc": 0.5}}, {"m.json": {"acc": 0.75}}).to_json()
    {'m.json': {'acc': {'old': 0.5, 'new': 0.75, 'diff': 0.25}}}
    """
    files: dict[str, dict[str, Change]] = {}
    for path in sorted(set(old) | set(new)):
        changes = _diff_file(old.get(path, {}), new.get(path, {}), all)
        if changes:
            files[path] = changes
    return Diff(files)


_UNPARSED = "unable to parse"


def _diff_file(old: Any, new: Any, all: bool) -> dict[str, Change]:
    old, new = _parse(old), _parse(new)
    if isinstance(old, Mapping) or isinstance(new, Mapping):
        return _diff_mappings(_flat_or_none(old), _flat_or_none(new), all)
    change = Change(old, new)
    return {"": change} if all or _differs(old, new) else {}


def _parse(value: Any) -> Any:
    """DVC's ``_parse``: a text value that is JSON (``"1.5"``) is read as JSON."""
    if not isinstance(value, str):
        return value
    import json

    try:
        return json.loads(value)
    except ValueError:
        return value


def _flat_or_none(value: Any) -> Mapping[str, Any] | None:
    """DVC's ``_flatten``: a mapping flattened; ``None`` for empty; a marker for scalars."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        out: dict[str, Any] = dict(leaves(value))
        return out
    return None


def leaves(value: Mapping[Any, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """The dotted names and leaves of nested mappings, joined as DVC joins them (an empty
    mapping has none). The one flattening walk of mlgate (:func:`mlgate.metrics.read.flatten`
    adds DVC's rules for metrics files to it).

    >>> list(leaves({"a": {"b": 1, "c": {}}, "d": [2]}))
    [('a.b', 1), ('d', [2])]
    """
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping):
            if item:
                yield from leaves(item, name)
        else:
            yield name, item


def _diff_mappings(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, all: bool
) -> dict[str, Change]:
    keys = set(old or {}) | set(new or {})
    out: dict[str, Change] = {}
    for key in sorted(keys):
        a = _UNPARSED if old is None else old.get(key)
        b = _UNPARSED if new is None else new.get(key)
        if all or _differs(a, b):
            out[key] = Change(a, b)
    return out


def _differs(old: Any, new: Any) -> bool:
    return bool(old != new)
