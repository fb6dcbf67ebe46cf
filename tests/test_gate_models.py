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
