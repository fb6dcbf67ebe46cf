"""Stage scripts on bad params: exit 2 with one line naming the key, no traceback."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import copy_project, run


def test_bad_param_is_one_line_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    proj = copy_project(tmp_path / "p")
    params = proj / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0 ", 'C: "ten" '))
    (proj / "data/prepared").mkdir(parents=True)
    proc = run(["python", "stages/train.py"], cwd=proj, env=env, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'train: error: params.yaml: train.C: expected a number, got "ten"'
