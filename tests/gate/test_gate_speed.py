"""The gate's fast paths at scale (issues 20 and 22) give the answers of the slow ones:
quantile bins found through a lookup table, roc_auc_ovr from score histograms, joint cells
by one bincount, predictions parsed block by block (class labels, row ids), blobs read from
``git cat-file --batch`` one by one, and the two revisions read side by side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as skm

from mlgate.errors import DataError, GitError
from mlgate.gate import fastpaired, predictions_csv, scaleboot
from mlgate.gate.measures import Side
from mlgate.gate.stats import Predictions, metric_of, paired_bootstrap, parse_predictions
from mlgate.git import Repo
from tests.conftest import git, mlgate
from tests.gate_support import metrics_repo
from tests.tasks_support import multiclass

PRED = "metrics/predictions.csv"


# -- quantile bins --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_bin_finder_gives_searchsorted_bins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = [
        rng.normal(size=20_000),
        np.round(rng.normal(size=20_000), 2),  # ties, edges equal to values
        rng.standard_cauchy(20_000),  # far outliers
        rng.exponential(size=20_000) ** 3,
        np.round(rng.random(20_000), 4),
        np.r_[np.zeros(19_000), rng.normal(size=1000)],  # one big tie
    ][seed]
    for m in (2, 17, 1024):
        edges = np.unique(np.quantile(values[:3000], np.linspace(0, 1, m + 1)[1:-1]))
        x = np.concatenate(
            [
                values,
                edges,
                np.nextafter(edges, np.inf),
                np.nextafter(edges, -np.inf),
                [np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0],
            ]
        )
        got = scaleboot._BinFinder(edges)(x)
        np.testing.assert_array_equal(got, np.searchsorted(edges, x, side="right"))


def test_bin_finder_without_a_span_searches() -> None:
    for edges in (np.array([1.0]), np.array([2.0, 2.0]), np.array([np.nan, 1.0])):
        x = np.array([0.0, 1.0, 2.0, 3.0, np.nan])
        got = scaleboot._BinFinder(edges)(x)
        np.testing.assert_array_equal(got, np.searchsorted(edges, x, side="right"))


# -- roc_auc_ovr from histograms --------------------------------------------------------------
def _sorted_ovr(p: Predictions) -> tuple[float, np.ndarray]:
    """The sorting computation (the weighted path of fastpaired) on unit weights."""
    side, w = Side(p), np.ones(len(p))
    metric = metric_of(p, "roc_auc_ovr")
    assert metric is not None
    value = float(side.values(metric, w[None, :])[0])
    classes = range(len(p.classes))
    infl = sum(fastpaired._rank_influence(side, c, w, "roc_auc_ovr") for c in classes)
    return value, np.asarray(infl) / len(p.classes)


def _sk_ovr(p: Predictions) -> float:
    """scikit-learn's one-vs-rest macro AUC (per class, as its multi_class="ovr" does,
    without its check that rounded scores sum to 1)."""
    y = np.asarray(p.y_true)
    return float(
        np.mean([skm.roc_auc_score(y == c, p.scores[:, c]) for c in range(len(p.classes))])
    )


def _multiclass(rows: int, decimals: int | None, seed: int = 1) -> Predictions:
    rng = np.random.default_rng(seed)
    k = 5
    y = rng.integers(0, k, rows)
    logits = np.eye(k)[y] + rng.normal(size=(rows, k))
    s = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if decimals is not None:
        s = np.round(s, decimals)
    head = "row_id,y_true,y_pred," + ",".join(f"score_{c}" for c in range(k))
    body = [
        f"{i},{y[i]},{int(s[i].argmax())}," + ",".join(repr(float(v)) for v in s[i])
        for i in range(rows)
    ]
    return parse_predictions(("\n".join([head, *body]) + "\n").encode(), "m.csv")


def test_ovr_histograms_are_exact_for_rounded_scores() -> None:
    p = _multiclass(4000, decimals=3)  # 1001 distinct scores: one per histogram bin
    value, infl = fastpaired._ovr_histograms(Side(p))
    want_value, want_infl = _sorted_ovr(p)
    assert value == pytest.approx(want_value, abs=1e-12)
    np.testing.assert_allclose(infl, want_infl, rtol=1e-9, atol=1e-9)
    assert value == pytest.approx(_sk_ovr(p), abs=1e-12)


@pytest.mark.parametrize("decimals", [6, None], ids=["six-decimals", "unrounded"])
def test_ovr_histograms_stay_within_the_stated_error(decimals: int | None) -> None:
    """Scores that share histogram bins: each class's AUC within AUC_TOLERANCE (the bins
    are refined, then one per distinct score, until it holds), so their mean is too."""
    p = _multiclass(30_000, decimals=decimals)
    value, infl = fastpaired._ovr_histograms(Side(p))
    assert abs(value - _sk_ovr(p)) <= scaleboot.AUC_TOLERANCE
    _, want = _sorted_ovr(p)
    assert float(np.abs(infl - want).mean()) < 1e-3
    assert abs(float(infl.mean())) < 1e-9  # influence values have mean zero


def test_ovr_with_an_absent_class_is_undefined() -> None:
    data = multiclass(300, noise=1.0, seed=1).decode().splitlines()
    # no row of class owl: relabel them as cat (the score column stays)
    rows = [data[0]] + [r.replace(",owl,", ",cat,", 1) for r in data[1:]]
    p = parse_predictions(("\n".join(rows) + "\n").encode(), "m.csv")
    value, infl = fastpaired._ovr_histograms(Side(p))
    assert np.isnan(value) and np.isnan(infl).all()


def test_large_multiclass_gate_uses_histograms() -> None:
    """3000 rows x 1000 resamples: beyond the direct method (tests/gate/test_gate_tasks.py holds
    the large-set methods to it); the interval holds scikit-learn's change."""
    a = parse_predictions(multiclass(3000, noise=1.0, seed=1), "a.csv")
    b = parse_predictions(multiclass(3000, noise=1.4, seed=2), "b.csv")
    dirs = {"roc_auc_ovr": "higher"}
    fast = paired_bootstrap(a, b, ["roc_auc_ovr"], dirs, samples=1000, seed=0, confidence=0.95)
    stats = fast["roc_auc_ovr"]
    assert stats.method == "paired bootstrap (histogram auc)"
    change = _sk_ovr(b) - _sk_ovr(a)
    lo, hi = stats.interval
    assert lo < change < hi and hi - lo < 0.05


# -- joint cells -------------------------------------------------------------------------------
@pytest.mark.parametrize("weight", [False, True], ids=["unweighted", "weighted"])
def test_dense_cells_are_np_unique_cells(monkeypatch: pytest.MonkeyPatch, weight: bool) -> None:
    a = parse_predictions(multiclass(2000, noise=1.0, seed=1, weight=weight), "a.csv")
    b = parse_predictions(multiclass(2000, noise=1.5, seed=2, weight=weight), "b.csv")
    dense = fastpaired._cell_draws(a, b, samples=200, rng=np.random.default_rng(5))
    monkeypatch.setattr(fastpaired, "DENSE_CELLS", 0)  # np.unique's sort instead
    sorted_ = fastpaired._cell_draws(a, b, samples=200, rng=np.random.default_rng(5))
    for got, want in zip(dense, sorted_, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


# -- parsing block by block ----------------------------------------------------------------------
def test_labels_and_ids_parsed_in_many_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    data = multiclass(3000, noise=1.0, seed=1)
    whole = parse_predictions(data, "m.csv")
    monkeypatch.setattr(predictions_csv, "BLOCK_BYTES", 1024)  # about 60 blocks
    blocks = parse_predictions(data, "m.csv")
    np.testing.assert_array_equal(blocks.y_true, whole.y_true)
    np.testing.assert_array_equal(blocks.y_pred, whole.y_pred)
    np.testing.assert_array_equal(blocks.scores, whole.scores)
    rows = data.decode().splitlines()[1:]
    assert blocks.row_id.to_pylist() == [r.split(",")[0] for r in rows]
    assert blocks.scores[:, 0].strides == (8,)  # column-major: a class's scores contiguous
    # a label that is no class, far into the file: its line is named
    lines = data.decode().splitlines()
    lines[2500] = lines[2500].replace(lines[2500].split(",")[1], "emu", 1)
    with pytest.raises(DataError, match=r"m\.csv: line 2501: column y_true: 'emu' is not a class"):
        parse_predictions(("\n".join(lines) + "\n").encode(), "m.csv")


@pytest.mark.parametrize("wide", [False, True], ids=["string", "large_string"])
def test_row_id_buffer(wide: bool) -> None:
    ids = predictions_csv._Ids(200, 50, wide=wide)
    parts = [["0", "1", "22"], [], ["333", "", "x"], ["5"]]
    for part in parts:
        ids.add(pa.array(part, type=pa.string()))
    ids.add(pa.array(["pad", "7", "8"], type=pa.string()).slice(1))  # an offset array
    column = ids.column()
    assert column.to_pylist() == ["0", "1", "22", "333", "", "x", "5", "7", "8"]
    assert column.type == (pa.large_string() if wide else pa.string())


@pytest.mark.parametrize(
    ("ids", "fast", "unique"),
    [
        ([str(i) for i in range(1000)], True, True),
        ([str(i) for i in range(1, 5000, 7)], True, True),
        (["1", "2", "2", "3"], False, False),
        (["9", "10", "8"], False, True),
        (["0", "01", "2"], None, True),  # a leading zero: the cast decides
        (["r0", "r1", "r0"], None, False),
        (["-1", "0"], None, True),
        (["123456789", "2"], None, True),
        (["1", ":"], None, True),
        (["1", "/"], None, True),
        (["", "1"], None, True),
        (["10000000", "99999999"], True, True),
    ],
)
def test_decimal_row_ids(ids: list[str], fast: bool | None, unique: bool) -> None:
    column = pa.chunked_array([pa.array(ids, type=pa.string())])
    assert predictions_csv._decimal_increasing(column) is fast
    assert predictions_csv._unique(column) is unique


def test_duplicate_row_ids_far_into_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = ["row_id,y_true,y_pred,y_score"] + [f"{i},1,1,0.9" for i in range(5000)]
    rows[4001] = "17,1,1,0.9"  # the id of line 19 again
    monkeypatch.setattr(predictions_csv, "BLOCK_BYTES", 2048)
    with pytest.raises(DataError, match=r"'17' repeats \(lines 19 and 4002\)"):
        parse_predictions(("\n".join(rows) + "\n").encode(), "p.csv")


# -- git ---------------------------------------------------------------------------------------
def test_cat_batch_reads_each_object(tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "r"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root, env=env)
    big = np.random.default_rng(0).bytes(3 << 20) + b"\n"  # more than a pipe's buffer
    (root / "big.bin").write_bytes(big)
    (root / "a file with spaces.txt").write_bytes(b"spaces\n")
    (root / "empty").write_bytes(b"")
    git("add", "-A", cwd=root, env=env)
    git("commit", "-qm", "files", cwd=root, env=env)
    repo = Repo(root, env=env)
    head = repo.resolve("HEAD")
    names = ["big.bin", "a file with spaces.txt", "missing file", "empty", "big.bin"]
    got = repo.show_many(head, names)
    assert got == {
        "big.bin": big,
        "a file with spaces.txt": b"spaces\n",
        "missing file": None,
        "empty": b"",
    }
    oids = git("rev-parse", "HEAD:big.bin", "HEAD:empty", cwd=root, env=env).split()
    blobs = repo.cat_blobs([*oids, "0" * 40])
    assert blobs == {oids[0]: big, oids[1]: b""}


def test_cat_batch_outside_a_repository_is_a_git_error(tmp_path: Path, env: dict[str, str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    env = {**env, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    with pytest.raises(GitError, match="git cat-file --batch"):
        Repo(plain, env=env).cat_blobs(["0" * 40])


# -- both revisions read side by side ------------------------------------------------------------
def test_the_candidates_bad_file_is_reported_when_both_are_bad(
    tmp_path: Path, env: dict[str, str]
) -> None:
    policy = {"rules": [{"metric": "accuracy", "max_regression": 0.0, "significance": 0.05}]}
    good = multiclass(40, noise=1.0, seed=1).decode().splitlines()
    base = list(good)
    base[5] = base[5].replace(base[5].split(",")[1], "emu", 1)
    root = metrics_repo(
        tmp_path / "repo",
        env,
        scores={"accuracy": 0.5},
        policy=policy,
        extra={PRED: "\n".join(base) + "\n"},
    )
    cand = list(good)
    cand[9] = cand[9].replace(cand[9].split(",")[1], "yak", 1)
    (root / PRED).write_text("\n".join(cand) + "\n")
    proc = mlgate("gate", "main", cwd=root, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{PRED}: line 10: column y_true: 'yak' is not a class" in proc.stderr
    (root / PRED).write_text("\n".join(good) + "\n")  # now only the baseline's is bad
    proc = mlgate("gate", "main", "--json", cwd=root, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "line 6: column y_true: 'emu' is not a class" in proc.stderr


def test_a_large_multiclass_gate_from_the_command_line(tmp_path: Path, env: dict[str, str]) -> None:
    policy = {
        "task": "multiclass",
        "rules": [
            {"metric": "roc_auc_ovr", "max_regression": 0.0, "significance": 0.05},
            {"metric": "macro_f1", "max_regression": 0.0, "significance": 0.05},
        ],
    }
    base, cand = multiclass(4000, noise=0.5, seed=1), multiclass(4000, noise=3.0, seed=2)

    def scores(data: bytes) -> dict[str, float]:
        p = parse_predictions(data, "x")
        return {
            "roc_auc_ovr": _sk_ovr(p),
            "macro_f1": float(skm.f1_score(p.y_true, p.y_pred, average="macro")),
        }

    root = metrics_repo(
        tmp_path / "repo", env, scores=scores(base), policy=policy, extra={PRED: base.decode()}
    )
    (root / PRED).write_bytes(cand)
    (root / "metrics" / "scores.json").write_text(json.dumps(scores(cand)))
    proc = mlgate("gate", "main", "--json", cwd=root, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rules = {r["metric"]: r for r in json.loads(proc.stdout)["rules"]}
    assert rules["roc_auc_ovr"]["method"] == "paired bootstrap (histogram auc)"
    assert rules["macro_f1"]["method"] == "paired bootstrap (cells)"
    assert all(r["status"] == "fail" and r["p_value"] < 0.01 for r in rules.values())
