"""The layers of the README's architecture section, as import-linter contracts
(``[tool.importlinter]`` in pyproject.toml), hold for the code, and a wrong-way import breaks
them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(pythonpath)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_code_keeps_every_contract() -> None:
    proc = _lint(ROOT, ROOT / "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_a_renderer_importing_the_gate_breaks_the_build(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "src" / "mlgate",
        tmp_path / "mlgate",
        ignore=shutil.ignore_patterns("__pycache__", "templates"),
    )
    escape = tmp_path / "mlgate" / "report" / "escape.py"
    escape.write_text(escape.read_text() + "\nfrom mlgate.gate import evaluate_revisions\n")
    proc = _lint(tmp_path, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "report renders values: no gate, feature, forge or CLI BROKEN" in " ".join(
        proc.stdout.split()
    )
    assert "mlgate.report.escape -> mlgate.gate" in proc.stdout
