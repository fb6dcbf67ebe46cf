"""mlgate.gate: policy parsing, the pure evaluation, significance, baselines at revisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlgate.config import Section
from mlgate.errors import ConfigError, DataError, GitError
from mlgate.gate import (
    GateResult,
    Policy,
    Predictions,
    Snapshot,
    evaluate_revisions,
    evaluate_snapshots,
    load_policy,
    resolve_baseline,
)
from mlgate.gate.stats import paired_bootstrap
from mlgate.git import Repo
from tests.conftest import add_origin, git, run
from tests.gate_support import SLICES, commit, metrics_repo, predictions_csv

SCORES = "metrics/scores.json"


def policy(data: dict[str, Any]) -> Policy:
    return load_policy(Section(data, file="params.yaml", where="gate"))


def snap(rev: str = "b" * 40, predictions: Predictions | None = None, **metrics: Any) -> Snapshot:
    files: dict[str, dict[str, Any]] = {SCORES: dict(metrics)}
    return Snapshot(rev=rev, metrics=files, predictions=predictions)


def statuses(result: GateResult) -> list[tuple[str, str, str]]:
    return [(r.metric, r.check, r.status) for r in result.rules]


# -- policy ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"rules": [{"metric": "f1"}, {"metric": "auc", "max_regression": "x"}]},
            'params.yaml: gate.rules[1].max_regression: expected a number, got "x"',
        ),
        (
            {"rules": [{"metric": "f1", "max_regresion": 0.1}]},
            "params.yaml: gate.rules[0].max_regresion: unknown key",
        ),
        (
            {"rules": [{"metric": "f1", "direction": "up"}]},
            'params.yaml: gate.rules[0].direction: expected one of higher, lower, got "up"',
        ),
        ({"rules": [{"min": 0.5}]}, "params.yaml: gate.rules[0].metric: missing"),
        (
            {"rules": [{"metric": "f1", "significance": 0.05}]},
            "gate.rules[0].significance: needs max_regression or max_regression_rel",
        ),
        (
            {"rules": [{"metric": "log_loss", "min": 0.1}]},
            "gate.rules[0].min: the metric is lower-is-better, so bound it with max",
        ),
        ({"rules": [{"metric": "f1", "max": 0.99}]}, "gate.rules[0].max: the metric is higher"),
        ({"rules": {"metric": "f1"}}, "params.yaml: gate.rules: expected a list"),
        ({"slices": [{"metric": "acc", "min_n": 1.5}]}, "gate.slices[0].min_n: expected a whole"),
        ({"confidence": 2}, "params.yaml: gate.confidence: must be <= 0.999"),
        ({"rules": [{"metric": "f1", "max_regression": -1}]}, "max_regression: must be >= 0"),
    ],
)
def test_policy_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy(data)
    assert message in str(info.value)


def test_policy_defaults_and_inferred_direction() -> None:
    p = policy({"rules": [{"metric": "log_loss"}, {"metric": "f1", "file": "m.json"}]})
    assert [r.direction for r in p.rules] == ["lower", "higher"]
    assert p.rules[1].file == "m.json" and p.rules[0].file == SCORES
    assert p.rules[0].inconclusive == "warn" and p.bootstrap_samples == 1000


def test_default_params_policy_loads() -> None:
    from mlgate.config import load_params

    root = Path(__file__).resolve().parents[2]
    p = load_policy(load_params(root / "params.yaml").section("gate"))
    assert {r.metric for r in p.rules} >= {"roc_auc", "log_loss"} and p.slices


# -- absolute and relative rules --------------------------------------------------------------
def test_absolute_and_relative_rules() -> None:
    p = policy(
        {
            "rules": [
                {"metric": "auc", "min": 0.9, "max_regression": 0.01},
                {"metric": "log_loss", "max": 0.3, "max_regression_rel": 0.1},
            ]
        }
    )
    base = snap(auc=0.95, log_loss=0.2)
    ok = evaluate_snapshots(p, baseline=base, candidate=snap(auc=0.945, log_loss=0.21))
    assert ok.verdict == "pass" and ok.passed
    bad = evaluate_snapshots(p, baseline=base, candidate=snap(auc=0.93, log_loss=0.25))
    assert bad.verdict == "fail"
    assert statuses(bad) == [
        ("auc", "min", "pass"),
        ("auc", "max_regression", "fail"),
        ("log_loss", "max", "pass"),
        ("log_loss", "max_regression_rel", "fail"),
    ]
    fail = bad.failures[0]
    assert fail.baseline == 0.95 and fail.candidate == 0.93 and fail.limit == 0.01
    assert "worse by 0.02 > allowed 0.01" in fail.message


def test_near_miss_and_max_improvement() -> None:
    p = policy({"rules": [{"metric": "auc", "max_regression": 0.01, "max_improvement": 0.02}]})
    near = evaluate_snapshots(p, baseline=snap(auc=0.95), candidate=snap(auc=0.941))
    assert near.passed and near.rules[0].near_miss and near.warnings
    leak = evaluate_snapshots(p, baseline=snap(auc=0.9), candidate=snap(auc=0.99))
    assert leak.passed and leak.rules[1].status == "warn" and "leakage" in leak.rules[1].message


def test_missing_metric_fails_naming_it() -> None:
    p = policy({"rules": [{"metric": "auc", "min": 0.5}]})
    result = evaluate_snapshots(p, baseline=snap(auc=0.9), candidate=snap(f1=0.9))
    assert result.verdict == "fail"
    assert result.rules[0].check == "present" and "no auc in metrics/scores.json" in (
        result.rules[0].message
    )


def test_no_baseline_skips_relative_rules_with_a_note() -> None:
    p = policy({"rules": [{"metric": "auc", "min": 0.5, "max_regression": 0.01}]})
    result = evaluate_snapshots(p, baseline=None, candidate=snap(auc=0.9))
    assert statuses(result) == [("auc", "min", "pass"), ("auc", "max_regression", "skip")]
    assert result.passed and "no baseline" in result.notes[0]
    empty = Snapshot(rev="a" * 40, metrics={}, declared=False)
    first = evaluate_snapshots(p, baseline=empty, candidate=snap(auc=0.9))
    assert first.passed and "the baseline declares no metrics" in first.notes[0]
    # declared but unreadable is not "no metrics": the gate refuses to judge (exit 2)
    broken = Snapshot(rev="a" * 40, metrics={}, errors={"metrics/scores.json": "v1:x: bad"})
    with pytest.raises(DataError, match=r"gate.rules\[0\] \(auc\) cannot be evaluated: v1:x: bad"):
        evaluate_snapshots(p, baseline=broken, candidate=snap(auc=0.9))
    with pytest.raises(DataError, match=r"gate.rules\[0\] \(auc\) cannot be evaluated"):
        evaluate_snapshots(p, baseline=snap(auc=0.9), candidate=broken)


# -- significance ------------------------------------------------------------------------------
def _preds(y: np.ndarray, score: np.ndarray) -> Predictions:
    return Predictions(
        row_id=np.array([str(i) for i in range(len(y))]),
        y_true=y.astype(float),
        y_pred=(score >= 0.5).astype(float),
        y_score=score,
    )


def _pair(flip: int, n: int = 400) -> tuple[Predictions, Predictions]:
    rng = np.random.default_rng(1)
    y = (rng.random(n) < 0.4).astype(float)
    good = np.clip(y * 0.8 + rng.normal(0.1, 0.05, n), 0, 1)
    bad = good.copy()
    bad[:flip] = 1 - bad[:flip]  # the candidate gets `flip` rows wrong
    return _preds(y, good), _preds(y, bad)


def _accuracy(p: Predictions) -> float:
    return float((p.y_true == p.y_pred).mean())


@pytest.mark.parametrize(("flip", "status"), [(2, "inconclusive"), (40, "fail")])
def test_paired_bootstrap_decides_significance(flip: int, status: str) -> None:
    a, b = _pair(flip)
    p = policy({"rules": [{"metric": "accuracy", "max_regression": 0.001, "significance": 0.05}]})
    result = evaluate_snapshots(
        p,
        baseline=snap(predictions=a, accuracy=_accuracy(a)),
        candidate=snap(predictions=b, accuracy=_accuracy(b)),
    )
    rule = result.rules[0]
    assert rule.status == status and rule.method == "paired bootstrap"
    assert rule.p_value is not None and rule.interval is not None
    assert rule.interval[0] <= rule.change <= rule.interval[1]  # type: ignore[operator]
    assert result.passed == (status == "inconclusive")
    strict = policy(
        {
            "rules": [
                {
                    "metric": "accuracy",
                    "max_regression": 0.001,
                    "significance": 0.05,
                    "inconclusive": "fail",
                }
            ]
        }
    )
    again = evaluate_snapshots(
        strict,
        baseline=snap(predictions=a, accuracy=_accuracy(a)),
        candidate=snap(predictions=b, accuracy=_accuracy(b)),
    )
    assert again.verdict == "fail"


def _noisy_pair(n: int = 400, worse: int = 10, seed: int = 3) -> tuple[Predictions, Predictions]:
    """A baseline about 80% right (real variance) and a candidate that repeats its predictions
    but gets ``worse`` more rows wrong; each side's rows are shuffled differently, and the ids
    are zero-padded so their sorted order is the numeric one."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    score = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0.01, 0.99)
    pred = (score >= 0.5).astype(float)
    cand_score = score.copy()
    right = np.flatnonzero(pred == y)
    hurt = rng.choice(right, worse, replace=False)
    cand_score[hurt] = 1 - cand_score[hurt]
    ids = np.array([f"r{i:04d}" for i in range(n)])

    def side(s: np.ndarray, order: np.ndarray) -> Predictions:
        return Predictions(ids[order], y[order], (s[order] >= 0.5).astype(float), s[order])

    return side(score, rng.permutation(n)), side(cand_score, rng.permutation(n))


def test_paired_bootstrap_pairs_rows_by_row_id() -> None:
    """Shuffled rows, an ~80% baseline: only a bootstrap paired by row_id sees that the
    candidate is worse on 10 rows and better on none (p ~ 0). Resampling the sides apart, or
    pairing them by position, leaves ~0.02 of noise per side: p ~ 0.2, inconclusive."""
    a, b = _noisy_pair()
    assert not np.array_equal(a.row_id, b.row_id)
    assert 0.7 < _accuracy(a) < 0.9 and _accuracy(a) - _accuracy(b) == pytest.approx(10 / 400)
    p = policy({"rules": [{"metric": "accuracy", "max_regression": 0.001, "significance": 0.05}]})
    result = evaluate_snapshots(
        p,
        baseline=snap(predictions=a, accuracy=_accuracy(a)),
        candidate=snap(predictions=b, accuracy=_accuracy(b)),
    )
    rule = result.rules[0]
    assert rule.method == "paired bootstrap" and rule.status == "fail", rule.message
    assert rule.p_value == pytest.approx(1 / 1001)
    assert rule.interval is not None and rule.interval[1] < 0


def test_paired_bootstrap_matches_a_hand_computed_paired_result() -> None:
    """Resample rows in row_id order with the documented draws; score both sides on them."""
    a, b = _noisy_pair(n=300, worse=6, seed=8)
    samples, seed, confidence = 500, 4, 0.9
    got = paired_bootstrap(
        a,
        b,
        ["accuracy", "log_loss"],
        {"accuracy": "higher", "log_loss": "lower"},
        samples=samples,
        seed=seed,
        confidence=confidence,
    )
    # by hand: each side's rows in row_id order, one set of resample indices for both
    oa, ob = np.argsort(a.row_id), np.argsort(b.row_id)
    y = a.y_true[oa]
    assert np.array_equal(y, b.y_true[ob])
    idx = np.random.default_rng(seed).integers(0, len(y), size=(samples, len(y)))

    def loss(s: np.ndarray) -> np.ndarray:
        q = np.clip(s[idx], np.finfo(float).eps, 1 - np.finfo(float).eps)
        return np.asarray(-(y[idx] * np.log(q) + (1 - y[idx]) * np.log(1 - q)).mean(axis=1))

    deltas = {
        "accuracy": (b.y_pred[ob][idx] == y[idx]).mean(axis=1)
        - (a.y_pred[oa][idx] == y[idx]).mean(axis=1),
        "log_loss": loss(b.y_score[ob]) - loss(a.y_score[oa]),
    }
    for name, delta in deltas.items():
        regression = delta if name == "log_loss" else -delta
        p_value = (int((regression <= 0).sum()) + 1) / (samples + 1)
        lo, hi = np.quantile(delta, [0.05, 0.95])
        assert got[name].method == "paired bootstrap"
        assert got[name].p_value == pytest.approx(p_value, abs=1e-12), name
        assert got[name].interval == pytest.approx((lo, hi), abs=1e-12), name
    assert got["accuracy"].p_value < 0.01  # paired, the 6 extra mistakes are no noise


def test_unpaired_fallback_from_bootstrap_json() -> None:
    p = policy({"rules": [{"metric": "auc", "max_regression": 0.001, "significance": 0.05}]})
    boot = "metrics/bootstrap.json"

    def side(auc: float, std: float) -> Snapshot:
        return Snapshot(rev="c" * 40, metrics={SCORES: {"auc": auc}, boot: {"auc.std": std}})

    noisy = evaluate_snapshots(p, baseline=side(0.95, 0.02), candidate=side(0.94, 0.02))
    assert noisy.rules[0].status == "inconclusive" and noisy.rules[0].method == "unpaired normal"
    sure = evaluate_snapshots(p, baseline=side(0.95, 0.001), candidate=side(0.90, 0.001))
    assert sure.rules[0].status == "fail" and sure.rules[0].p_value < 0.001  # type: ignore[operator]
    blind = evaluate_snapshots(p, baseline=snap(auc=0.95), candidate=snap(auc=0.9))
    assert (
        blind.rules[0].status == "fail" and "no predictions or bootstrap" in blind.rules[0].message
    )


def test_paired_bootstrap_is_deterministic() -> None:
    a, b = _pair(10)
    p = policy({"rules": [{"metric": "accuracy", "max_regression": 0.0, "significance": 0.05}]})
    args = {
        "baseline": snap(predictions=a, accuracy=_accuracy(a)),
        "candidate": snap(predictions=b, accuracy=_accuracy(b)),
    }
    assert evaluate_snapshots(p, **args).to_json() == evaluate_snapshots(p, **args).to_json()


# -- slices ---------------------------------------------------------------------------------------
def test_slice_rules_respect_min_n() -> None:
    p = policy(
        {"slices": [{"metric": "accuracy", "min": 0.85, "max_regression": 0.03, "min_n": 20}]}
    )
    base = Snapshot(rev="a" * 40, metrics={"metrics/slices.json": _flat(SLICES)})
    worse = {k: dict(v) for k, v in SLICES.items()}
    worse["size=[12,15)"]["accuracy"] = 0.84
    worse["size=[15,100)"]["accuracy"] = 0.1  # only 10 rows: ignored
    cand = Snapshot(rev="b" * 40, metrics={"metrics/slices.json": _flat(worse)})
    result = evaluate_snapshots(p, baseline=base, candidate=cand)
    assert statuses(result) == [
        ("accuracy", "slice_min", "fail"),
        ("accuracy", "slice_max_regression", "fail"),
    ]
    assert {r.slice for r in result.rules} == {"size=[12,15)"}
    ok = evaluate_snapshots(p, baseline=base, candidate=base)
    assert ok.passed


def test_slice_names_with_dots() -> None:
    p = policy({"slices": [{"metric": "accuracy", "min": 0.5}]})
    flat = {"r=[12.5,15).n": 30, "r=[12.5,15).accuracy": 0.4}
    result = evaluate_snapshots(
        p, baseline=None, candidate=Snapshot(rev="a" * 40, metrics={"metrics/slices.json": flat})
    )
    assert result.rules[0].slice == "r=[12.5,15)" and result.verdict == "fail"


def _flat(slices: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{k}.{m}": v for k, row in slices.items() for m, v in row.items()}


def test_to_json_schema_version_1() -> None:
    p = policy({"rules": [{"metric": "auc", "min": 0.99}]})
    doc = evaluate_snapshots(p, baseline=snap(auc=0.95), candidate=snap(auc=0.95)).to_json()
    assert doc["schema_version"] == 1 and doc["verdict"] == "fail"
    assert set(doc) == {
        "schema_version",
        "verdict",
        "baseline",
        "candidate",
        "policy",
        "rules",
        "metrics",
        "notes",
    }
    assert doc["rules"][0]["status"] == "fail" and doc["rules"][0]["limit"] == 0.99
    json.dumps(doc, allow_nan=False)


# -- property: a better candidate never turns a pass into a fail --------------------------------
_value = st.floats(0.0, 1.0, allow_nan=False)
#: How good a rule's status is; a better candidate never moves a rule down this order.
_RANK = {"fail": 0, "inconclusive": 1, "warn": 1, "pass": 2, "skip": 2}


def assert_no_worse(before: GateResult, after: GateResult) -> None:
    """Whatever the first verdict, ``after`` (the better candidate) is no worse, check by check.

    Every check that fails after failed before. Where both list the same checks (rules; slice
    checks list only the slices they judged), each moves only up :data:`_RANK`, except
    ``max_improvement``, which a better candidate may move from pass to warn (a suspicious
    gain).
    """
    from collections import Counter

    def failing(result: GateResult) -> Counter[tuple[str, str]]:
        # by rule and check, not slice: a slice check names its worst slice, and adding the
        # same gain to every slice may break a tie differently (6e-117 + 0.25 == 0.0 + 0.25)
        return Counter((r.rule, r.check) for r in result.rules if r.status == "fail")

    assert not failing(after) - failing(before), (before.rules, after.rules)
    keys = [(r.rule, r.check, r.slice) for r in before.rules]
    if keys == [(r.rule, r.check, r.slice) for r in after.rules]:
        for b, a in zip(before.rules, after.rules, strict=True):
            if b.check != "max_improvement":
                assert _RANK[a.status] >= _RANK[b.status], (b, a)
    assert after.passed or not before.passed


def _bound(rule: dict[str, Any]) -> dict[str, Any]:
    """``bound`` becomes the bound that fits the direction (min for auc, max for log_loss)."""
    out = dict(rule)
    if "bound" in out:
        out["max" if out["metric"] == "log_loss" else "min"] = out.pop("bound")
    return out


_rules = st.lists(
    st.fixed_dictionaries(
        {"metric": st.sampled_from(["auc", "log_loss"])},
        optional={
            "bound": _value,
            "max_regression": st.floats(0, 0.2),
            "max_regression_rel": st.floats(0, 0.5),
            "max_improvement": st.floats(0, 0.2),
            "significance": st.sampled_from([0.01, 0.05]),
            "inconclusive": st.sampled_from(["warn", "fail"]),
        },
    )
    .filter(lambda r: "significance" not in r or "max_regression" in r or "max_regression_rel" in r)
    .map(_bound),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(_rules, _value, _value, _value, _value, st.floats(0, 0.3), st.floats(0, 0.05))
# a lower log_loss must not count as a regression, also when another rule (max) already fails
@example([{"metric": "log_loss", "max_regression": 0.01}], 0.9, 0.3, 0.9, 0.3, 0.1, 0.0)
@example([{"metric": "log_loss", "max": 0.1, "max_regression": 0.01}], 0.9, 0.3, 0.9, 0.3, 0.1, 0.0)
def test_better_candidate_never_turns_pass_into_fail(
    rules: list[dict[str, Any]],
    auc_b: float,
    loss_b: float,
    auc_c: float,
    loss_c: float,
    gain: float,
    std: float,
) -> None:
    p = policy({"rules": rules})
    boot = "metrics/bootstrap.json"

    def side(auc: float, loss: float) -> Snapshot:
        return Snapshot(
            rev="d" * 40,
            metrics={
                SCORES: {"auc": auc, "log_loss": loss},
                boot: {"auc.std": std, "log_loss.std": std},
            },
        )

    base = side(auc_b, loss_b)
    before = evaluate_snapshots(p, baseline=base, candidate=side(auc_c, loss_c))
    after = evaluate_snapshots(
        p, baseline=base, candidate=side(auc_c + gain, max(loss_c - gain, 0))
    )
    assert_no_worse(before, after)


# -- at git revisions ----------------------------------------------------------------------------
def test_policy_comes_from_the_baseline(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    base = git("rev-parse", "HEAD", cwd=root, env=env)
    loose = {"train": {"C": 1.0}, "gate": {"rules": [{"metric": "roc_auc", "min": 0.1}]}}
    commit(root, env, "worse model, looser gate", {
        "params.yaml": loose,
        "metrics/scores.json": {"accuracy": 0.9, "roc_auc": 0.85, "log_loss": 0.2},
    })  # fmt: skip
    result = evaluate_revisions(Repo(root, env), baseline=base, candidate="HEAD")
    assert result.verdict == "fail" and result.policy_from == "baseline" and result.policy_changed
    assert any("changes the gate policy" in n for n in result.notes)
    assert result.policy_source == f"{base}:params.yaml"


def test_first_adoption_uses_candidate_policy(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env, policy={})
    from tests.gate_support import POLICY

    commit(root, env, "adopt", {"params.yaml": {"gate": POLICY}})
    result = evaluate_revisions(Repo(root, env), baseline="HEAD~1", candidate="HEAD")
    assert result.policy_from == "candidate" and result.passed
    assert any("first adoption" in n for n in result.notes)


def test_bad_policy_at_baseline_names_revision(tmp_path: Path, env: dict[str, str]) -> None:
    bad = {"rules": [{"metric": "roc_auc"}, {"metric": "f1", "max_regression": "x"}]}
    root = metrics_repo(tmp_path / "repo", env, policy=bad)
    with pytest.raises(ConfigError, match=r"main:params.yaml: gate.rules\[1\].max_regression"):
        evaluate_revisions(Repo(root, env), baseline="main")


def test_predictions_pair_through_git(tmp_path: Path, env: dict[str, str]) -> None:
    y = [0, 1] * 50
    root = metrics_repo(
        tmp_path / "repo",
        env,
        policy={"rules": [{"metric": "roc_auc", "max_regression": 0.0, "significance": 0.05}]},
        extra={"metrics/predictions.csv": predictions_csv(y, [0.2 + 0.6 * v for v in y])},
    )
    commit(root, env, "same", {})
    result = evaluate_revisions(Repo(root, env), baseline="HEAD~1", candidate="HEAD")
    assert result.passed
    assert result.metrics[0].method == "paired bootstrap"


def test_resolve_baseline(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    add_origin(root, tmp_path / "origin.git", env)
    main = git("rev-parse", "HEAD", cwd=root, env=env)
    git("checkout", "-q", "-b", "feature", cwd=root, env=env)
    commit(root, env, "feature work", {"metrics/scores.json": {"roc_auc": 0.9}})
    repo = Repo(root, env)
    assert resolve_baseline(repo, environ={}) == main
    assert resolve_baseline(repo, environ={"GITHUB_BASE_REF": "main"}) == main
    with pytest.raises(GitError, match="fetch-depth: 0"):
        resolve_baseline(repo, environ={"GITHUB_BASE_REF": "release"})


def test_shallow_clone_says_fetch_depth(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    commit(root, env, "two", {"metrics/scores.json": {"roc_auc": 0.9}})
    commit(root, env, "three", {"metrics/scores.json": {"roc_auc": 0.91}})
    shallow = tmp_path / "shallow"
    run(
        ["git", "clone", "-q", "--depth", "1", f"file://{root}", str(shallow)],
        cwd=tmp_path,
        env=env,
    )
    with pytest.raises(GitError, match="fetch-depth: 0"):
        evaluate_revisions(Repo(shallow, env), baseline="HEAD~2")


def test_readme_policy_example_loads() -> None:
    import yaml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("### The policy", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    p = load_policy(Section(yaml.safe_load(block)["gate"], file="README.md", where="gate"))
    assert [r.metric for r in p.rules] == ["roc_auc", "log_loss", "accuracy"] and p.slices


_slice_values = st.dictionaries(
    st.sampled_from(["a=[0,1)", "a=[1,2)", "a=[2.5,3)"]),
    st.tuples(st.integers(0, 100), _value),
    min_size=1,
)


@settings(max_examples=150, deadline=None)
@given(
    _slice_values,
    _slice_values,
    st.floats(0, 0.3),
    st.fixed_dictionaries(
        {"metric": st.just("accuracy")},
        optional={"min": _value, "max_regression": st.floats(0, 0.2), "min_n": st.integers(0, 50)},
    ),
)
def test_better_slices_never_turn_pass_into_fail(
    base: dict[str, tuple[int, float]],
    cand: dict[str, tuple[int, float]],
    gain: float,
    rule: dict[str, Any],
) -> None:
    p = policy({"slices": [rule]})

    def side(rows: dict[str, tuple[int, float]], plus: float = 0.0) -> Snapshot:
        flat: dict[str, float] = {}
        for name, (n, acc) in rows.items():
            flat[f"{name}.n"] = n
            flat[f"{name}.accuracy"] = acc + plus
        return Snapshot(rev="e" * 40, metrics={"metrics/slices.json": flat})

    before = evaluate_snapshots(p, baseline=side(base), candidate=side(cand))
    after = evaluate_snapshots(p, baseline=side(base), candidate=side(cand, gain))
    assert_no_worse(before, after)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**16),
    st.integers(0, 30),
    st.integers(1, 30),
    st.sampled_from(["accuracy", "f1"]),
    st.floats(0, 0.05),
    st.sampled_from(["warn", "fail"]),
)
# 4 extra mistakes, one fixed: significant before, less so after (both beyond tolerance)
@example(seed=0, wrong=4, fixed=1, metric="accuracy", tolerance=0.0, inconclusive="warn")
def test_better_predictions_never_turn_pass_into_fail(
    seed: int, wrong: int, fixed: int, metric: str, tolerance: float, inconclusive: str
) -> None:
    """Paired bootstrap: fixing some of the candidate's wrong rows can only help."""
    from mlgate.ml.scoring import score

    rng = np.random.default_rng(seed)
    n = 120
    y = (rng.random(n) < 0.4).astype(float)
    base_pred = np.where(rng.random(n) < 0.1, 1 - y, y)
    cand_pred = np.where(
        np.isin(np.arange(n), rng.choice(n, wrong, replace=False)), 1 - y, base_pred
    )
    better = cand_pred.copy()
    errors = np.flatnonzero(better != y)
    better[errors[:fixed]] = y[errors[:fixed]]

    def side(pred: np.ndarray) -> Snapshot:
        p = Predictions(np.arange(n).astype(str), y, pred, pred * 0.8 + 0.1)
        return Snapshot(
            rev="f" * 40, metrics={SCORES: score(y, pred, pred * 0.8 + 0.1)}, predictions=p
        )

    rule = {
        "metric": metric,
        "max_regression": tolerance,
        "significance": 0.05,
        "inconclusive": inconclusive,
    }
    p = policy({"rules": [rule], "bootstrap_samples": 200})
    before = evaluate_snapshots(p, baseline=side(base_pred), candidate=side(cand_pred))
    after = evaluate_snapshots(p, baseline=side(base_pred), candidate=side(better))
    assert_no_worse(before, after)
