"""The reference project ships inside the package (mlgate/templates/project)."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlgate.project import PROJECT_FILES, library_deps, project_file, write_reference
from tests.conftest import ROOT


def test_the_packaged_project_is_the_repositorys_own() -> None:
    """One source of truth: the top-level files; `.ci/sync-project` refreshes the copies."""
    differ = [name for name in PROJECT_FILES if project_file(name) != (ROOT / name).read_bytes()]
    assert not differ, f"run .ci/sync-project: the packaged copies of {differ} are out of date"
    packaged = ROOT / "src/mlgate/templates/project"
    shipped = {p.relative_to(packaged).as_posix() for p in packaged.rglob("*") if p.is_file()}
    assert shipped == set(PROJECT_FILES), "every packaged file is listed (and checked) once"


def test_library_deps_are_what_dvc_yaml_names() -> None:
    deps = library_deps(project_file("dvc.yaml").decode())
    assert deps[:2] == ["src/mlgate/ml", "src/mlgate/data"]
    assert "src/mlgate/ct/batches.py" in deps and len(deps) == len(set(deps))


def test_write_reference(tmp_path: Path) -> None:
    write_reference(tmp_path)
    for name in PROJECT_FILES:
        assert (tmp_path / name).read_bytes() == (ROOT / name).read_bytes()
    for dep in library_deps((tmp_path / "dvc.yaml").read_text()):
        assert (tmp_path / dep).exists(), dep
    assert not list(tmp_path.rglob("__pycache__"))
    assert "/mlgate-remote/" in (tmp_path / ".gitignore").read_text().splitlines()
    stages = yaml.safe_load((tmp_path / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["validate", "train", "evaluate"]
