"""release.yml and rollback.yml (each calling deploy.yml) run by act with the DVC remote on
an S3-protocol server (issue 15 §5): moto's standalone server on 127.0.0.1, signatures
checked, reached through DVC's own S3 support.

The project is set up as the README tells a team moving to object storage: ``.dvc/config``
names ``s3://BUCKET/mlgate``, the ``endpointurl`` and the region (committed: no secret), and
the workflows' commented ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY: ${{ secrets.* }}``
lines are switched on (and, act having no environments, the callers pass them to deploy.yml
with ``secrets: inherit``). The credentials reach the jobs only as act secrets (act reads
``.secrets`` from the folder it runs in; the file is not committed, and the checkout
stand-in clones origin, so no job sees it): the runner's own environment has no AWS_*
variable, so a job that did not map the secrets could not reach the bucket.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import mlgate, run
from tests.e2e.conftest import Sandbox
from tests.github_stub import GitHubStub
from tests.s3_support import REGION, Credentials, S3Server

pytestmark = pytest.mark.slow

WORKFLOWS = ("release.yml", "rollback.yml", "deploy.yml")
_CALL = re.compile(r"^(    uses: \./\.github/workflows/deploy\.yml.*)$", re.M)
_SECRET_LINE = re.compile(
    r"^(\s+)# (AWS_(?:ACCESS_KEY_ID|SECRET_ACCESS_KEY): \$\{\{ secrets\.)", re.M
)


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[S3Server, Credentials]]:
    with S3Server() as server:
        yield server, server.enable_auth()


def _on_s3(sandbox: Sandbox, server: S3Server, creds: Credentials, bucket: str) -> dict[str, str]:
    """Switch the sandbox's project to the S3 remote (committed, pushed to origin), push
    main's outputs there; the environment for local mlgate/dvc calls with the credentials."""
    server.client(creds).create_bucket(Bucket=bucket)
    proj, env = sandbox.project, sandbox.env
    credentials = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    assert not any(key in env for key in credentials)  # only the secrets carry them
    dvc = ["dvc", "remote"]
    run([*dvc, "add", "-d", "-f", "s3", f"s3://{bucket}/mlgate"], cwd=proj, env=env)
    run([*dvc, "modify", "s3", "endpointurl", server.url], cwd=proj, env=env)
    run([*dvc, "modify", "s3", "region", REGION], cwd=proj, env=env)
    run([*dvc, "modify", "s3", "verify", "true"], cwd=proj, env=env)
    run([*dvc, "remove", "local"], cwd=proj, env=env)  # the folder remote is gone
    for name in WORKFLOWS:
        path = proj / ".github" / "workflows" / name
        text, count = _SECRET_LINE.subn(r"\1\2", path.read_text())
        assert count == 2, f"{name}: the commented credential lines moved"
        if name != "deploy.yml":
            # act knows no GitHub environments: the credentials are repository secrets here,
            # which a called workflow gets only when its caller passes them. (On GitHub,
            # secrets of the `production` environment reach deploy.yml's job directly.)
            text, count = _CALL.subn(r"\1\n    secrets: inherit", text)
            assert count == 1, f"{name}: no call of deploy.yml"
        path.write_text(text)
    sandbox.git("add", ".dvc/config", *(f".github/workflows/{n}" for n in WORKFLOWS))
    sandbox.git("commit", "-q", "-m", "DVC remote: S3; credentials from the environment secrets")
    sandbox.git("push", "-q", "origin", "main")
    assert creds.secret_access_key not in (proj / ".dvc/config").read_text()
    (proj / ".secrets").write_text(
        f"AWS_ACCESS_KEY_ID={creds.access_key_id}\nAWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
    )
    with_creds = {**env, **creds.env(), "AWS_MAX_ATTEMPTS": "2"}
    run(["dvc", "push", "--quiet"], cwd=proj, env=with_creds)
    return with_creds


def _pointer(sandbox: Sandbox) -> dict[str, object]:
    data = yaml.safe_load(sandbox.git("show", "main:deploy/production.yaml", cwd=sandbox.origin))
    assert isinstance(data, dict)
    return data


def _stored_sha256(server: S3Server, creds: Credentials, bucket: str, md5: str) -> str:
    key = f"mlgate/files/md5/{md5[:2]}/{md5[2:]}"
    body = server.client(creds).get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def test_release_workflow_on_s3(
    sandbox: Sandbox, github_stub: GitHubStub, s3: tuple[S3Server, Credentials]
) -> None:
    server, creds = s3
    _on_s3(sandbox, server, creds, "release-bucket")
    sandbox.git("tag", "v1.0.0")
    sandbox.git("push", "-q", "origin", "v1.0.0")
    event = {
        "ref": "refs/tags/v1.0.0",
        "after": sandbox.git("rev-parse", "v1.0.0"),
        "repository": {"full_name": github_stub.repository, "default_branch": "main"},
    }
    result = sandbox.act("push", "release.yml", event, api_env=github_stub.env())
    assert result.returncode == 0, result.output[-8000:]
    assert result.job_succeeded("release") and result.job_succeeded("deploy"), result.output[-4000:]
    assert creds.secret_access_key not in result.output  # act masks secrets
    assert sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin) == "deploy: v1.0.0"
    pointer = _pointer(sandbox)
    model = pointer["model"]
    assert pointer["version"] == "v1.0.0" and isinstance(model, dict)
    # the bytes the pointer names are in the bucket, and deploy.yml fetched them from it
    assert _stored_sha256(server, creds, "release-bucket", str(model["md5"])) == model["sha256"]
    assert "dist/model/model.skops" in result.output and "live: v1.0.0" in result.output
    (release,) = github_stub.releases
    assert release["tag_name"] == "v1.0.0"


def test_rollback_workflow_on_s3(
    sandbox: Sandbox, github_stub: GitHubStub, s3: tuple[S3Server, Credentials]
) -> None:
    server, creds = s3
    env = _on_s3(sandbox, server, creds, "rollback-bucket")

    def release(tag: str) -> None:
        sandbox.git("tag", tag)
        proc = mlgate("release", tag, "--push", cwd=sandbox.project, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    release("v1.0.0")
    sandbox.git("merge", "-q", "--no-edit", "improve")  # C=1.0: a better model
    release("v1.1.0")
    sandbox.git("push", "-q", "origin", "--tags")
    assert _pointer(sandbox)["version"] == "v1.1.0"
    event = {
        "inputs": {"version": "v1.0.0"},
        "ref": "refs/heads/main",
        "repository": {"full_name": github_stub.repository, "default_branch": "main"},
    }
    result = sandbox.act(
        "workflow_dispatch",
        "rollback.yml",
        event,
        api_env=github_stub.env(),
        inputs={"version": "v1.0.0"},
    )
    assert result.returncode == 0, result.output[-8000:]
    assert result.job_succeeded("rollback") and result.job_succeeded("deploy"), result.output[
        -4000:
    ]
    assert creds.secret_access_key not in result.output
    subject = sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin)
    assert subject.startswith("rollback: v1.1.0 -> v1.0.0"), subject
    pointer = _pointer(sandbox)
    model = pointer["model"]
    assert pointer["version"] == "v1.0.0" and isinstance(model, dict)
    assert _stored_sha256(server, creds, "rollback-bucket", str(model["md5"])) == model["sha256"]
    assert "live: v1.0.0" in result.output
