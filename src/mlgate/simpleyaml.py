"""The block-style YAML that mlgate writes (pointers), parsed exactly as PyYAML would, or not at all.

``yaml.load`` spends about 0.2 ms per small file building and constructing nodes in Python;
``mlgate history`` reads one pointer per deployment (a thousand of them). :func:`load`
handles the plain shape ``yaml.safe_dump(..., default_flow_style=False)`` produces: nested
block mappings, block sequences, plain and single-quoted one-line scalars, comment lines.
Plain scalars are resolved by PyYAML's own implicit resolvers and constructors (YAML 1.1:
``yes`` is true, ``1_000`` is 1000, ``2026-01-31`` a date), so a value means what it would
mean through :func:`mlgate.config.loads_yaml`. Anything else (flow collections, anchors,
tags, block scalars, tabs, double quotes, comments after a value, repeated keys, odd
indentation) returns :data:`NOT_SIMPLE`: the caller parses it with PyYAML, which also
words the error when there is one.
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: Returned when the text is not in the simple subset (then use the full YAML loader).
NOT_SIMPLE: Any = object()

_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.+/-]*):(?: (.+))?")
_PLAIN = re.compile(r"[A-Za-z0-9_./+]([A-Za-z0-9_./+@-]*)|-[A-Za-z0-9_./+][A-Za-z0-9_./+@-]*")
_STR = "tag:yaml.org,2002:str"
#: What PyYAML's reader refuses (``yaml.reader.Reader.NON_PRINTABLE``) or reads as a line
#: break (NEL, LS, PS): left to PyYAML.
_UNUSUAL = re.compile(
    "[^\x0a\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]"
)


class _NotSimple(Exception):
    pass


_Token = tuple[int, bool, "str | None", "str | None"]  # column, after "- ", key, value


def load(text: str | bytes) -> Any:
    """The document in ``text`` as PyYAML's safe loader reads it, or :data:`NOT_SIMPLE`."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        tokens = _tokens(text)
        if not tokens or tokens[0][0] != 0 or tokens[0][1]:
            raise _NotSimple
        value, end = _mapping(tokens, 0, 0)
        if end != len(tokens):
            raise _NotSimple
        return value
    except (_NotSimple, UnicodeDecodeError):
        return NOT_SIMPLE


def _tokens(text: str) -> list[_Token]:
    if text.isascii():  # the usual case, checked at C speed
        if not text.replace("\n", "").isprintable():
            raise _NotSimple  # tabs, CR, control characters
    elif _UNUSUAL.search(text) or text.startswith("\ufeff"):
        raise _NotSimple  # the same, a BOM, unusual line breaks
    out: list[_Token] = []
    for raw in text.split("\n"):
        line = raw.rstrip(" ")
        rest = line.lstrip(" ")
        if not rest or rest.startswith("#"):
            continue
        col = len(line) - len(rest)
        dash = rest.startswith("- ")
        if dash:
            rest, col = rest[2:], col + 2
            if rest.startswith((" ", "#")):
                raise _NotSimple
        elif rest.startswith(("-", "...", "%")):  # "-" alone, "---", directives
            raise _NotSimple
        match = _KEY.fullmatch(rest)
        if match is not None:
            out.append((col, dash, match.group(1), match.group(2)))
        elif dash:
            out.append((col, dash, None, rest))
        else:
            raise _NotSimple
    return out


def _mapping(tokens: list[_Token], i: int, col: int) -> tuple[dict[Any, Any], int]:
    """The mapping whose keys sit at ``col`` from token ``i`` (which may follow a ``- ``)."""
    out: dict[Any, Any] = {}
    first = True
    while i < len(tokens):
        c, dash, key, val = tokens[i]
        if c < col or (dash and not first):
            break
        if c > col or key is None:
            raise _NotSimple
        name = _scalar(key)
        if not isinstance(name, str) or name in out:
            raise _NotSimple  # keys of other types, repeated keys: PyYAML decides
        first = False
        i += 1
        if val is not None:
            out[name] = _scalar(val)
            continue
        nxt = tokens[i] if i < len(tokens) else None
        if nxt is not None and nxt[1] and nxt[0] - 2 >= col:
            out[name], i = _sequence(tokens, i, nxt[0])
        elif nxt is not None and nxt[0] > col and not nxt[1]:
            out[name], i = _mapping(tokens, i, nxt[0])
        else:
            out[name] = None
    return out, i


def _sequence(tokens: list[_Token], i: int, col: int) -> tuple[list[Any], int]:
    """Items ``- ...`` whose content starts at ``col``."""
    out: list[Any] = []
    while i < len(tokens) and tokens[i][1] and tokens[i][0] == col:
        _, _, key, val = tokens[i]
        if key is None:
            assert val is not None
            out.append(_scalar(val))
            i += 1
            if i < len(tokens) and tokens[i][0] > col - 2 and not tokens[i][1]:
                raise _NotSimple  # a continuation of a scalar item
        else:
            item, i = _mapping(tokens, i, col)
            out.append(item)
    return out, i


def _scalar(raw: str) -> Any:
    if raw.startswith("'"):
        inner = raw[1:-1]
        if len(raw) < 2 or not raw.endswith("'") or "'" in inner.replace("''", ""):
            raise _NotSimple
        return inner.replace("''", "'")
    return _plain(raw)


@functools.lru_cache(maxsize=4096)  # keys and many values repeat from one pointer to the next
def _plain(raw: str) -> Any:
    if not _PLAIN.fullmatch(raw):
        raise _NotSimple
    resolvers, constructors = _yaml()
    for tag, regexp in resolvers.get(raw[0], []) + resolvers.get(None, []):
        if regexp.match(raw):
            if tag == _STR:
                return raw
            return constructors(tag, raw)  # numbers, booleans, None, dates: all immutable
    return raw


_cache: list[Any] = []


def _yaml() -> tuple[dict[Any, list[tuple[str, re.Pattern[str]]]], Any]:
    """PyYAML's implicit resolvers (YAML 1.1) and a constructor of tagged plain scalars."""
    if not _cache:
        import yaml

        from mlgate.config import _StrictLoader

        ctor = yaml.constructor.SafeConstructor()

        def construct(tag: str, value: str) -> Any:
            return ctor.yaml_constructors[tag](ctor, yaml.ScalarNode(tag, value))

        _cache.extend([_StrictLoader.yaml_implicit_resolvers, construct])
    return _cache[0], _cache[1]
