"""`mlgate init --gitlab` and the `.gitlab-ci.yml` it writes: static checks of the pipeline.

The rules checked, after GitLab's "Pipeline security" guidance: every job says when it runs;
only jobs in the `production` environment touch the push token and the DVC credentials; no
cache in jobs that release or deploy; every image pinned by digest; values a contributor
controls (branch names, titles, tags, the rollback's VERSION) appear in scripts only inside
double quotes, never through eval or `sh -c`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.scaffold import GITLAB_CI_FILE, IMAGE_DIGEST_PLACEHOLDER, template_text
from tests.conftest import copy_project, git, mlgate

KEYWORDS = {"workflow", "stages", "default", "variables", "include", "image", "cache"}
#: Predefined variables whose value a contributor (or whoever runs a pipeline) chooses.
UNTRUSTED = (
    "CI_COMMIT_TAG",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
    "CI_COMMIT_REF_SLUG",
    "CI_COMMIT_MESSAGE",
    "CI_COMMIT_TITLE",
    "CI_COMMIT_DESCRIPTION",
    "CI_COMMIT_TAG_MESSAGE",
    "CI_COMMIT_AUTHOR",
    "CI_MERGE_REQUEST_TITLE",
    "CI_MERGE_REQUEST_DESCRIPTION",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
    "CI_MERGE_REQUEST_LABELS",
    "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME",
    "VERSION",
    "DEPLOY_COMMIT",
    "MODEL",
)


def _pipeline() -> dict[str, Any]:
    data = yaml.safe_load(template_text("gitlab-ci.yml"))
    assert isinstance(data, dict)
    return data


def _jobs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in data.items() if k not in KEYWORDS and not k.startswith(".")}


def _lines(script: Any) -> list[str]:
    """A job's script as GitLab runs it: nested lists (from anchors) flattened."""
    if isinstance(script, str):
        return [script]
    return [line for item in script for line in _lines(item)]


def _unquoted_expansions(line: str) -> list[str]:
    """Names of ``$VAR``/``${VAR...}`` expansions outside double quotes (``${VAR:+...}``
    expands to its alternative, not to the value, so it does not count)."""
    found, state, i = [], "", 0
    while i < len(line):
        c = line[i]
        if state == "'":
            state = "" if c == "'" else state
        elif c == "\\":
            i += 1
        elif c == "'" and state == "":
            state = "'"
        elif c == '"':
            state = "" if state == '"' else '"'
        elif c == "$" and state == "":
            m = re.match(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(:\+)?", line[i:])
            if m and not m[2]:
                found.append(m[1])
        i += 1
    return found


def test_the_pipeline_loads_and_every_job_has_rules() -> None:
    data = _pipeline()
    assert data["workflow"]["rules"], "workflow:rules decides which pipelines exist"
    jobs = _jobs(data)
    assert set(jobs) == {"mr:gate", "release", "deploy", "rollback", "ct"}
    for name, job in jobs.items():
        assert job.get("rules"), f"{name}: no rules"
        assert job.get("script"), f"{name}: no script"
        assert set(job) <= {
            "stage",
            "rules",
            "script",
            "needs",
            "cache",
            "artifacts",
            "environment",
            "resource_group",
            "interruptible",
            "allow_failure",
            "variables",
        }, name
    rules = {name: " ".join(r["if"] for r in job["rules"]) for name, job in jobs.items()}
    assert "merge_request_event" in rules["mr:gate"]
    assert rules["release"] == rules["deploy"] == "$CI_COMMIT_TAG"
    assert "schedule" in rules["ct"]
    assert jobs["rollback"]["rules"][0]["when"] == "manual"
    assert jobs["deploy"]["needs"] == ["release"]


def test_least_privilege_and_no_secrets_in_merge_request_jobs() -> None:
    data = _pipeline()
    jobs = _jobs(data)
    for name, job in jobs.items():
        text = "\n".join(_lines(job["script"]))
        production = job.get("environment", {}).get("name") == "production"
        if "MLGATE_PUSH_TOKEN" in text or "--push" in text:
            assert production, f"{name} pushes outside the production environment"
        if production:
            assert "cache" not in job, f"{name}: a cache in a production job (poisoning)"
            assert job.get("resource_group") == "production", name
    gate = "\n".join(_lines(jobs["mr:gate"]["script"]))
    assert "MLGATE_PUSH_TOKEN" not in gate and "environment" not in jobs["mr:gate"]
    # the note only from this project's own merge requests, never a fork's
    assert '"${CI_MERGE_REQUEST_SOURCE_PROJECT_ID:-}" != "$CI_PROJECT_ID"' in gate
    assert "mlgate comment" in gate and 'exit "$status"' in gate
    # releases are published with the job token, not with GITLAB_TOKEN
    release = _lines(jobs["release"]["script"])
    assert any(line.startswith("GITLAB_TOKEN= mlgate publish-release") for line in release)
    # the token reaches git through a credential helper, never in a URL
    assert not re.search(r"https?://[^\s\"]*MLGATE_PUSH_TOKEN", template_text("gitlab-ci.yml"))
    assert data["variables"]["GIT_DEPTH"] == "0"


def test_merge_request_widgets_and_the_note_link_are_declared() -> None:
    """The files `mlgate gate` writes are the job's JUnit and metrics reports, kept when the
    gate fails, and the note's artifact link names the report the job keeps."""
    job = _jobs(_pipeline())["mr:gate"]
    gate = [line for line in _lines(job["script"]) if "mlgate gate" in line]
    assert gate == [
        "status=0; mlgate gate --junit mlgate-junit.xml --openmetrics metrics.txt || status=$?"
    ]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"] == {"junit": "mlgate-junit.xml", "metrics": "metrics.txt"}
    assert job["variables"]["MLGATE_REPORT_ARTIFACT"] in artifacts["paths"]
    assert any(
        line.startswith("mlgate report -o mlgate-report.md") for line in _lines(job["script"])
    )


def test_images_pinned_by_digest() -> None:
    text = template_text("gitlab-ci.yml")
    images = re.findall(r"^\s*image:\s*(\S+)", text, re.M)
    assert images, "no image"
    for image in images:
        assert re.search(rf"@(sha256:[0-9a-f]{{64}}|{IMAGE_DIGEST_PLACEHOLDER})$", image), image
    assert "include:" not in text  # nothing fetched from elsewhere at run time


def test_untrusted_values_only_inside_double_quotes() -> None:
    for name, job in _jobs(_pipeline()).items():
        for line in _lines(job["script"]):
            assert not re.search(r"\beval\b|\b(ba)?sh -c\b", line), f"{name}: {line}"
            bad = [v for v in _unquoted_expansions(line) if v in UNTRUSTED]
            assert not bad, f"{name}: {bad} unquoted in: {line}"


def test_the_quote_scanner_itself() -> None:
    assert _unquoted_expansions('echo "$CI_COMMIT_TAG"') == []
    assert _unquoted_expansions("echo $CI_COMMIT_TAG") == ["CI_COMMIT_TAG"]
    assert _unquoted_expansions("echo '$CI_COMMIT_TAG'") == []
    assert _unquoted_expansions('x ${VERSION:+--to "$VERSION"}') == []
    assert _unquoted_expansions('x ${VERSION:-a} "${MODEL}"') == ["VERSION"]


# -- mlgate init --gitlab ---------------------------------------------------------------------
@pytest.fixture
def project(tmp_path: Path, env: dict[str, str]) -> Path:
    proj = copy_project(tmp_path / "project")
    git("init", "-q", "-b", "main", cwd=proj, env=env)
    return proj


def test_init_gitlab_writes_the_pipeline(project: Path, env: dict[str, str]) -> None:
    proc = mlgate("init", "--gitlab", cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr
    written = project / GITLAB_CI_FILE
    assert written.read_text(encoding="utf-8") == template_text("gitlab-ci.yml")
    assert not (project / ".github").exists()
    assert re.search(r"^created +\.gitlab-ci\.yml$", proc.stdout, re.M)
    assert f"replace {IMAGE_DIGEST_PLACEHOLDER}" in proc.stderr
    assert "MLGATE_PUSH_TOKEN" in proc.stdout
    # filling in the digest is expected: no conflict, no warning, nothing rewritten
    digest = "sha256:" + "ab" * 32
    written.write_text(
        written.read_text(encoding="utf-8").replace(IMAGE_DIGEST_PLACEHOLDER, digest),
        encoding="utf-8",
    )
    again = mlgate("init", "--gitlab", cwd=project, env=env)
    assert again.returncode == 0, again.stderr
    assert re.search(r"^unchanged +\.gitlab-ci\.yml$", again.stdout, re.M)
    assert IMAGE_DIGEST_PLACEHOLDER not in again.stderr
    assert digest in written.read_text(encoding="utf-8")
    # any other change is the user's: kept unless --force
    written.write_text(written.read_text(encoding="utf-8") + "# mine\n", encoding="utf-8")
    refused = mlgate("init", "--gitlab", cwd=project, env=env)
    assert refused.returncode == 2 and ".gitlab-ci.yml" in refused.stderr
