"""The `.gitlab-ci.yml` of `mlgate init --gitlab`, run for real by gitlab-ci-local.

gitlab-ci-local (npm, installed by the README's test command into .ci/node) runs each job
with its shell executor on this machine (``--force-shell-executor``: the image is not
pulled, nothing runs in Docker), in the project folder, with the environment of the
``sandbox`` fixture (the runner venv first on PATH, pip offline). GitLab's API is
tests/gitlab_stub.py on 127.0.0.1 (``CI_API_V4_URL``); ``origin`` is a bare repository and
the DVC remote a local folder. The pipeline's kind comes from the predefined variables a
GitLab server would set (``CI_PIPELINE_SOURCE``, ``CI_MERGE_REQUEST_*``, ``CI_COMMIT_TAG``).
gitlab-ci-local needs ``rsync`` (it copies artifacts and dotenv reports with it).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Mapping

import pytest
import yaml

from mlgate.ci.github import MARKER
from mlgate.scaffold import template_text
from tests.conftest import ROOT
from tests.e2e.conftest import Sandbox
from tests.gitlab_stub import GitLabStub

pytestmark = pytest.mark.slow

GITLAB_CI_LOCAL = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "gitlab-ci-local"
TIMEOUT = 600


@pytest.fixture
def gitlab_stub() -> Iterator[GitLabStub]:
    with GitLabStub() as stub:
        yield stub


def _gitlab_ci_local(
    sandbox: Sandbox, stub: GitLabStub, variables: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    if not GITLAB_CI_LOCAL.exists():
        pytest.fail(f"{GITLAB_CI_LOCAL} is missing: run the README's test command (npm install)")
    if shutil.which("rsync") is None:
        pytest.fail("gitlab-ci-local needs rsync: apt-get install rsync")
    predefined = {
        "CI_API_V4_URL": stub.api_url,
        "CI_PROJECT_ID": stub.project_id,
        "CI_PROJECT_URL": stub.project_url,
        "CI_DEFAULT_BRANCH": "main",
        **variables,
    }
    args = [str(GITLAB_CI_LOCAL), "--force-shell-executor", "--no-color"]
    args += ["--ignore-predefined-vars", ",".join(predefined)]
    for key, value in predefined.items():
        args += ["--variable", f"{key}={value}"]
    proc = subprocess.run(
        args,
        cwd=sandbox.project,
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    (sandbox.tmp / "gitlab-ci-local.log").write_text(proc.stdout + proc.stderr)
    return proc


def _commit_pipeline(sandbox: Sandbox, branch: str) -> None:
    sandbox.git("checkout", "-q", branch)
    (sandbox.project / ".gitlab-ci.yml").write_text(template_text("gitlab-ci.yml"))
    sandbox.git("add", ".gitlab-ci.yml")
    sandbox.git("commit", "-q", "-m", "mlgate init --gitlab")
    sandbox.git("push", "-q", "origin", branch)


def test_merge_request_pipeline_gates_and_notes(sandbox: Sandbox, gitlab_stub: GitLabStub) -> None:
    gitlab_stub.add_merge_request(7, source="improve")
    _commit_pipeline(sandbox, "main")
    sandbox.git("checkout", "-q", "improve")
    sandbox.git("merge", "-q", "--no-edit", "main")  # the MR branch carries the pipeline
    base = sandbox.git("merge-base", "improve", "origin/main")
    proc = _gitlab_ci_local(
        sandbox,
        gitlab_stub,
        {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_IID": "7",
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": gitlab_stub.project_id,
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
            "GITLAB_TOKEN": gitlab_stub.token,
        },
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "PASS  mr:gate" in out and "release" not in out.split("PASS  mr:gate")[-1]
    (note,) = gitlab_stub.notes
    assert note["body"].startswith(MARKER) and "roc_auc" in note["body"]
    assert "created comment" in out and "group/demo!7" in out
    assert (sandbox.project / "mlgate-report.md").is_file()
    # a second run of the same merge request updates the note in place
    again = _gitlab_ci_local(
        sandbox,
        gitlab_stub,
        {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_IID": "7",
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "999",  # now as if from a fork: no note
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
            "GITLAB_TOKEN": gitlab_stub.token,
        },
    )
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "a fork's merge request: no note" in again.stdout
    assert len(gitlab_stub.notes) == 1


def test_tag_pipeline_releases_publishes_and_deploys(
    sandbox: Sandbox, gitlab_stub: GitLabStub
) -> None:
    _commit_pipeline(sandbox, "main")
    sandbox.git("config", "receive.advertisePushOptions", "true", cwd=sandbox.origin)
    sandbox.git("tag", "v1.0.0")
    sandbox.git("push", "-q", "origin", "v1.0.0")
    sandbox.git("checkout", "-q", "--detach", "v1.0.0")  # as the runner checks a tag out
    proc = _gitlab_ci_local(
        sandbox,
        gitlab_stub,
        {
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_TAG": "v1.0.0",
            "CI_COMMIT_REF_NAME": "v1.0.0",
            "CI_JOB_TOKEN": gitlab_stub.job_token,
            "MLGATE_PUSH_TOKEN": "unused-with-a-local-origin",
        },
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert "PASS  release" in out and "PASS  deploy" in out
    assert sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin) == "deploy: v1.0.0"
    pointer = yaml.safe_load(sandbox.git("show", "main:deploy/production.yaml", cwd=sandbox.origin))
    assert pointer["version"] == "v1.0.0"
    (release,) = gitlab_stub.releases
    assert release["tag_name"] == "v1.0.0" and "First model release" in release["description"]
    creating = [r for r in gitlab_stub.requests if r.method == "POST"]
    assert [r.headers.get("job-token") for r in creating] == [gitlab_stub.job_token]
    assert (sandbox.project / "dist" / "model" / "model.skops").is_file()
    assert "live: v1.0.0" in out
