"""`mlgate serve` following a repository whose DVC remote is an S3-protocol server, and
`mlgate ct` on such a remote (issue 15 §5), as subprocesses; the server is moto's on
127.0.0.1 with signatures checked (tests/s3_support.py), credentials only in the
environment (tests/deploy/test_s3_remote.py covers release, rollback, status, pull-model and the
faults)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BIN, git, mlgate
from tests.deploy.test_release_e2e import _new_version
from tests.deploy.test_s3_remote import _s3_project
from tests.s3_support import Credentials, S3Server
from tests.serve_support import example_row, free_port

pytestmark = [pytest.mark.slow, pytest.mark.serial]


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[S3Server, Credentials]]:
    with S3Server() as server:
        yield server, server.enable_auth()


def _ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _wait(what: str, check: Callable[[], bool], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-4000:]}")


class _Serve:
    def __init__(self, origin: Path, tmp: Path, env: dict[str, str], name: str) -> None:
        self.log = tmp / f"serve-{name}.log"
        port = free_port()
        args = [
            str(BIN / "mlgate"), "serve", "--repo", str(origin), "--port", str(port),
            "--interval", "1", "--cache-dir", str(tmp / f"cache-{name}"), "--backoff", "2",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=self.log.open("wb")
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def version(self) -> dict[str, Any]:
        return dict(self.http.get("/version").json())

    def serving(self, version: str) -> bool:
        assert self.proc.poll() is None, self.log.read_text()
        return self.version().get("version") == version

    def stop(self) -> int:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def test_serve_follows_releases_and_a_rollback_on_s3(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str], s3: tuple[S3Server, Credentials]
) -> None:
    server, creds = s3
    proj = reproduced_project
    _bucket, env = _s3_project(proj, tmp_path, env, server, creds)
    origin = tmp_path / "origin.git"
    git("tag", "v1.0.0", cwd=proj, env=env)
    _ok(mlgate("release", "v1.0.0", "--push", cwd=proj, env=env))
    wrong = {**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret-" + "x" * 24}
    servers = [_Serve(origin, tmp_path, env, "right"), _Serve(origin, tmp_path, wrong, "wrong")]
    right, bad = servers
    try:
        _wait("v1.0.0 served from S3", lambda: right.serving("v1.0.0"), right.log)
        answer = right.http.post("/predict", json={"rows": [example_row()]})
        assert answer.status_code == 200, answer.text
        _new_version(proj, env, c="0.5", tag="v1.1.0")
        _ok(mlgate("release", "v1.1.0", "--push", cwd=proj, env=env))
        _wait("v1.1.0 served", lambda: right.serving("v1.1.0"), right.log)
        _ok(mlgate("rollback", "--push", cwd=proj, env=env))
        _wait("back on v1.0.0", lambda: right.serving("v1.0.0"), right.log)
        # the server with a wrong secret never serves, says why, and never shows the secret
        assert bad.proc.poll() is None, bad.log.read_text()
        state = bad.version()
        assert state.get("version") in (None, ""), state
        assert bad.http.get("/readyz").status_code != 200
        shown = json.dumps(state) + bad.log.read_text()
        assert wrong["AWS_SECRET_ACCESS_KEY"] not in shown
        assert creds.secret_access_key not in shown + right.log.read_text()
    finally:
        codes = [s.stop() for s in servers]
    assert codes == [0, 0], [s.log.read_text()[-2000:] for s in servers]


def test_ct_cycle_on_s3(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str], s3: tuple[S3Server, Credentials]
) -> None:
    """ct scores the new batch with the live model, fetched from the bucket and checked, then
    opens the pull request (at the GitHub stand-in); with a wrong secret it stops with one
    line (exit 2) that does not show it, and nothing is pushed."""
    import yaml

    from tests.ct.test_ct_e2e import POLICY, _batch
    from tests.github_stub import GitHubStub

    server, creds = s3
    proj = reproduced_project
    _bucket, env = _s3_project(proj, tmp_path, env, server, creds)
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["gate"] = POLICY
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git("commit", "-q", "-m", "ct policy", "--", "params.yaml", cwd=proj, env=env)
    git("tag", "v1.0.0", cwd=proj, env=env)
    _ok(mlgate("release", "v1.0.0", "--push", cwd=proj, env=env))
    _batch(proj, "batch_001.csv", 0, 200)
    origin = tmp_path / "origin.git"
    heads = git("--git-dir", str(origin), "for-each-ref", "--format=%(refname)", cwd=proj, env=env)
    with GitHubStub() as github:
        secret = "not-the-secret-" + "y" * 24
        bad = mlgate(
            "ct", "--json", cwd=proj, env={**env, **github.env(), "AWS_SECRET_ACCESS_KEY": secret}
        )
        assert bad.returncode == 2, bad.stdout + bad.stderr
        line = bad.stderr.strip()
        assert "\n" not in line and secret not in bad.stdout + bad.stderr, line
        assert github.pulls == []
        assert (
            git("--git-dir", str(origin), "for-each-ref", "--format=%(refname)", cwd=proj, env=env)
            == heads
        )
        proc = mlgate("ct", "--json", cwd=proj, env={**env, **github.env()})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = json.loads(proc.stdout)
        assert out["outcome"] == "pr_opened", out["message"]
        assert out["monitoring"]["version"] == "v1.0.0"  # the live model, from the bucket
        (pull,) = github.pulls
    assert pull["head"]["ref"] == out["branch"]
    assert creds.secret_access_key not in proc.stdout + proc.stderr
