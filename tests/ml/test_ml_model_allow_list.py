"""The allow-list is enforced as one, and trees are checked structurally on load."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from mlgate.errors import ConfigError, DataError
from mlgate.ml.model import (
    TRUSTED_TYPES,
    InvalidStructure,
    UntrustedTypes,
    check_structure,
    dumps,
    file_types,
    loads,
    parse_trusted_types,
    scan,
)
from tests.serve_support import crafted_tree_bytes, model_bytes, svc_pipeline_bytes

SVC = "sklearn.svm._classes.SVC"


@pytest.mark.parametrize("kind", ["logistic_regression", "random_forest", "gradient_boosting"])
def test_every_type_of_mlgates_own_models_is_on_the_list(kind: str) -> None:
    data = model_bytes(1.0, kind)
    assert file_types(data, kind) <= set(TRUSTED_TYPES)
    model = loads(data, kind)
    assert loads(dumps(model), kind).predict_proba is not None  # canonical bytes too


def test_a_type_skops_trusts_by_default_is_refused_unless_listed() -> None:
    import skops.io as sio

    data = svc_pipeline_bytes()
    assert SVC not in sio.get_untrusted_types(data=data)  # skops alone would load it
    with pytest.raises(UntrustedTypes) as refused:
        loads(data, "svc.skops")
    assert refused.value.types == (SVC,)
    assert "mlgate-trusted-types.txt" in str(refused.value)
    with pytest.raises(UntrustedTypes):
        scan(data, "svc.skops")
    model = loads(data, "svc.skops", extra_trusted=(SVC,))  # a project that reviewed it
    assert type(model.steps[-1][1]).__name__ == "SVC"


def test_every_node_of_the_schema_counts_even_nested_ones() -> None:
    source = zipfile.ZipFile(io.BytesIO(model_bytes(1.0)))
    schema = json.loads(source.read("schema.json"))
    schema["content"]["content"]["note_"] = {
        "__class__": "system",
        "__module__": "os",
        "__loader__": "FunctionNode",
        "is_json": False,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = json.dumps(schema).encode() if name == "schema.json" else source.read(name)
            target.writestr(name, data)
    assert "os.system" in file_types(out.getvalue(), "x")
    with pytest.raises(UntrustedTypes, match=r"os\.system"):
        loads(out.getvalue(), "x")


def test_a_tree_pointing_outside_its_nodes_is_refused_on_load() -> None:
    with pytest.raises(InvalidStructure, match=r"estimators_\[\d\]\.tree_.*child indices"):
        loads(crafted_tree_bytes(), "crafted.skops")


def test_feature_indices_are_checked_against_what_the_estimator_takes() -> None:
    model = loads(model_bytes(1.0, "random_forest"), "rf")
    tree = model.steps[-1][1].estimators_[0].tree_
    inner = tree.children_left != -1
    tree.feature[inner.argmax()] = 30  # the pipeline takes 30 features: 0..29
    with pytest.raises(InvalidStructure, match=r"feature indices outside 0\.\.29"):
        check_structure(model, "rf")
    tree.feature[inner.argmax()] = 0
    check_structure(model, "rf")
    tree.children_right[inner.argmax()] = inner.argmax()  # a loop back to itself
    with pytest.raises(InvalidStructure, match="child indices"):
        check_structure(model, "rf")


def test_a_pickle_and_garbage_are_refused_without_loading() -> None:
    import pickle

    with pytest.raises(DataError, match="a pickle"):
        scan(pickle.dumps({"a": 1}), "m.pkl")
    with pytest.raises(DataError, match="not a readable skops"):
        loads(b"PK\x03\x04garbage", "m.skops")


def test_trusted_types_file() -> None:
    text = f"# reviewed in PR 12\n{SVC}  # kernel SVM\n\n{SVC}\nnumpy.float16\n"
    assert parse_trusted_types(text, "f") == ("numpy.float16", SVC)
    with pytest.raises(ConfigError, match=r"f:2: 'os system'"):
        parse_trusted_types("numpy.float16\nos system\n", "f")
    with pytest.raises(ConfigError, match="f:1"):
        parse_trusted_types("SVC\n", "f")  # a bare name could be anything
