from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import BIN, mlgate


def test_help_and_version(tmp_path: Path, env: dict[str, str]) -> None:
    assert "COMMAND" in mlgate("--help", cwd=tmp_path, env=env, check=True).stdout
    assert mlgate("--version", cwd=tmp_path, env=env, check=True).stdout.startswith("mlgate ")


def test_start_up_imports_nothing_heavy() -> None:
    code = (
        "import sys; from mlgate.cli._main import build_parser; build_parser();"
        "heavy = [m for m in ('dvc', 'sklearn', 'pandas', 'numpy', 'pyarrow', 'fastapi', 'rich')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert (BIN / "mlgate").exists()
