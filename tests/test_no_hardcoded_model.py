"""The model is what dvc.yaml declares: mlgate's code names no model path of its own.

The reference projects' own files (shipped as package data under templates/project/ and
templates/project-regression/, and the README `mlgate new` writes for them) are the
exception: those projects declare their model.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_reference_model_path_in_mlgate_itself() -> None:
    shipped = [
        *(ROOT / "src" / "mlgate").rglob("*"),
        *(ROOT / ".github" / "workflows").glob("*"),
        ROOT / "action.yml",
    ]
    reference = (
        ROOT / "src" / "mlgate" / "templates" / "project",
        ROOT / "src" / "mlgate" / "templates" / "project-regression",
        ROOT / "src" / "mlgate" / "templates" / "new",
    )
    offenders = [
        str(p.relative_to(ROOT))
        for p in shipped
        if p.is_file()
        and not any(p.is_relative_to(r) for r in reference)
        and p.suffix in (".py", ".yml", ".yaml", ".md", ".txt", ".toml", ".json")
        and "models/model.skops" in p.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []
