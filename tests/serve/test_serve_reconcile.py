"""The reconcile pass: swap on a new pointer, keep the last good model on any failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlgate.deploy.pointer import POINTER_PATH
from mlgate.serve.metrics import ServeMetrics
from mlgate.serve.reconcile import Reconciler
from mlgate.serve.state import ServingState
from tests.serve_support import (
    FakeSource,
    InProcessProber,
    crafted_tree_bytes,
    model_bytes,
    pointer_for,
    svc_pipeline_bytes,
    untrusted_model_bytes,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def world(tmp_path: Path) -> tuple[FakeSource, Reconciler, Clock]:
    source, clock = FakeSource(), Clock()
    rec = Reconciler(
        source=source,
        state=ServingState(),
        metrics=ServeMetrics(),
        prober=InProcessProber(),
        cache_dir=tmp_path / "cache",
        base_backoff=30,
        clock=clock,
    )
    return source, rec, clock


def metric(rec: Reconciler, name: str, labels: dict[str, str] | None = None) -> float:
    value = rec.metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def test_before_any_release_nothing_is_served(world: tuple[FakeSource, Reconciler, Clock]) -> None:
    _, rec, _ = world
    result = rec.reconcile()
    assert result.outcome == "no_release"
    assert "mlgate release" in result.message
    assert rec.state.current is None
    assert rec.state.version_json()["ready"] is False


def test_release_swaps_then_stays_unchanged_and_uses_the_cache(
    world: tuple[FakeSource, Reconciler, Clock],
) -> None:
    source, rec, _ = world
    v1, v2 = model_bytes(1.0), model_bytes(0.01)
    source.release(v1, "v1.0.0")
    assert rec.reconcile().outcome == "swapped"
    first = rec.state.current
    assert first is not None and first.version == "v1.0.0"
    assert first.schema.names[0] == "mean_radius" and "no data/schema.yaml" in first.schema.source
    assert first.takes_array  # a plain pipeline: predicts on a float array in schema order
    assert rec.reconcile().outcome == "unchanged"
    assert rec.state.current is first
    source.release(v2, "v1.1.0")
    assert rec.reconcile().outcome == "swapped"
    assert rec.state.current is not None and rec.state.current.version == "v1.1.0"
    source.release(v1, "v1.0.0")  # a rollback: the same bytes come from the cache
    assert rec.reconcile().outcome == "swapped"
    assert source.fetches == 2
    assert isinstance(rec.prober, InProcessProber)
    assert rec.prober.calls == 2  # the rollback reuses v1.0.0's recorded probe
    assert metric(rec, "mlgate_reload_attempts_total", {"result": "swapped"}) == 3
    assert metric(rec, "mlgate_ready") == 1
    info = {"version": "v1.0.0", "commit": "a" * 40, "sha256": first.sha256}
    assert metric(rec, "mlgate_model_info", info) == 1


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (b"tampered" * 100, "hash_mismatch"),
        (None, "missing_object"),
    ],
)
def test_remote_failures_keep_the_old_model(
    world: tuple[FakeSource, Reconciler, Clock], upload: bytes | None, reason: str
) -> None:
    source, rec, _ = world
    source.release(model_bytes(1.0), "v1.0.0")
    rec.reconcile()
    good = rec.state.current
    source.release(model_bytes(0.01), "v1.1.0", upload=upload)
    if upload is None:
        source.remote.pop(pointer_for(model_bytes(0.01), "v1.1.0").model.md5)
    result = rec.reconcile()
    assert (result.outcome, result.reason) == ("rejected", reason)
    assert rec.state.current is good
    version = rec.state.version_json()
    assert version["version"] == "v1.0.0" and version["ready"] is True
    assert version["last_rejected"]["reason"] == reason
    assert version["last_rejected"]["version"] == "v1.1.0"
    assert metric(rec, "mlgate_reload_failures_total", {"reason": reason}) == 1
    labels = {"version": "v1.1.0", "commit": source.tip, "reason": reason}
    assert metric(rec, "mlgate_candidate_rejected", labels) == 1


class FolderSource(FakeSource):
    """FakeSource whose models come through the real fetch_model from a plain-folder remote."""

    def __init__(self, project: Path) -> None:
        super().__init__()
        self.project = project

    def fetch_model(self, pointer: Any, commit: str, dest: Path) -> Path:
        from mlgate.deploy.remote import fetch_model

        self.fetches += 1
        return fetch_model(self.project, pointer, dest)


def test_a_pointer_whose_sha256_alone_disagrees_keeps_the_old_model(tmp_path: Path) -> None:
    """md5 and size of v1.1.0's pointer fit the remote object; only its sha256 is wrong."""
    import hashlib

    from mlgate.deploy.pointer import dumps_pointer

    project, store = tmp_path / "project", tmp_path / "store"
    (project / ".dvc").mkdir(parents=True)
    (project / ".dvc" / "config").write_text(
        f"[core]\n    remote = store\n['remote \"store\"']\n    url = {store}\n"
    )
    for data in (model_bytes(1.0), model_bytes(0.01)):
        md5 = hashlib.md5(data).hexdigest()
        (store / "files" / "md5" / md5[:2]).mkdir(parents=True, exist_ok=True)
        (store / "files" / "md5" / md5[:2] / md5[2:]).write_bytes(data)
    source, prober = FolderSource(project), InProcessProber()
    rec = Reconciler(
        source=source,
        state=ServingState(),
        metrics=ServeMetrics(),
        prober=prober,
        cache_dir=tmp_path / "cache",
        base_backoff=30,
        clock=Clock(),
    )
    source.release(model_bytes(1.0), "v1.0.0")
    assert rec.reconcile().outcome == "swapped"
    good = rec.state.current
    text = dumps_pointer(pointer_for(model_bytes(0.01), "v1.1.0"))
    real = hashlib.sha256(model_bytes(0.01)).hexdigest()
    source.commit({POINTER_PATH: text.replace(real, "e" * 64).encode()})
    result = rec.reconcile()
    assert (result.outcome, result.reason) == ("rejected", "hash_mismatch")
    assert "fails verification" in result.message and "e" * 64 in result.message
    assert rec.state.current is good
    assert not list((tmp_path / "cache").rglob(f"{'e' * 64}*"))  # nothing kept under it
    assert prober.calls == 1  # v1.0.0 only: the candidate never reached the probe


def test_damaged_files_are_rejected_by_the_probe(
    world: tuple[FakeSource, Reconciler, Clock],
) -> None:
    source, rec, _ = world
    source.release(model_bytes(1.0), "v1.0.0")
    rec.reconcile()
    truncated = model_bytes(0.01)[:-500]
    source.release(truncated, "v1.1.0")
    assert rec.reconcile().reason == "load_error"
    source.release(untrusted_model_bytes(), "v1.2.0")
    result = rec.reconcile()
    assert result.reason == "untrusted_type"
    assert "collections.Counter" in result.message
    assert rec.state.current is not None and rec.state.current.version == "v1.0.0"


def test_an_svc_pipeline_and_a_crafted_tree_are_refused_and_the_old_model_serves(
    world: tuple[FakeSource, Reconciler, Clock],
) -> None:
    source, rec, _ = world
    source.release(model_bytes(1.0), "v1.0.0")
    rec.reconcile()
    source.release(svc_pipeline_bytes(), "v1.1.0")
    result = rec.reconcile()
    assert (result.reason, rec.state.current.version) == ("untrusted_type", "v1.0.0")  # type: ignore[union-attr]
    assert "sklearn.svm._classes.SVC" in result.message
    source.release(crafted_tree_bytes(), "v1.2.0")
    result = rec.reconcile()
    assert (result.reason, rec.state.current.version) == ("invalid_structure", "v1.0.0")  # type: ignore[union-attr]
    assert "tree_" in result.message
    assert rec.state.version_json()["last_rejected"]["reason"] == "invalid_structure"
    assert metric(rec, "mlgate_reload_failures_total", {"reason": "invalid_structure"}) == 1


def test_a_project_can_trust_more_types_in_a_reviewed_file(
    world: tuple[FakeSource, Reconciler, Clock],
) -> None:
    from mlgate.ml.model import TRUSTED_TYPES_FILE

    source, rec, _ = world
    released = pointer_for(svc_pipeline_bytes(), "v1.0.0").commit
    source.files[released] = {TRUSTED_TYPES_FILE: b"# reviewed\nsklearn.svm._classes.SVC\n"}
    source.release(svc_pipeline_bytes(), "v1.0.0")
    result = rec.reconcile()
    # past the allow-list (the file at the released commit was read): an SVC without
    # probabilities then fails the canary, which is the next check
    assert (result.reason, result.message) == ("canary_error", "model is not a fitted classifier")
    source.files[released] = {TRUSTED_TYPES_FILE: b"not a type\n"}
    source.commit({"README": b"retry"})
    result = rec.reconcile()
    assert result.reason == "untrusted_type" and f"{TRUSTED_TYPES_FILE}:1" in result.message


def test_an_unusable_cache_dir_is_a_one_line_reason_and_not_ready(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    source, lines = FakeSource(), []
    rec = Reconciler(
        source=source,
        state=ServingState(),
        metrics=ServeMetrics(),
        prober=InProcessProber(),
        cache_dir=blocker / "cache",
        log=lines.append,
    )
    source.release(model_bytes(1.0), "v1.0.0")
    result = rec.reconcile()
    assert (result.outcome, result.reason) == ("error", "cache_error")
    assert f"cache dir {blocker / 'cache'}: Not a directory" in result.message
    assert "--cache-dir" in result.message
    assert rec.state.current is None and rec.state.last_result is result
    assert len(lines) == 1 and "\n" not in lines[0] and "cache_error" in lines[0]
    blocker.unlink()  # the folder becomes usable (a volume mounted late): served next pass
    assert rec.reconcile().outcome == "swapped"


def test_a_full_disk_while_fetching_keeps_the_old_model(
    world: tuple[FakeSource, Reconciler, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    source, rec, _ = world
    source.release(model_bytes(1.0), "v1.0.0")
    rec.reconcile()

    def full(*_args: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", "/cache/models/x.skops")

    monkeypatch.setattr(source, "fetch_model", full)
    source.release(model_bytes(0.5), "v1.1.0")
    result = rec.reconcile()
    assert (result.outcome, result.reason) == ("error", "cache_error")
    assert "No space left on device (/cache/models/x.skops)" in result.message
    assert rec.state.current is not None and rec.state.current.version == "v1.0.0"


def test_malformed_pointer_is_rejected_naming_the_field(
    world: tuple[FakeSource, Reconciler, Clock],
) -> None:
    source, rec, _ = world
    source.release(model_bytes(1.0), "v1.0.0")
    rec.reconcile()
    text = source.files[source.tip][POINTER_PATH].decode()
    sha = pointer_for(model_bytes(1.0), "v1.0.0").model.sha256
    source.commit({POINTER_PATH: text.replace(sha, "not-a-hash").encode()})
    result = rec.reconcile()
    assert (result.outcome, result.reason) == ("rejected", "bad_pointer")
    assert "model.sha256" in result.message
    assert rec.state.current is not None and rec.state.current.version == "v1.0.0"


def test_failed_commit_backs_off_but_a_new_commit_is_tried_at_once(
    world: tuple[FakeSource, Reconciler, Clock],
) -> None:
    source, rec, clock = world
    source.release(model_bytes(1.0), "v1.0.0", upload=b"bad")
    assert rec.reconcile().outcome == "rejected"
    assert source.fetches == 1
    for _ in range(5):  # no hot loop: the same commit waits
        clock.advance(5)
        result = rec.reconcile()
        assert result.outcome == "backoff" and result.reason == "hash_mismatch"
    assert source.fetches == 1
    clock.advance(10)  # 30 s after the failure: one retry, then 60 s
    assert rec.reconcile().outcome == "rejected"
    assert rec.state.last_rejection is not None
    assert rec.state.last_rejection.retry_at == clock.now + timedelta(seconds=60)
    assert rec.reconcile(force=True).outcome == "rejected"  # SIGHUP skips the wait
    assert source.fetches == 3
    source.remote.clear()
    source.release(model_bytes(1.0), "v1.0.1")  # a fix lands: tried at once
    assert rec.reconcile().outcome == "swapped"
    assert rec.state.current is not None and rec.state.current.version == "v1.0.1"


def test_schema_at_the_released_commit_drives_validation(
    world: tuple[FakeSource, Reconciler, Clock],
) -> None:
    """The real data/schema.yaml of the released commit, with a non-float column, decides
    what /predict accepts: a server that ignored the schema's columns would take 14.5."""
    import httpx
    import yaml

    from mlgate.serve.app import create_app
    from tests.serve_support import example_row, running

    root = Path(__file__).resolve().parents[2]
    schema = yaml.safe_load((root / "data/schema.yaml").read_text())
    # mean_radius becomes a whole number from a short list (the model still takes floats)
    schema["columns"]["mean_radius"] = {"dtype": "integer", "allowed": [12, 13, 14, 15]}
    source, rec, _ = world
    data = model_bytes(1.0)
    pointer = pointer_for(data, "v1.0.0")
    source.files[source.tip] = {}
    source.files[pointer.commit] = {"data/schema.yaml": yaml.safe_dump(schema).encode()}
    source.release(data, "v1.0.0")
    assert rec.reconcile().outcome == "swapped"
    current = rec.state.current
    assert current is not None and current.schema.source == f"{'a' * 12}:data/schema.yaml"
    assert not current.schema.numeric and not current.takes_array

    def row(radius: object) -> dict[str, object]:
        return {**example_row(), "mean_radius": radius}

    with (
        running(create_app(state=rec.state, metrics=rec.metrics, max_rows=5)) as url,
        httpx.Client(base_url=url) as client,
    ):
        assert client.post("/predict", json={"rows": [row(14)]}).status_code == 200
        for i, bad in enumerate([14.5, 17, "14"]):
            answer = client.post("/predict", json={"rows": [row(14), row(bad)]})
            assert answer.status_code == 422, (bad, answer.text)
            assert answer.json()["row"] == 1 and answer.json()["column"] == "mean_radius", i


def test_remote_errors_are_classified_by_type_not_by_text() -> None:
    import errno

    from mlgate.errors import RemoteError, RemoteObjectCorrupt, RemoteObjectMissing
    from mlgate.serve.probe import Reason
    from mlgate.serve.reconcile import classify_remote_error

    # messages that the old text matching would have read the wrong way
    missing = RemoteObjectMissing("corrupt mismatch no space left", md5="a" * 32)
    corrupt = RemoteObjectCorrupt("not in dvc remote", md5="a" * 32, expected="b", got="c")
    assert classify_remote_error(missing) is Reason.MISSING_OBJECT
    assert classify_remote_error(corrupt) is Reason.HASH_MISMATCH
    assert classify_remote_error(RemoteError("not in the remote; truncated")) is Reason.REMOTE_ERROR
    try:  # a full local disk wrapped by the fetch is the cache's problem, not the remote's
        try:
            raise OSError(errno.ENOSPC, "whatever the platform says")
        except OSError as low:
            raise RemoteError("failed part-way") from low
    except RemoteError as wrapped:
        assert classify_remote_error(wrapped) is Reason.CACHE_ERROR
