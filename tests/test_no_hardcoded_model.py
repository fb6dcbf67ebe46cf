"""The model is what dvc.yaml declares: mlgate's code names no model path of its own."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_reference_model_path_in_mlgate_itself() -> None:
    shipped = [
        *(ROOT / "src" / "mlgate").rglob("*"),
        *(ROOT / ".github" / "workflows").glob("*"),
        ROOT / "action.yml",
    ]
    offenders = [
        str(p.relative_to(ROOT))
        for p in shipped
        if p.is_file()
        and p.suffix in (".py", ".yml", ".yaml", ".md", ".txt", ".toml", ".json")
        and "models/model.skops" in p.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []
