"""Optional extras: a command whose extra is missing says which one, in one line (exit 2)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from mlgate.errors import MissingExtra
from mlgate.extras import EXTRAS, has, missing
from tests.conftest import ROOT

#: the modules of an extra made unimportable in a child interpreter (a None in sys.modules)
_BLOCK = "import sys\nfor name in {names!r}: sys.modules[name] = None\n"


def _run_without(names: tuple[str, ...], code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK.format(names=names) + code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_extras_match_pyproject() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(EXTRAS) <= set(extras)
    assert extras["all"] == ["mlgate[serve,demo]"]
    assert "mlgate[all]" in extras["dev"]  # CI and the README's test command install it all
    base = " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    for name in ("starlette", "uvicorn", "matplotlib", "prometheus"):
        assert name not in base


def test_installed_here() -> None:
    assert has("serve") and has("demo") and missing("serve") == ()


def test_message_names_the_extra() -> None:
    err = MissingExtra(command="mlgate serve", extra="serve", modules=("starlette",))
    assert str(err) == (
        "mlgate serve needs the serve extra (starlette is not installed): "
        "pip install 'mlgate[serve]'"
    )
    assert err.exit_code == 2


def test_serve_without_its_extra_exits_2_in_one_line(tmp_path: Path) -> None:
    proc = _run_without(
        EXTRAS["serve"],
        "from mlgate.cli._main import main\nsys.exit(main(['serve']))",
        tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'mlgate[serve]'" in lines[0], proc.stderr


def test_base_commands_do_not_import_the_extras(tmp_path: Path) -> None:
    code = (
        "from mlgate.cli._main import build_parser\n"
        "build_parser()\n"
        "import mlgate.gate, mlgate.report.markdown, mlgate.deploy.release, mlgate.ct.cycle\n"
        "print('ok')"
    )
    proc = _run_without(EXTRAS["serve"] + EXTRAS["demo"], code, tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


_CHART = """
import json
from pathlib import Path
from rich.console import Console
from mlgate.demo.sandbox import Sandbox
from mlgate.demo.story import _Story
from mlgate.git import Repo
from mlgate.ct.monitoring import MONITORING_PATH, Record
box = Sandbox(Path("box"))
(box.project / "metrics").mkdir(parents=True)
record = Record("t", "v1.0.0", "c", "batch_001.csv", 10, {"f1": 0.9}).to_json()
(box.project / MONITORING_PATH).write_text(json.dumps({"schema_version": 1, "records": [record]}))
_Story(box, Repo(box.project), Console(), {}).chart()
print("png" if (box.root / "production-metrics.png").exists() else "no png")
"""


def test_demo_chart_falls_back_to_the_terminal_without_matplotlib(tmp_path: Path) -> None:
    proc = _run_without(EXTRAS["demo"], _CHART, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "batch_001" in proc.stdout and "f1 0.900" in proc.stdout, proc.stdout
    assert "pip install 'mlgate[demo]' for a PNG" in proc.stdout
    assert proc.stdout.strip().endswith("no png")
