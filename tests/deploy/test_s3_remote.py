"""End to end against object storage: the DVC remote on an S3-protocol server (moto, loopback).

The project's ``.dvc/config`` names ``s3://BUCKET/mlgate`` and the server's ``endpointurl``,
as a team's would for MinIO or R2, and is committed: it carries no secret. Credentials come
only from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``. ``mlgate`` runs as a subprocess,
so DVC's own S3 support (dvc-s3, s3fs, botocore) does every transfer.

Faults: a wrong secret, a missing bucket, a server that is gone and one that stops
mid-transfer (a proxy cuts every answer after 8 KiB) each give exit 2 and one line that
never shows the secret, with the branch and the pointer as they were.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import git, mlgate, run
from tests.deploy.test_release_e2e import POINTER, _new_version, _pointer, _setup
from tests.s3_support import Credentials, CuttingProxy, S3Server

pytestmark = pytest.mark.slow

_buckets = itertools.count(1)


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[S3Server, Credentials]]:
    with S3Server() as server:
        yield server, server.enable_auth()


def _s3_project(
    proj: Path, tmp_path: Path, env: dict[str, str], server: S3Server, creds: Credentials
) -> tuple[str, dict[str, str]]:
    """Origin, gate policy, and an S3 DVC remote committed in .dvc/config; (bucket, env)."""
    bucket = f"models-{next(_buckets)}"
    server.client(creds).create_bucket(Bucket=bucket)
    _setup(proj, tmp_path, env, dvc_remote=tmp_path / "unused")  # origin and policy
    run(["dvc", "remote", "remove", "--local", "test"], cwd=proj, env=env)
    dvc = ["dvc", "remote"]
    run([*dvc, "add", "-d", "-f", "s3", f"s3://{bucket}/mlgate"], cwd=proj, env=env)
    run([*dvc, "modify", "s3", "endpointurl", server.url], cwd=proj, env=env)
    run([*dvc, "modify", "s3", "verify", "true"], cwd=proj, env=env)
    git("commit", "-q", "-m", "DVC remote: S3", "--", ".dvc/config", cwd=proj, env=env)
    assert creds.secret_access_key not in (proj / ".dvc/config").read_text()
    # botocore's retries, bounded so that a server that is gone fails in seconds
    return bucket, {**env, **creds.env(), "AWS_MAX_ATTEMPTS": "2"}


def _key(md5: str) -> str:
    return f"mlgate/files/md5/{md5[:2]}/{md5[2:]}"


def _state(proj: Path, env: dict[str, str]) -> tuple[str, bytes | None, str]:
    pointer = proj / POINTER
    return (
        git("rev-parse", "HEAD", cwd=proj, env=env),
        pointer.read_bytes() if pointer.exists() else None,
        git("status", "--porcelain", "--untracked-files=no", cwd=proj, env=env),
    )


def _one_line(proc, secret: str) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line, line
    assert secret not in proc.stdout + proc.stderr
    return str(line)


def test_release_rollback_status_pull_on_s3(
    reproduced_project: Path,
    tmp_path: Path,
    env: dict[str, str],
    s3: tuple[S3Server, Credentials],
) -> None:
    server, creds = s3
    proj = reproduced_project
    bucket, env = _s3_project(proj, tmp_path, env, server, creds)
    client = server.client(creds)
    git("tag", "v1.0.0", cwd=proj, env=env)

    first = mlgate("release", "v1.0.0", "--push", cwd=proj, env=env)
    assert first.returncode == 0, first.stderr
    p1 = _pointer(proj)
    assert f"s3://{bucket}/{_key(p1['model']['md5'])}" in first.stdout
    stored = client.get_object(Bucket=bucket, Key=_key(p1["model"]["md5"]))["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == p1["model"]["sha256"]

    _new_version(proj, env, c="0.5", tag="v1.1.0")
    second = mlgate("release", "v1.1.0", cwd=proj, env=env)
    assert second.returncode == 0, second.stderr
    p2 = _pointer(proj)

    status = json.loads(mlgate("status", "--json", cwd=proj, env=env).stdout)
    assert status["live"]["version"] == "v1.1.0" and status["remote"]["matches"] is True
    assert f"s3://{bucket}" in status["remote"]["detail"]

    back = mlgate("rollback", cwd=proj, env=env)
    assert back.returncode == 0, back.stderr
    assert _pointer(proj) == p1

    out = tmp_path / "pulled"
    pulled = mlgate("pull-model", "--version", "v1.1.0", "-o", str(out), cwd=proj, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert hashlib.sha256((out / "model.skops").read_bytes()).hexdigest() == p2["model"]["sha256"]
    assert "allow-list scan passed" in pulled.stdout

    # One byte of v1.1.0's object flipped in the bucket, same size: releasing v1.1.0 again
    # (dvc push skips an object the bucket has) and pulling it both refuse.
    key = _key(p2["model"]["md5"])
    data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    before = _state(proj, env)
    again = mlgate("release", "v1.1.0", cwd=proj, env=env)
    line = _one_line(again, creds.secret_access_key)
    assert "v1.1.0" in line and p2["model"]["md5"] in line and "'s3'" in line
    assert _state(proj, env) == before
    shut = tmp_path / "refused"
    refused = mlgate("pull-model", "--version", "v1.1.0", "-o", str(shut), cwd=proj, env=env)
    assert "fails verification" in _one_line(refused, creds.secret_access_key)
    assert not shut.exists()
    status = json.loads(mlgate("status", "--json", cwd=proj, env=env).stdout)
    assert status["remote"]["matches"] is True  # v1.0.0 is live, and intact


def test_faults_wrong_secret_missing_bucket_server_gone(
    reproduced_project: Path,
    tmp_path: Path,
    env: dict[str, str],
    s3: tuple[S3Server, Credentials],
) -> None:
    server, creds = s3
    proj = reproduced_project
    _, env = _s3_project(proj, tmp_path, env, server, creds)
    git("tag", "v1.0.0", cwd=proj, env=env)
    assert mlgate("release", "v1.0.0", cwd=proj, env=env).returncode == 0
    _new_version(proj, env, c="0.5", tag="v1.1.0")
    assert mlgate("release", "v1.1.0", cwd=proj, env=env).returncode == 0
    _new_version(proj, env, c="0.25", tag="v1.2.0")
    out = tmp_path / "out"

    def refused_everywhere(env: dict[str, str], secret: str, *said: str) -> None:
        before = _state(proj, env)
        for args in (
            ("release", "v1.2.0"),
            ("rollback",),
            ("pull-model", "-o", str(out)),
        ):
            line = _one_line(mlgate(*args, cwd=proj, env=env), secret)
            print(args, line)  # shown with -s: what a user reads
            assert any(s in line for s in said), (args, line)
            assert "'s3'" in line, (args, line)
            assert _state(proj, env) == before, args
            assert not out.exists()

    wrong = "wrong-secret-" + "9" * 28
    refused_everywhere(
        {**env, "AWS_SECRET_ACCESS_KEY": wrong}, wrong, "Forbidden", "SignatureDoesNotMatch"
    )

    # A bucket that does not exist: .dvc/config.local overrides the committed URL.
    run(
        ["dvc", "remote", "modify", "--local", "s3", "url", "s3://no-such-bucket/mlgate"],
        cwd=proj,
        env=env,
    )
    refused_everywhere(env, creds.secret_access_key, "no-such-bucket")
    (proj / ".dvc" / "config.local").unlink()

    # A server that is gone: a second door to the same store, closed before the fetch.
    with S3Server() as door:
        run(
            ["dvc", "remote", "modify", "--local", "s3", "endpointurl", door.url], cwd=proj, env=env
        )
        assert mlgate("status", "--json", cwd=proj, env=env).returncode == 0
    refused_everywhere(env, creds.secret_access_key, "127.0.0.1")
    (proj / ".dvc" / "config.local").unlink()

    # A server that stops mid-transfer: every answer is cut after 8 KiB (the model is ~34 KB).
    with CuttingProxy(server.url, limit=8192) as proxy:
        run(
            ["dvc", "remote", "modify", "--local", "s3", "endpointurl", proxy.url],
            cwd=proj,
            env=env,
        )
        refused_everywhere(env, creds.secret_access_key, "part-way", "cannot be read", "failed")
        assert proxy.cuts > 0
    (proj / ".dvc" / "config.local").unlink()

    ok = mlgate("release", "v1.2.0", cwd=proj, env=env)  # the real server: all is well again
    assert ok.returncode in (0, 1), ok.stdout + ok.stderr  # 1: the gate may refuse v1.2.0
