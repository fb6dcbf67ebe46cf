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

import csv
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from mlgate.ci.github import MARKER
from mlgate.scaffold import template_text
from tests.conftest import ROOT, mlgate
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
    sandbox: Sandbox, stub: GitLabStub, variables: Mapping[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    if not GITLAB_CI_LOCAL.exists():
        pytest.fail(f"{GITLAB_CI_LOCAL} is missing: run the README's test command (npm install)")
    if shutil.which("rsync") is None:
        pytest.fail("gitlab-ci-local needs rsync: apt-get install rsync")
    predefined = {
        "GITLAB_CI": "true",  # as GitLab sets it (gitlab-ci-local says "false")
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
    args += extra
    proc = subprocess.run(
        args,
        cwd=sandbox.project,
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    with (sandbox.tmp / "gitlab-ci-local.log").open("a") as log:  # kept for a look
        log.write(proc.stdout + proc.stderr)
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
    # the note links to the report artifact of this job
    job_url = re.search(r"\(this job's artifact\)", note["body"]) and re.search(
        r"\]\((https?://\S+/-/jobs/\d+)/artifacts/file/mlgate-report\.md\)", note["body"]
    )
    assert job_url, note["body"][-500:]
    # the widgets' files: one JUnit case per check, none failing; the metrics as OpenMetrics
    verdict = json.loads(mlgate("gate", "--json", cwd=sandbox.project, env=sandbox.env).stdout)
    root = ET.parse(sandbox.project / "mlgate-junit.xml").getroot()
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(verdict["rules"]) > 0
    assert not root.findall(".//failure")
    metrics = (sandbox.project / "metrics.txt").read_text(encoding="utf-8")
    assert metrics.endswith("# EOF\n") and "\nmlgate_gate_passed 1.0\n" in metrics
    assert re.search(r'^mlgate_metric\{file="[^"]+",metric="roc_auc"\} 0\.\d+$', metrics, re.M)
    # the job log: the summary in a collapsed section
    assert "section_start:" in out and "mlgate_gate_summary[collapsed=true]" in out
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


def _release(sandbox: Sandbox, tag: str) -> None:
    sandbox.git("tag", tag)
    proc = mlgate("release", tag, "--push", cwd=sandbox.project, env=sandbox.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _pointer(sandbox: Sandbox) -> dict[str, Any]:
    text = sandbox.git("show", "main:deploy/production.yaml", cwd=sandbox.origin)
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def test_manual_rollback_job_rolls_back_and_deploys(
    sandbox: Sandbox, gitlab_stub: GitLabStub
) -> None:
    """A web pipeline on main with the manual `rollback` job started (`--manual rollback`):
    v1.1.0 -> v1.0.0 pushed to origin with ci.skip, then the verified v1.0.0 is deployed."""
    _commit_pipeline(sandbox, "main")
    sandbox.git("config", "receive.advertisePushOptions", "true", cwd=sandbox.origin)
    _release(sandbox, "v1.0.0")
    sandbox.git("merge", "-q", "--no-edit", "improve")  # C=1.0: better, the gate passes
    _release(sandbox, "v1.1.0")
    assert _pointer(sandbox)["version"] == "v1.1.0"
    proc = _gitlab_ci_local(
        sandbox,
        gitlab_stub,
        {
            "CI_PIPELINE_SOURCE": "web",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main",
            "MLGATE_PUSH_TOKEN": "unused-with-a-local-origin",
        },
        "--manual",
        "rollback",
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert "PASS  rollback" in out and "ct" not in re.findall(r"PASS  (\S+)", out)
    subject = sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin)
    assert subject == "rollback: v1.1.0 -> v1.0.0"
    assert _pointer(sandbox)["version"] == "v1.0.0"
    assert (sandbox.project / "dist" / "model" / "model.skops").is_file()
    assert "live: v1.0.0" in out
    assert gitlab_stub.requests == []  # a rollback needs no GitLab API call
    # without the push token the job stops with the fix, and origin is untouched
    again = _gitlab_ci_local(
        sandbox,
        gitlab_stub,
        {"CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"},
        "--manual",
        "rollback",
    )
    out = again.stdout + again.stderr
    # the job fails; the pipeline does not (the job is allow_failure: true, a manual job)
    assert re.search(r"WARN +rollback", out) and "PASS  rollback" not in out, out[-3000:]
    assert "set the protected, masked variable MLGATE_PUSH_TOKEN" in out
    assert sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin) == subject


def test_scheduled_ct_job_opens_a_merge_request(sandbox: Sandbox, gitlab_stub: GitLabStub) -> None:
    """A scheduled pipeline on main runs `ct`: a new batch -> a branch ct/... at origin and
    a merge request at the stand-in (GITLAB_TOKEN as PRIVATE-TOKEN), ct.json and the report
    kept as artifacts."""
    _commit_pipeline(sandbox, "main")
    sandbox.git("config", "receive.advertisePushOptions", "true", cwd=sandbox.origin)
    _release(sandbox, "v1.0.0")
    with (sandbox.project / "data/breast_cancer.csv").open() as handle:
        rows = list(csv.DictReader(handle))[:200]
    for i, row in enumerate(rows):
        row["row_id"] = str(500_000 + i)  # as test_act_ct.py: a batch the gate passes
    batch = sandbox.project / "data/incoming/batch_001.csv"
    with batch.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sandbox.git("add", "data/incoming/batch_001.csv")
    sandbox.git("commit", "-q", "-m", "new data: batch_001.csv")
    sandbox.git("push", "-q", "origin", "main")
    proc = _gitlab_ci_local(
        sandbox,
        gitlab_stub,
        {
            "CI_PIPELINE_SOURCE": "schedule",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main",
            "GITLAB_TOKEN": gitlab_stub.token,
            "MLGATE_PUSH_TOKEN": "unused-with-a-local-origin",
        },
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert re.findall(r"PASS  (\S+)", out) == ["ct"], out[-3000:]
    assert "mlgate ct - pr_opened" in out
    result = json.loads((sandbox.project / "ct.json").read_text())
    assert result["outcome"] == "pr_opened"
    (mr,) = gitlab_stub.merge_requests
    assert mr["source_branch"] == result["branch"] and mr["source_branch"].startswith("ct/")
    assert mr["target_branch"] == "main" and "batch_001.csv" in mr["description"]
    posts = [r for r in gitlab_stub.requests if r.method == "POST"]
    assert [r.headers.get("private-token") for r in posts] == [gitlab_stub.token]
    manifest = sandbox.git("show", f"{mr['source_branch']}:data/batches.json", cwd=sandbox.origin)
    assert '"batch_001.csv"' in manifest
    assert (sandbox.project / "ct-report.md").read_text().strip()
