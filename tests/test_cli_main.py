from __future__ import annotations

import json
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


def test_diff_start_up_stays_lean(tmp_path: Path, env: dict[str, str]) -> None:
    """`mlgate diff --json` (parse cache warm) loads none of the modules it once paid for."""
    from tests.gate_support import metrics_repo

    root = metrics_repo(tmp_path / "repo", env)
    (root / "metrics" / "scores.json").write_text('{"accuracy": 0.5}')
    assert mlgate("diff", "HEAD", "--json", cwd=root, env=env).returncode == 0  # fills the cache
    code = (
        "import io, sys\n"
        "from mlgate.cli._main import main\n"
        "sys.stdout = io.StringIO()\n"
        "code = main(['diff', 'HEAD', '--json'])\n"
        "sys.stdout = sys.__stdout__\n"
        "slow = ('inspect', 'dataclasses', 'pkgutil', 'shutil', 'traceback', 'yaml', 'rich',\n"
        "        'subprocess', 'threading')\n"
        "print(code, sorted(m for m in slow if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    assert proc.stdout.strip() == "0 []", proc.stderr


def test_command_names_and_typos(tmp_path: Path, env: dict[str, str]) -> None:
    from mlgate.cli._main import _command_names, _commands

    names = _command_names()
    assert "diff" in names and "pull_model" in names and not any(n.startswith("_") for n in names)
    assert list(_commands("pull-model")) == ["pull-model"]
    assert _commands("pull_model") == {} and _commands("nosuch") == {} and _commands("_main") == {}
    for typo in ("pull_model", "nosuch"):
        proc = mlgate(typo, cwd=tmp_path, env=env)
        assert proc.returncode == 2 and "invalid choice" in proc.stderr
    wide = mlgate("diff", "--help", cwd=tmp_path, env={**env, "COLUMNS": "200"}).stdout
    narrow = mlgate("diff", "--help", cwd=tmp_path, env={**env, "COLUMNS": "50"}).stdout
    assert max(map(len, wide.splitlines())) > 80 >= 50 >= max(map(len, narrow.splitlines()))


def test_dvcignore_answer_is_cached_by_content(tmp_path: Path, env: dict[str, str]) -> None:
    """A nested dvc.yaml that .dvcignore excludes stays excluded when the answer comes from
    the parse cache (no pathspec import), and a changed .dvcignore is a new answer."""
    from tests.conftest import git

    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "dvc.yaml").write_text("metrics:\n  - m.json\n")
    (root / "sub" / "dvc.yaml").write_text("metrics:\n  - s.json\n")
    (root / "m.json").write_text('{"a": 1}')
    (root / "sub" / "s.json").write_text('{"b": 1}')
    (root / ".dvcignore").write_text("/sub/\n")
    git("init", "-q", "-b", "main", cwd=root, env=env)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "one", cwd=root, env=env)
    (root / "m.json").write_text('{"a": 2}')
    (root / "sub" / "s.json").write_text('{"b": 2}')
    for _ in range(2):  # cold, then warm
        out = mlgate("diff", "HEAD", "--json", cwd=root, env=env, check=True).stdout
        assert list(json.loads(out)) == ["m.json"]
    code = (
        "import io, sys\n"
        "from mlgate.cli._main import main\n"
        "sys.stdout = io.StringIO()\n"
        "main(['diff', 'HEAD', '--json'])\n"
        "print('pathspec' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    assert proc.stderr.strip() == "False"
    (root / ".dvcignore").write_text("# nothing ignored\n")
    out = mlgate("diff", "HEAD", "--json", cwd=root, env=env, check=True).stdout
    assert list(json.loads(out)) == ["m.json", "sub/s.json"]
