"""Builders for the metrics parity tests: DVC projects laid out as their users lay them out.

Each project is a real git repository with a real ``dvc init``. Files a stage produces are
written by ``materialise.py``, a tiny stage script that copies text out of ``spec.json``, so a
test states what every output holds and ``dvc repro`` produces it (and writes ``dvc.lock``,
caches the outputs and gitignores them) exactly as in a user's project.

The comparisons parse both JSON outputs with Python's ``json`` (DVC writes ``NaN`` and
``Infinity`` literally) and compare them after :func:`canon`, which keeps what the text
shows: ``1``, ``1.0`` and ``true`` differ, ``NaN`` equals ``NaN``.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import git, mlgate, run

#: Bounded waits: a DVC command here takes about a second.
TIMEOUT = 180

MATERIALISE = '''\
"""Stage script: write the files spec.json lists (path -> text) under the paths given."""

import json
import sys
from pathlib import Path

root = Path(__file__).resolve().parent
spec = json.loads((root / "spec.json").read_text())
wanted = [w.rstrip("/") for w in sys.argv[1:]]
for rel, text in spec.items():
    if wanted and not any(rel == w or rel.startswith(w + "/") for w in wanted):
        continue
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
'''

#: A stage's deps when it runs materialise.py from the repository root.
DEPS = ["materialise.py", "spec.json"]


def text(value: Any) -> str:
    """A file's text: strings as they are, anything else as JSON (NaN/Infinity literally)."""
    return value if isinstance(value, str) else json.dumps(value)


def write_files(root: Path, files: Mapping[str, Any]) -> None:
    """Write each ``path: content`` (see :func:`text`); ``None`` deletes the file."""
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text(content))


def dvc_yaml(doc: Mapping[str, Any]) -> str:
    """``dvc.yaml`` text from a mapping (block style, keys in the order given)."""
    return yaml.safe_dump(dict(doc), sort_keys=False)


def dvc_project(
    root: Path, env: Mapping[str, str], *, remote: Path | None = None, files: Mapping[str, Any] = {}
) -> Path:
    """``git init`` + ``dvc init`` + materialise.py (+ a default local remote), committed."""
    root.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=root, env=env)
    dvc(root, env, "init", "-q")
    write_files(root, {"materialise.py": MATERIALISE, "spec.json": "{}", **files})
    if remote is not None:
        dvc(root, env, "remote", "add", "-d", "store", str(remote))
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "dvc init", cwd=root, env=env)
    return root


def snapshot(
    root: Path,
    env: Mapping[str, str],
    tag: str,
    *,
    files: Mapping[str, Any] = {},
    produce: Mapping[str, Any] | None = None,
    repro: bool = True,
    push: bool = False,
) -> str:
    """Write ``files``, let the stages ``produce`` theirs (``dvc repro``), commit, tag ``tag``.

    ``produce`` replaces spec.json: ``{path: content}`` that materialise.py writes.
    Returns the commit's SHA.
    """
    write_files(root, files)
    if produce is not None:
        (root / "spec.json").write_text(json.dumps({k: text(v) for k, v in produce.items()}))
    if repro:  # every dvc.yaml's stages (a bare `dvc repro` runs ./dvc.yaml's only)
        dvc(root, env, "repro", "-q", "--all-pipelines")
    if push:
        dvc(root, env, "push", "-q")
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "--allow-empty", "-m", tag, cwd=root, env=env)
    git("tag", tag, cwd=root, env=env)
    return git("rev-parse", "HEAD", cwd=root, env=env)


def dvc(
    root: Path, env: Mapping[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run(["dvc", *args], cwd=root, env=env, check=check, timeout=TIMEOUT)


def tracked(root: Path, env: Mapping[str, str]) -> set[str]:
    """The paths git tracks at HEAD."""
    return set(git("ls-files", cwd=root, env=env).splitlines())


# -- comparing with DVC ----------------------------------------------------------------------
def canon(obj: Any) -> Any:
    """Parsed JSON -> a form whose ``==`` is "prints the same" (NaN-aware, type-exact).

    >>> canon({"a": [1, 1.0, True, float("nan")]})
    {'a': [('int', 1), ('float', '1.0'), ('bool', True), ('float', 'nan')]}
    """
    if isinstance(obj, dict):
        return {k: canon(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [canon(v) for v in obj]
    if isinstance(obj, bool):
        return ("bool", obj)
    if isinstance(obj, int):
        return ("int", obj)
    if isinstance(obj, float):
        return ("float", "nan" if math.isnan(obj) else repr(obj))
    return obj


def parse(stdout: str, who: str) -> Any:
    try:
        return json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"{who} printed no JSON ({exc}):\n{stdout}") from None


def dvc_diff(root: Path, env: Mapping[str, str], *args: str) -> Any:
    """``dvc metrics diff ARGS --json``, parsed (DVC itself exits 0 when files fail to load)."""
    proc = dvc(root, env, "metrics", "diff", *args, "--json")
    return parse(proc.stdout, f"dvc metrics diff {' '.join(args)}")


def mlgate_diff(
    root: Path, env: Mapping[str, str], *args: str
) -> tuple[Any, subprocess.CompletedProcess[str]]:
    """``mlgate diff ARGS --json`` (exit 0 required), parsed, and the process (for stderr)."""
    proc = mlgate("diff", *args, "--json", cwd=root, env=env, timeout=TIMEOUT)
    assert proc.returncode == 0, (
        f"mlgate diff {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return parse(proc.stdout, f"mlgate diff {' '.join(args)}"), proc


def assert_same(ours: Any, theirs: Any, what: str) -> None:
    if canon(ours) != canon(theirs):
        raise AssertionError(
            f"{what}: mlgate and DVC differ\n"
            f"--- dvc\n{json.dumps(theirs, indent=1, sort_keys=True)}\n"
            f"--- mlgate\n{json.dumps(ours, indent=1, sort_keys=True)}"
        )


def assert_parity(root: Path, env: Mapping[str, str], *revs: str) -> dict[str, Any]:
    """``mlgate diff REVS --json`` equals DVC's, with and without ``--all``.

    Returns DVC's outputs (``plain`` and ``all``) for the test to check what it expects
    of DVC, and mlgate's ``stderr`` (both runs).
    """
    out: dict[str, Any] = {"stderr": ""}
    for mode, extra in (("plain", ()), ("all", ("--all",))):
        theirs = dvc_diff(root, env, *revs, *extra)
        ours, proc = mlgate_diff(root, env, *revs, *extra)
        assert_same(ours, theirs, f"diff {' '.join((*revs, *extra))}")
        out[mode] = theirs
        out["stderr"] += proc.stderr
    return out


def warned(stderr: str, path: str, *revision_names: str) -> bool:
    """Whether a line of ``stderr`` names ``path`` and one of ``revision_names``."""
    return any(
        path in line and any(name in line for name in revision_names)
        for line in stderr.splitlines()
    )


# -- DVC's cache -----------------------------------------------------------------------------
def cache_object(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def drop_cached(root: Path, env: Mapping[str, str], rev: str, path: str) -> Path:
    """Delete from the local cache the object that holds ``path`` at ``rev`` (per dvc.lock).

    ``path`` is a cached output or a file inside a cached directory output (then the file's
    object goes and the directory's ``.dir`` manifest stays). Returns the deleted object.
    """
    lock = yaml.safe_load(git("show", f"{rev}:dvc.lock", cwd=root, env=env))
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            md5 = out["md5"]
            if out["path"] == path:
                victim = cache_object(root, md5)
            elif path.startswith(out["path"] + "/") and md5.endswith(".dir"):
                rel = path[len(out["path"]) + 1 :]
                manifest = json.loads(cache_object(root, md5).read_text())
                victim = cache_object(root, next(e["md5"] for e in manifest if e["relpath"] == rel))
            else:
                continue
            victim.unlink()
            return victim
    raise AssertionError(f"{path} is no cached output at {rev}")
