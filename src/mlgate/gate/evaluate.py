"""Evaluate a policy on two snapshots: pure, deterministic (seeded), no I/O.

Each rule yields one :class:`RuleResult` per check it configures. A regression is how
much worse the candidate is (``baseline - candidate`` when higher is better). A regression
beyond tolerance fails, unless the rule asks for ``significance`` and the paired bootstrap
(or the unpaired fallback) cannot tell it from noise: then it is ``inconclusive`` (a
warning, or a failure with ``inconclusive: fail``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mlgate.errors import DataError
from mlgate.gate.policy import MetricRule, Policy, SliceRule
from mlgate.gate.result import Check, GateResult, MetricComparison, Revision, RuleResult, RuleStatus
from mlgate.gate.stats import (
    ChangeStats,
    Predictions,
    align,
    metric_of,
    mismatch,
    paired_bootstrap,
    unpaired,
)
from mlgate.git import WORKTREE
from mlgate.metrics.read import check_number, is_number


@dataclass(frozen=True)
class Snapshot:
    """Metrics (``{file: {dotted key: number}}``) and optional predictions of one revision.

    Rules without ``file:`` look in the policy's ``metrics_file`` (``metrics/scores.json``),
    slice rules in ``metrics/slices.json`` (``{"<slice>.n": rows, "<slice>.<metric>": x}``)
    and the unpaired test in ``metrics/bootstrap.json`` (``{"<metric>.std": sd}``). With
    ``predictions`` on both sides (same row ids) significance uses a paired bootstrap.
    """

    rev: str
    metrics: Mapping[str, Mapping[str, Any]]  # file -> dotted key -> number (text is kept)
    predictions: Predictions | None = field(default=None, compare=False)
    short: str = ""
    errors: Mapping[str, str] = field(default_factory=dict)  # unreadable declared files
    declared: bool = True  # False: no metrics file declared at all (first adoption)

    def require(self, file: str, rule: str, metric: str) -> None:
        """Refuse (exit 2) to judge ``rule`` when ``file`` is declared but could not be read.

        An unreadable declared folder (a cached output whose manifest is unavailable) counts
        for every file in it: nothing says the rule's file is not there.
        """
        for path, message in self.errors.items():
            if file == path or file.startswith(path.rstrip("/") + "/"):
                raise DataError(f"gate.{rule} ({metric}) cannot be evaluated: {message}")

    def value(self, file: str, key: str) -> float | None:
        """The number at ``file``/``key``; None if absent; DataError if it is not a number."""
        value = self.metrics.get(file, {}).get(key)
        return None if value is None else check_number(value, key, self.source(file))

    def number(self, file: str, key: str) -> float | None:
        """Like :meth:`value`, but None for anything that is not a finite number."""
        value: Any = self.metrics.get(file, {}).get(key)
        return float(value) if is_number(value) and math.isfinite(value) else None

    def source(self, file: str) -> str:
        """How messages name ``file`` of this snapshot (``abc1234:metrics/scores.json``)."""
        return file if self.rev == WORKTREE else f"{self.short or self.rev[:7]}:{file}"

    def revision(self) -> Revision:
        return Revision(self.rev, self.short or self.rev[:7])


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _regression(rule_direction: str, baseline: float, candidate: float) -> float:
    return baseline - candidate if rule_direction == "higher" else candidate - baseline


class _Stats:
    """Change statistics per metric, computed once (paired when possible, else unpaired)."""

    def __init__(self, policy: Policy, baseline: Snapshot | None, candidate: Snapshot) -> None:
        self.policy, self.baseline, self.candidate = policy, baseline, candidate
        self.paired: dict[str, ChangeStats] | None = None

    def _pairs(self) -> tuple[Predictions, Predictions] | None:
        b, c = self.baseline, self.candidate
        if b is None or b.predictions is None or c.predictions is None:
            return None
        return b.predictions, c.predictions

    def _paired(self) -> dict[str, ChangeStats]:
        if self.paired is None:
            self.paired = {}
            pairs = self._pairs()
            if pairs is not None and self.baseline is not None:
                b, c = self.baseline, self.candidate
                names = []
                for file in (self.policy.metrics_file, self.policy.predictions_file):
                    names += sorted(set(b.metrics.get(file, {})) & set(c.metrics.get(file, {})))
                dirs = {n: self.policy.direction_of(self._file(n), n) for n in names}
                self.paired = paired_bootstrap(
                    pairs[0],
                    pairs[1],
                    names,
                    dirs,
                    samples=self.policy.bootstrap_samples,
                    seed=self.policy.seed,
                    confidence=self.policy.confidence,
                    k=self.policy.ks(),
                )
        return self.paired

    def _file(self, metric: str) -> str:
        p = self.policy
        return p.predictions_file if metric.startswith("column:") else p.metrics_file

    def unresampled(self, file: str, metric: str) -> str | None:
        """Why the paired test has nothing for ``metric`` although both revisions have
        predictions (None when it has, or when there are no predictions to pair)."""
        pairs = self._pairs()
        if pairs is None or file != self._file(metric) or metric in self._paired():
            return None
        a, b = pairs
        if a.task != b.task or a.classes != b.classes:
            return (
                f"the revisions' predictions differ in task or classes ({a.task} "
                f"{list(a.classes)} vs {b.task} {list(b.classes)}), so they cannot be paired"
            )
        if align(a, b, sort=False) is None:
            return None  # rows differ: the caller reports the mismatch
        if metric_of(b, metric, k=self.policy.ks().get(metric)) is None:
            return f"no resampling for {metric} ({b.task} task, see README): its change counts"
        return f"every resample of {metric} was undefined (a class absent?): its change counts"

    def mismatch(self) -> str | None:
        """The first unpaired row when both revisions have predictions of different rows."""
        pairs = self._pairs()
        if pairs is None or self.baseline is None or align(*pairs, sort=False) is not None:
            return None
        file = self.policy.predictions_file
        return mismatch(*pairs, self.baseline.source(file), self.candidate.source(file))

    def get(self, file: str, metric: str, direction: str) -> ChangeStats | None:
        if self.baseline is None:
            return None
        base, cand = self.baseline.number(file, metric), self.candidate.number(file, metric)
        if base is None or cand is None:
            return None
        if file == self._file(metric) and metric in self._paired():
            return self._paired()[metric]
        bf = self.policy.bootstrap_file
        sd_b = self.baseline.number(bf, f"{metric}.std")
        sd_c = self.candidate.number(bf, f"{metric}.std")
        if file != self.policy.metrics_file or sd_b is None or sd_c is None:
            return None
        return unpaired(
            cand - base,
            _regression(direction, base, cand),
            sd_b,
            sd_c,
            confidence=self.policy.confidence,
        )


def with_columns(snapshot: Snapshot, policy: Policy) -> Snapshot:
    """``snapshot`` with the means of the rules' ``column:<name>`` as values of the
    predictions file (weighted by its ``weight`` column)."""
    from mlgate.gate.measures import point_value

    pred = snapshot.predictions
    names = [r.metric for r in policy.rules if r.metric.startswith("column:")]
    if pred is None or not names:
        return snapshot
    values = {}
    for name in names:
        metric = metric_of(pred, name)
        if metric is not None:
            values[name] = point_value(pred, metric)
    metrics = dict(snapshot.metrics)
    metrics[policy.predictions_file] = {**metrics.get(policy.predictions_file, {}), **values}
    return replace(snapshot, metrics=metrics)


def evaluate_snapshots(
    policy: Policy, *, baseline: Snapshot | None, candidate: Snapshot
) -> GateResult:
    """Apply ``policy`` to ``candidate`` against ``baseline`` (None: absolute rules only)."""
    candidate = with_columns(candidate, policy)
    baseline = with_columns(baseline, policy) if baseline is not None else None
    stats = _Stats(policy, baseline, candidate)
    results: list[RuleResult] = []
    notes: list[str] = []
    if baseline is None:
        notes.append("no baseline: rules against the baseline are skipped")
    elif not baseline.declared:
        notes.append(
            "the baseline declares no metrics in dvc.yaml (first adoption): rules against "
            "the baseline are skipped and the absolute rules decide"
        )
    for rule in policy.rules:
        results.extend(_metric_rule(rule, policy, baseline, candidate, stats))
    for srule in policy.slices:
        results.extend(_slice_rule(srule, policy, baseline, candidate))
    if not policy.rules and not policy.slices:
        notes.append("the policy has no rules: add a `gate:` section to params.yaml (see README)")
    return GateResult(
        baseline=baseline.revision() if baseline else None,
        candidate=candidate.revision(),
        rules=tuple(results),
        metrics=_comparisons(policy, baseline, candidate, stats),
        notes=tuple(notes),
        policy_source=policy.source,
    )


def _comparisons(
    policy: Policy, baseline: Snapshot | None, candidate: Snapshot, stats: _Stats
) -> tuple[MetricComparison, ...]:
    files = [policy.metrics_file, *sorted({r.file for r in policy.rules} - {policy.metrics_file})]
    out = []
    for file in files:
        keys = list(candidate.metrics.get(file, {}))
        if baseline is not None:
            keys += [k for k in baseline.metrics.get(file, {}) if k not in keys]
        for key in keys:
            b = baseline.number(file, key) if baseline else None
            c = candidate.number(file, key)
            if b is None and c is None:
                continue  # text or absent on both sides: nothing to compare
            direction = policy.direction_of(file, key)
            s = stats.get(file, key, direction)
            out.append(
                MetricComparison(
                    file=file,
                    metric=key,
                    direction=direction,
                    baseline=b,
                    candidate=c,
                    interval=s.interval if s else None,
                    p_value=s.p_value if s else None,
                    method=s.method if s else None,
                )
            )
    return tuple(out)


def _metric_rule(
    rule: MetricRule,
    policy: Policy,
    baseline: Snapshot | None,
    candidate: Snapshot,
    stats: _Stats,
) -> list[RuleResult]:
    """The checks of one metric rule: presence, bounds, then the changes against the baseline."""
    candidate.require(rule.file, rule.name, rule.metric)
    if baseline is not None and baseline.declared:
        baseline.require(rule.file, rule.name, rule.metric)
    base = _value(baseline, rule) if baseline else None
    cand = _value(candidate, rule)
    common: dict[str, Any] = {"rule": rule.name, "file": rule.file, "metric": rule.metric}
    if cand is None:
        where = "file is missing" if rule.file not in candidate.metrics else "key is missing"
        return [
            RuleResult(
                check="present",
                status="fail",
                message=f"the candidate has no {rule.metric} in {rule.file} ({where})",
                baseline=base,
                **common,
            )
        ]
    common.update(baseline=base, candidate=cand)
    out = _bounds(rule, cand, common)
    if rule.relative:
        out += _changes(rule, policy, baseline, base, cand, stats, common)
    return out


def _bounds(rule: MetricRule, cand: float, common: dict[str, Any]) -> list[RuleResult]:
    """``min`` and ``max``: the candidate's value against fixed limits."""
    out: list[RuleResult] = []
    if rule.min is not None:
        ok = cand >= rule.min
        msg = f"{_fmt(cand)} {'>=' if ok else '<'} min {_fmt(rule.min)}"
        out.append(
            RuleResult(
                check="min", status="pass" if ok else "fail", limit=rule.min, message=msg, **common
            )
        )
    if rule.max is not None:
        ok = cand <= rule.max
        msg = f"{_fmt(cand)} {'<=' if ok else '>'} max {_fmt(rule.max)}"
        out.append(
            RuleResult(
                check="max", status="pass" if ok else "fail", limit=rule.max, message=msg, **common
            )
        )
    return out


def _changes(
    rule: MetricRule,
    policy: Policy,
    baseline: Snapshot | None,
    base: float | None,
    cand: float,
    stats: _Stats,
    common: dict[str, Any],
) -> list[RuleResult]:
    """``max_regression``, ``max_regression_rel`` and ``max_improvement`` against the
    baseline (skipped without one)."""
    limits: tuple[tuple[Check, float | None], ...] = (
        ("max_regression", rule.max_regression),
        ("max_regression_rel", rule.max_regression_rel),
        ("max_improvement", rule.max_improvement),
    )
    checks = [(name, limit) for name, limit in limits if limit is not None]
    if base is None:
        why = "no baseline" if baseline is None else f"the baseline has no {rule.metric}"
        return [
            RuleResult(check=name, status="skip", limit=limit, message=f"skipped: {why}", **common)
            for name, limit in checks
        ]
    regression = _regression(rule.direction, base, cand)
    s = stats.get(rule.file, rule.metric, rule.direction)
    common.update(
        change=cand - base,
        p_value=s.p_value if s else None,
        interval=s.interval if s else None,
        method=s.method if s else None,
    )
    out: list[RuleResult] = []
    for name, limit in checks:
        if name == "max_improvement":
            out.append(_improvement(-regression, limit, common))
            continue
        used = regression if name == "max_regression" else _relative(regression, base)
        out.append(_regression_result(rule, name, used, limit, s, policy, common, stats))
    return out


def _improvement(improvement: float, limit: float, common: dict[str, Any]) -> RuleResult:
    """``max_improvement``: a warning when the candidate is suspiciously much better."""
    if improvement > limit:
        msg = (
            f"improved by {_fmt(improvement)} > {_fmt(limit)}: suspiciously much, "
            "check for leakage between train and eval data"
        )
        return RuleResult(
            check="max_improvement", status="warn", limit=limit, message=msg, **common
        )
    msg = (
        f"improved by {_fmt(improvement)} <= {_fmt(limit)}" if improvement > 0 else "no improvement"
    )
    return RuleResult(check="max_improvement", status="pass", limit=limit, message=msg, **common)


def _value(snapshot: Snapshot, rule: MetricRule) -> float | None:
    """The rule's number in ``snapshot``; a NaN or a text there stops the gate, naming the rule."""
    try:
        return snapshot.value(rule.file, rule.metric)
    except DataError as exc:
        raise DataError(f"gate.{rule.name} ({rule.metric}) cannot be evaluated: {exc}") from exc


def _relative(regression: float, base: float) -> float:
    if base == 0:
        return math.inf if regression > 0 else 0.0
    return regression / abs(base)


def _regression_result(
    rule: MetricRule,
    check: Check,
    used: float,
    limit: float,
    s: ChangeStats | None,
    policy: Policy,
    common: dict[str, Any],
    stats: _Stats,
) -> RuleResult:
    worse = "worse" if used > 0 else "not worse"
    relative = check == "max_regression_rel"
    amount = f"{abs(used):.1%}" if relative else _fmt(abs(used))
    allowed = f"{limit:.1%}" if relative else _fmt(limit)
    if used <= limit:
        near = limit > 0 and used > policy.near_miss * limit
        msg = f"{worse} by {amount} <= allowed {allowed}" if used > 0 else f"{worse}"
        if near:
            msg += f" (near miss: {used / limit:.0%} of the tolerance)"
        return RuleResult(
            check=check, status="pass", limit=limit, message=msg, near_miss=near, **common
        )
    msg = f"worse by {amount} > allowed {allowed}"
    if rule.significance is None:
        return RuleResult(check=check, status="fail", limit=limit, message=msg, **common)
    if s is None:
        why = stats.unresampled(rule.file, rule.metric)
        unpaired_rows = stats.mismatch() if why is None else None
        if unpaired_rows is not None:
            raise DataError(f"gate.{rule.name} ({rule.metric}): {unpaired_rows}")
        why = why or "no predictions or bootstrap data to test significance, so it counts"
        msg += f"; {why}"
        return RuleResult(check=check, status="fail", limit=limit, message=msg, **common)
    if s.p_value <= rule.significance:
        msg += f", significant (p={s.p_value:.3g} <= {rule.significance:g}, {s.method})"
        return RuleResult(check=check, status="fail", limit=limit, message=msg, **common)
    msg += f", not significant (p={s.p_value:.3g} > {rule.significance:g}, {s.method})"
    status: RuleStatus = "fail" if rule.inconclusive == "fail" else "inconclusive"
    return RuleResult(check=check, status=status, limit=limit, message=msg, **common)


def _slices(
    snapshot: Snapshot | None, file: str, metric: str
) -> dict[str, dict[str, float]] | None:
    """``{slice: {"n": rows, metric: value}}``; the values a rule uses must be numbers."""
    if snapshot is None or file not in snapshot.metrics:
        return None
    out: dict[str, dict[str, float]] = {}
    for key in snapshot.metrics[file]:
        name, _, leaf = key.rpartition(".")  # slice names may contain dots ("[12.5,15)")
        row = out.setdefault(name, {})
        if leaf in ("n", metric):
            value = snapshot.value(file, key)
            if value is not None:
                row[leaf] = value
    return out


def _slice_rule(
    rule: SliceRule, policy: Policy, baseline: Snapshot | None, candidate: Snapshot
) -> list[RuleResult]:
    common: dict[str, Any] = {"rule": rule.name, "file": rule.file, "metric": rule.metric}
    candidate.require(rule.file, rule.name, rule.metric)
    if baseline is not None and baseline.declared:
        baseline.require(rule.file, rule.name, rule.metric)
    cand = _slices(candidate, rule.file, rule.metric)
    if cand is None:
        msg = f"the candidate has no {rule.file}"
        return [RuleResult(check="present", status="fail", message=msg, **common)]
    eligible = {k: v for k, v in cand.items() if v.get("n", 0) >= rule.min_n or rule.min_n == 0}
    missing = sorted(k for k, v in eligible.items() if rule.metric not in v)
    if missing:
        msg = f"the candidate has no {rule.metric} for slice {missing[0]}"
        return [RuleResult(check="present", status="fail", slice=missing[0], message=msg, **common)]
    if not eligible:
        msg = f"skipped: no slice has at least {rule.min_n} rows"
        return [RuleResult(check="slices", status="skip", message=msg, **common)]
    out: list[RuleResult] = []
    base_slices = _slices(baseline, rule.file, rule.metric) or {}
    bounds: tuple[tuple[Check, float | None], ...] = (
        ("slice_min", rule.min),
        ("slice_max", rule.max),
    )
    for check, limit in bounds:
        if limit is None:
            continue
        # the slice that comes closest to (or furthest past) this bound
        if check == "slice_min":
            name = min(eligible, key=lambda k: eligible[k][rule.metric])
            ok = eligible[name][rule.metric] >= limit
            op = ">=" if ok else "<"
        else:
            name = max(eligible, key=lambda k: eligible[k][rule.metric])
            ok = eligible[name][rule.metric] <= limit
            op = "<=" if ok else ">"
        v = eligible[name][rule.metric]
        msg = f"worst slice {_fmt(v)} {op} {'min' if check == 'slice_min' else 'max'} {_fmt(limit)}"
        out.append(
            RuleResult(
                check=check,
                status="pass" if ok else "fail",
                limit=limit,
                slice=name,
                candidate=v,
                baseline=base_slices.get(name, {}).get(rule.metric),
                message=msg,
                **common,
            )
        )
    if rule.max_regression is not None:
        out.append(_slice_regression(rule, eligible, base_slices, baseline, policy, common))
    return out


def _slice_regression(
    rule: SliceRule,
    eligible: dict[str, dict[str, float]],
    base_slices: dict[str, dict[str, float]],
    baseline: Snapshot | None,
    policy: Policy,
    common: dict[str, Any],
) -> RuleResult:
    limit = rule.max_regression
    assert limit is not None
    pairs = {
        k: (base_slices[k][rule.metric], v[rule.metric])
        for k, v in eligible.items()
        if rule.metric in base_slices.get(k, {})
        and (rule.min_n == 0 or base_slices[k].get("n", 0) >= rule.min_n)
    }
    if not pairs:
        why = "no baseline" if baseline is None else "no slice to compare in the baseline"
        return RuleResult(
            check="slice_max_regression",
            status="skip",
            limit=limit,
            message=f"skipped: {why}",
            **common,
        )
    regs = {k: _regression(rule.direction, b, c) for k, (b, c) in pairs.items()}
    name = max(regs, key=lambda k: regs[k])
    reg = regs[name]
    b, c = pairs[name]
    ok = reg <= limit
    near = ok and limit > 0 and reg > policy.near_miss * limit
    msg = f"largest slice regression {_fmt(max(reg, 0.0))} {'<=' if ok else '>'} allowed {_fmt(limit)}"
    return RuleResult(
        check="slice_max_regression",
        status="pass" if ok else "fail",
        limit=limit,
        slice=name,
        baseline=b,
        candidate=c,
        change=c - b,
        near_miss=near,
        message=msg,
        **common,
    )
