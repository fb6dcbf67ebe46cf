"""Read the metrics files a DVC project declares, at any revision, strictly.

Which files are metrics comes from ``dvc.yaml`` at that revision: every ``metrics:`` entry
of every stage (relative to the stage's ``wdir``) and the top-level ``metrics:`` list, as
DVC does (https://dvc.org/doc/user-guide/project-structure/dvcyaml-files#metrics).
Values are flattened like DVC's ``flatten_dict(..., reducer="dot")``: nested keys are joined
with dots, empty mappings vanish, and (as DVC's ``_extract_metrics``) numbers, text and
booleans are kept while lists and nulls are dropped. Unlike DVC, a non-finite number (NaN,
infinity) is an error naming the revision, file and key: a gate must never compare against
NaN. The gate itself insists on a real number for every metric a rule uses.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from mlgate.errors import ConfigError, DataError
from mlgate.fileio import loads_json
from mlgate.git import WORKTREE, Repo
from mlgate.metrics.cache import ParseCache

DVC_YAML = "dvc.yaml"
PARAMS_FILE = "params.yaml"  # as mlgate.config.PARAMS_FILE; importing that loads PyYAML


def loads_yaml(text: str | bytes, source: str) -> Any:
    """:func:`mlgate.config.loads_yaml`, imported only when some YAML must really be parsed."""
    from mlgate.config import loads_yaml as load

    return load(text, source)


#: A flat metrics file: dotted key -> value (numbers, as in DVC's JSON, or text/booleans).
Flat = dict[str, Any]


def source_name(rev: str, path: str) -> str:
    """How messages name a file at a revision: ``main:metrics/scores.json``."""
    return path if rev == WORKTREE else f"{rev}:{path}"


def declared_metrics(dvc_yaml: bytes | None, source: str = DVC_YAML) -> list[str]:
    """Repository-relative paths of the metrics files declared in a ``dvc.yaml`` text."""
    if dvc_yaml is None:
        return []
    doc = loads_yaml(dvc_yaml, source)
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    paths: list[str] = []
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise ConfigError(f"{source}: stages: expected a mapping")
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        body = stage.get("do", stage)  # foreach/matrix stages keep their outputs under `do`
        if not isinstance(body, dict):
            continue
        wdir = body.get("wdir", stage.get("wdir", ".")) or "."
        paths.extend(_entries(body.get("metrics"), f"{source}: stages.{name}.metrics", wdir))
    paths.extend(_entries(doc.get("metrics"), f"{source}: metrics", "."))
    out: list[str] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def _entries(value: Any, where: str, wdir: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of paths")
    out = []
    for item in value:
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item))
        if not isinstance(item, str):
            raise ConfigError(f"{where}: expected a path, got {item!r}")
        if "${" in item or "${" in str(wdir):
            continue  # templated (vars/foreach): not resolvable without DVC itself
        out.append(posixpath.normpath(posixpath.join(str(wdir), item)))
    return out


def parse_document(data: bytes, source: str) -> Any:
    """Parse a JSON, YAML or TOML file by its extension (JSON strictly, YAML safely)."""
    lower = source.lower()
    if lower.endswith(".json"):
        return loads_json(data, source)
    if lower.endswith(".toml"):
        import tomllib  # rare in DVC projects; its import compiles regexes

        try:
            return tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{source}: invalid TOML: {exc}") from exc
    return loads_yaml(data, source)


def flatten(obj: Any, source: str, *, metrics: bool = True) -> dict[str, Any]:
    """Flatten nested mappings with dotted keys, exactly as DVC names metrics.

    >>> flatten({"a": {"b": 1, "c": {}}, "d": 2.5, "e": [1], "f": None}, "m.json")
    {'a.b': 1, 'd': 2.5}

    With ``metrics`` (metrics files) lists and nulls are dropped as DVC drops them;
    without (params) every leaf is kept. Non-finite numbers are always an error.
    """
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise DataError(f"{source}: expected a mapping of metrics, got {type(obj).__name__}")
    out: dict[str, Any] = {}
    _flatten_into(out, obj, "", source, metrics)
    return out


def _flatten_into(
    out: dict[str, Any], obj: Mapping[Any, Any], prefix: str, source: str, metrics: bool
) -> None:
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            _flatten_into(out, value, name, source, metrics)
            continue
        if metrics and (value is None or not isinstance(value, int | float | str)):
            continue  # DVC: "Could not parse ... metric due to its unsupported type"
        if isinstance(value, float) and not math.isfinite(value):
            raise DataError(f"{source}: {name}: expected a finite number, got {value}")
        if name in out:
            raise DataError(f"{source}: {name}: the key appears twice once nested keys are joined")
        out[name] = value


def is_number(value: Any) -> bool:
    """A real number (booleans are not), as a gate rule needs."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_number(value: Any, name: str, source: str) -> float:
    """``value`` if it is a finite number, else a DataError naming ``source`` and ``name``."""
    if not is_number(value):
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        raise DataError(f"{source}: {name}: expected a number, got {shown}")
    if not math.isfinite(value):
        raise DataError(f"{source}: {name}: expected a finite number, got {value}")
    return float(value)


def parse_metrics(data: bytes, source: str) -> Flat:
    """One metrics file's bytes -> flat ``{dotted key: value}``."""
    return flatten(parse_document(data, source), source)


def read_revision(
    repo: Repo,
    rev: str,
    *,
    label: str | None = None,
    params: bool = False,
    hint: Sequence[str] = (),
    cache: ParseCache | None = None,
) -> tuple[dict[str, Flat], dict[str, Any] | None]:
    """Metrics (and, with ``params``, flat params) of ``rev`` in as few git calls as can be.

    ``dvc.yaml``, ``params.yaml`` and the ``hint`` paths (say, the metrics files the other
    revision declares) come from one ``git cat-file --batch``; only declared files missing
    from that batch need a second one. A ``cache`` skips parsing YAML seen before.
    """
    name = label or rev
    wanted = [DVC_YAML, *([PARAMS_FILE] if params else []), *hint]
    blobs = repo.show_many(rev, list(dict.fromkeys(wanted)))
    dvc_yaml = blobs[DVC_YAML]
    if dvc_yaml is None:
        files: list[str] = []
    elif cache is None:
        files = declared_metrics(dvc_yaml, source_name(name, DVC_YAML))
    else:
        files = cache.get_or_parse(
            "dvc.yaml", dvc_yaml, lambda b: declared_metrics(b, source_name(name, DVC_YAML))
        )
    missing = [p for p in files if p not in blobs]
    if missing:
        blobs.update(repo.show_many(rev, missing))
    metrics = {
        path: parse_metrics(data, source_name(name, path))
        for path in files
        if (data := blobs[path]) is not None
    }
    flat_params: dict[str, Any] | None = None
    if params:
        raw = blobs[PARAMS_FILE]
        source = source_name(name, PARAMS_FILE)

        def parse(b: bytes) -> dict[str, Any]:
            return flatten(loads_yaml(b, source), source, metrics=False)

        if raw is None:
            flat_params = {}
        else:
            flat_params = parse(raw) if cache is None else cache.get_or_parse("params", raw, parse)
    return metrics, flat_params


def read_metrics(repo: Repo, rev: str, *, label: str | None = None) -> dict[str, Flat]:
    """Every declared metrics file present at ``rev``: ``{path: {dotted key: value}}``.

    ``label`` names the revision in messages (defaults to ``rev``).
    """
    return read_revision(repo, rev, label=label)[0]


def read_params(repo: Repo, rev: str, *, label: str | None = None) -> dict[str, Any]:
    """``params.yaml`` at ``rev`` flattened like DVC's params diff (any YAML scalar or list)."""
    data = repo.show(rev, PARAMS_FILE)
    if data is None:
        return {}
    source = source_name(label or rev, PARAMS_FILE)
    return flatten(loads_yaml(data, source), source, metrics=False)
