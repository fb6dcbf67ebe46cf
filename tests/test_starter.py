"""``mlgate new``: a new repository with the reference pipeline, its workflows and a README."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlgate.project import LIBRARY_PREFIX
from mlgate.scaffold import workflow_templates
from mlgate.starter import FIRST_COMMIT, new_dvc_yaml, new_project
from mlgate.survey import MLGATE_FROM_GIT
from tests.ci.test_workflows_static import _actionlint, _tool
from tests.ci.test_workflows_static import (
    test_checkouts_drop_credentials_except_in_the_pushing_job as drops_credentials,
)
from tests.ci.test_workflows_static import test_every_job_has_a_timeout as has_timeouts
from tests.ci.test_workflows_static import (
    test_jobs_that_read_history_check_out_all_of_it as full_history,
)
from tests.ci.test_workflows_static import test_least_privilege_permissions as least_privilege
from tests.ci.test_workflows_static import test_no_expressions_inside_run_scripts as no_expressions
from tests.ci.test_workflows_static import (
    test_secrets_only_in_jobs_with_an_environment as secrets_in_environments,
)
from tests.ci.test_workflows_static import (
    test_third_party_actions_are_pinned_with_a_version_comment as pinned,
)
from tests.conftest import ROOT, git, mlgate, run


def test_dvc_yaml_depends_on_requirements_not_on_mlgates_sources() -> None:
    text = new_dvc_yaml((ROOT / "dvc.yaml").read_text())
    stages = yaml.safe_load(text)["stages"]
    for name, stage in stages.items():
        deps = [d for d in stage["deps"] if isinstance(d, str)]
        assert not [d for d in deps if d.startswith(LIBRARY_PREFIX)], name
        assert deps[:2] == [f"stages/{name}.py", "requirements.txt"], name
    assert yaml.safe_load(text)["artifacts"]["breast-cancer"]["type"] == "model"


def test_new_project_files(tmp_path: Path, env: dict[str, str]) -> None:
    made = new_project(tmp_path / "my-model", environ=env)
    root = made.root
    assert made.commit is None and (root / ".git").is_dir() and (root / ".dvc").is_dir()
    for path, text in workflow_templates().items():
        assert (root / path).read_text() == text, path
    assert (root / "requirements.txt").read_text().splitlines()[-1] == MLGATE_FROM_GIT
    assert (root / "README.md").read_text().startswith("# my-model\n")
    assert not (root / "src").exists(), "a new project installs mlgate; it copies none of it"
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["gate"]["rules"] and params["ct"]["model"] == "breast-cancer"
    config = (root / ".dvc/config").read_text()
    assert "verify = true" in config and "analytics = false" in config
    for name in made.files:
        assert (root / name).is_file(), name
    status = git("status", "--porcelain", "--untracked-files=all", cwd=root, env=env)
    untracked = sorted(line[3:] for line in status.splitlines())
    assert untracked == sorted(made.files), "everything it wrote is for git; nothing ignored"


def test_new_refuses_a_folder_that_is_not_empty(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine\n")
    proc = mlgate("new", "taken", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "taken: exists and is not empty" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_new_run_then_repro_and_gate_pass(tmp_path: Path, env: dict[str, str]) -> None:
    """The acceptance check: `mlgate new --run`, then `dvc repro` and `mlgate gate` pass, and
    the workflows pass the same static checks as mlgate's own."""
    proc = mlgate("new", "my-model", "--run", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "replace OWNER and COMMIT_SHA" in proc.stderr
    root = tmp_path / "my-model"
    assert git("log", "--format=%s", cwd=root, env=env) == FIRST_COMMIT
    assert git("status", "--porcelain", cwd=root, env=env) == ""
    assert json.loads((root / "metrics/scores.json").read_text())["roc_auc"] > 0.95
    repro = run(["dvc", "repro"], cwd=root, env=env)
    assert "Data and pipelines are up to date" in repro.stdout
    gate = mlgate("gate", cwd=root, env=env)
    assert gate.returncode == 0 and "gate: pass" in gate.stdout, gate.stdout + gate.stderr

    workflows = sorted((root / ".github/workflows").glob("*.yml"))
    assert len(workflows) == 7
    tool_env = {k: v for k, v in env.items() if k not in ("GH_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    zizmor = [_tool("zizmor"), "--offline", "--strict-collection", "--format", "json"]
    found = run([*zizmor, *workflows], cwd=root, env=tool_env, check=False)
    assert found.returncode == 0 and json.loads(found.stdout) == [], found.stdout
    schema = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    run([*schema, *workflows], cwd=root, env=tool_env)
    for path in workflows:
        for check in (
            least_privilege,
            pinned,
            no_expressions,
            drops_credentials,
            secrets_in_environments,
            has_timeouts,
            full_history,
        ):
            check(path)
        assert _actionlint(path, tool_env) == [], path.name
