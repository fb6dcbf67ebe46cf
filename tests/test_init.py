"""`mlgate init`: the workflows it writes are mlgate's own, byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mlgate.scaffold import WORKFLOWS, workflow_templates
from mlgate.survey import MLGATE_FROM_GIT
from tests.conftest import ROOT, copy_project, git, mlgate

PARAMS_WITHOUT_GATE = "train:\n  C: 1.0  # keep this comment\n"


def test_the_repository_uses_the_shipped_templates() -> None:
    """One source of truth: src/mlgate/templates/workflows is what .github/workflows holds.

    After editing a template, run `mlgate init --force` at the repository root to copy it.
    """
    for path, text in workflow_templates().items():
        assert (ROOT / path).read_text(encoding="utf-8") == text, (
            f"{path}: run `mlgate init --force`"
        )


@pytest.fixture
def project(tmp_path: Path, env: dict[str, str]) -> Path:
    """A git + DVC project without mlgate's files (params.yaml without a gate)."""
    proj = copy_project(tmp_path / "project")
    (proj / "params.yaml").write_text(PARAMS_WITHOUT_GATE)
    git("init", "-q", "-b", "main", cwd=proj, env=env)
    return proj


def test_init_writes_everything(project: Path, env: dict[str, str]) -> None:
    proc = mlgate("init", cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr
    for name in WORKFLOWS:
        written = project / ".github" / "workflows" / name
        if name == "ct.yml":  # no ct: section in params.yaml
            assert not written.exists()
            assert "no `ct:` section" in proc.stderr and "--ct" in proc.stderr
            continue
        assert written.read_bytes() == (ROOT / ".github" / "workflows" / name).read_bytes()
        assert re.search(rf"^created +\.github/workflows/{name}$", proc.stdout, re.M)
    assert (project / "deploy" / "README.md").is_file()
    # no index has mlgate: its git repository at one commit, placeholders said out loud
    requirements = (project / "requirements.txt").read_text()
    lines = [line for line in requirements.splitlines() if not line.startswith("#")]
    assert lines == [MLGATE_FROM_GIT], "no version pin that no index has"
    assert "requirements.txt: replace OWNER and COMMIT_SHA" in proc.stderr
    assert "before tagging a release: run `dvc repro && dvc push` on the commit" in proc.stdout

    params = (project / "params.yaml").read_text()
    assert params.startswith(PARAMS_WITHOUT_GATE), "the user's params and comments stay"
    gate = yaml.safe_load(params)["gate"]
    assert gate["metrics_file"] == "metrics/scores.json"
    # well-known scores first, each at today's value minus a margin
    assert [r["metric"] for r in gate["rules"]] == ["roc_auc", "f1", "accuracy"]
    scores = json.loads((project / "metrics/scores.json").read_text())
    for rule in gate["rules"]:
        assert 0.9 * scores[rule["metric"]] < rule["min"] < scores[rule["metric"]]
        assert 0 < rule["max_regression"] < 0.05
    assert re.search(r"^appended +params.yaml", proc.stdout, re.M)

    # DVC must recheck hashes on download from every remote
    config = (project / ".dvc" / "config").read_text()
    assert "verify = true" in config.lower()

    # a second run changes nothing
    again = mlgate("init", cwd=project, env=env)
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stdout and "appended" not in again.stdout
    assert "nothing to write" in again.stdout
    assert (project / "params.yaml").read_text() == params


def test_init_never_touches_an_existing_gate(project: Path, env: dict[str, str]) -> None:
    text = "gate:\n  rules:\n    - metric: f1\n      min: 0.5\n"
    (project / "params.yaml").write_text(text)
    proc = mlgate("init", cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (project / "params.yaml").read_text() == text
    assert re.search(r"^kept +params.yaml", proc.stdout, re.M)


def test_init_refuses_to_overwrite_changes_without_force(
    project: Path, env: dict[str, str]
) -> None:
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "pr.yml").write_text("name: mine\n")
    proc = mlgate("init", cwd=project, env=env)
    assert proc.returncode == 2
    assert ".github/workflows/pr.yml" in proc.stderr and "--force" in proc.stderr
    assert (workflows / "pr.yml").read_text() == "name: mine\n"
    assert not (workflows / "release.yml").exists(), "nothing is written when it refuses"
    assert "gate" not in yaml.safe_load((project / "params.yaml").read_text())

    forced = mlgate("init", "--force", cwd=project, env=env)
    assert forced.returncode == 0, forced.stderr
    assert re.search(r"^overwritten +\.github/workflows/pr.yml$", forced.stdout, re.M)
    assert (workflows / "pr.yml").read_bytes() == (ROOT / ".github/workflows/pr.yml").read_bytes()


def test_init_needs_git_and_dvc(tmp_path: Path, env: dict[str, str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = mlgate("init", cwd=plain, env=env)
    assert proc.returncode == 2 and "git" in proc.stderr

    git("init", "-q", cwd=plain, env=env)
    proc = mlgate("init", cwd=plain, env=env)
    assert proc.returncode == 2 and "dvc init" in proc.stderr
    assert not (plain / ".github").exists()


def test_init_adds_mlgate_to_the_projects_requirements(project: Path, env: dict[str, str]) -> None:
    """The workflows install requirements.txt: the user's lines stay, mlgate is appended."""
    (project / "requirements.txt").write_text("scikit-learn\n")
    proc = mlgate("init", cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^appended +requirements.txt +\(mlgate @ git\+https://", proc.stdout, re.M)
    text = (project / "requirements.txt").read_text()
    assert text.startswith("scikit-learn\n") and text.endswith(f"\n{MLGATE_FROM_GIT}\n")
    again = mlgate("init", cwd=project, env=env)
    assert re.search(r"^kept +requirements.txt", again.stdout, re.M)
    assert (project / "requirements.txt").read_text() == text
    assert "replace OWNER and COMMIT_SHA" in again.stderr, "until the placeholders are filled"

    # pip's hash-checking mode: an unhashed line would break the install, so only say it
    pinned = "scikit-learn==1.5.2 --hash=sha256:" + "0" * 64 + "\n"
    (project / "requirements.txt").write_text(pinned)
    proc = mlgate("init", cwd=project, env=env)
    assert "requirements.txt: pins hashes" in proc.stderr
    assert (project / "requirements.txt").read_text() == pinned


def test_init_mlgate_requirement_from_an_index(project: Path, env: dict[str, str]) -> None:
    """`--mlgate`: the line once an index has mlgate (or a git URL with a real commit)."""
    proc = mlgate("init", "--mlgate", "mlgate==0.2.0", cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr
    text = (project / "requirements.txt").read_text()
    assert text.endswith("\nmlgate==0.2.0\n") and "OWNER" not in text
    assert "COMMIT_SHA" not in proc.stderr
