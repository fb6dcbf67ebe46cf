"""mlgate.ci.forge: which forge, its client, and the change request a job runs for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.ci.forge import FORGES, change_request_number, client_from_env, detect_forge
from mlgate.ci.github import GitHubClient
from mlgate.ci.gitlab import GitLabClient
from mlgate.errors import ConfigError

GITLAB = {
    "GITLAB_CI": "true",
    "GITLAB_TOKEN": "glpat-secret",
    "CI_PROJECT_ID": "42",
    "CI_API_V4_URL": "https://gitlab.example/api/v4",
}


@pytest.mark.parametrize(
    ("environ", "override", "expected"),
    [
        ({}, None, "github"),
        ({"GITHUB_ACTIONS": "true"}, None, "github"),
        ({"GITLAB_CI": "true"}, None, "gitlab"),
        ({"GITLAB_CI": "false"}, None, "github"),
        ({"GITLAB_CI": "true"}, "github", "github"),
        ({"GITHUB_ACTIONS": "true"}, "gitlab", "gitlab"),
    ],
)
def test_detect_forge(environ: dict[str, str], override: str | None, expected: str) -> None:
    assert detect_forge(environ, override) == expected


def test_detect_forge_refuses_an_unknown_override() -> None:
    with pytest.raises(ConfigError, match=r"--forge: expected one of github, gitlab"):
        detect_forge({}, "bitbucket")
    assert FORGES == ("github", "gitlab")


def test_client_from_env_builds_each_forges_client() -> None:
    with client_from_env("gitlab", GITLAB) as lab:
        assert isinstance(lab, GitLabClient) and lab.forge == "gitlab"
        assert lab.api_url == "https://gitlab.example/api/v4" and not lab.job_token
        assert lab.reference(7) == "42!7"
    github = {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "octo/demo"}
    with client_from_env("github", github) as hub:
        assert isinstance(hub, GitHubClient) and hub.forge == "github"
        assert hub.reference(7) == "octo/demo#7"


def test_gitlab_merge_request_iid_from_the_pipeline() -> None:
    with client_from_env("gitlab", GITLAB) as lab:
        assert change_request_number("gitlab", lab, {**GITLAB, "CI_MERGE_REQUEST_IID": "12"}) == 12
        assert change_request_number("gitlab", lab, GITLAB) is None  # a branch pipeline
        with pytest.raises(ConfigError, match="CI_MERGE_REQUEST_IID"):
            change_request_number("gitlab", lab, {**GITLAB, "CI_MERGE_REQUEST_IID": "x1"})


def test_github_pull_request_number_from_the_event(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 5}}), encoding="utf-8")
    environ = {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r", "GITHUB_EVENT_PATH": str(event)}
    with client_from_env("github", environ) as hub:
        assert change_request_number("github", hub, environ) == 5
        # a merge request iid means nothing to GitHub
        assert change_request_number("github", hub, {"CI_MERGE_REQUEST_IID": "3"}) is None
