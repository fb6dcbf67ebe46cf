"""The gate policy of one model among several: ``gate.models.NAME`` over the shared keys."""

from __future__ import annotations

import pytest

from mlgate.errors import ConfigError
from mlgate.gate.revisions import for_model


def test_a_model_policy_overrides_the_shared_one() -> None:
    gate = {"seed": 1, "rules": [{"metric": "a"}], "models": {"m": {"rules": [{"metric": "b"}]}}}
    assert for_model(gate, "m", "params.yaml") == {"seed": 1, "rules": [{"metric": "b"}]}
    assert for_model(gate, "other", "params.yaml") == {"seed": 1, "rules": [{"metric": "a"}]}
    assert for_model(gate, None, "params.yaml") == {"seed": 1, "rules": [{"metric": "a"}]}
    assert for_model(None, "m", "params.yaml") is None
    with pytest.raises(ConfigError, match=r"params.yaml: gate.models: expected a mapping"):
        for_model({"models": ["m"]}, "m", "params.yaml")


def test_an_unreadable_declared_folder_stops_a_rule_on_a_file_inside_it() -> None:
    """A cached folder whose manifest is unavailable: the rule's file may be in it, so the
    gate refuses (exit 2) instead of skipping the rule as if the baseline lacked the metric."""
    from mlgate.config import Section
    from mlgate.errors import DataError
    from mlgate.gate import Snapshot, evaluate_snapshots, load_policy

    policy = load_policy(
        Section(
            {
                "metrics_file": "eval/metrics.json",
                "rules": [{"metric": "acc", "max_regression": 0.01}],
            },
            file="params.yaml",
            where="gate",
        )
    )
    base = Snapshot(rev="a" * 40, metrics={}, errors={"eval": "v1:eval: manifest unavailable"})
    cand = Snapshot(rev="b" * 40, metrics={"eval/metrics.json": {"acc": 0.5}})
    with pytest.raises(DataError, match=r"gate.rules\[0\] \(acc\) cannot be evaluated: v1:eval"):
        evaluate_snapshots(policy, baseline=base, candidate=cand)
    other = Snapshot(rev="a" * 40, metrics={"evaluation.json": {}}, errors={"ev": "x"})
    result = evaluate_snapshots(policy, baseline=other, candidate=cand)  # "ev" is no folder of it
    assert result.rules[0].status == "skip"
