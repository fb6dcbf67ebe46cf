"""Canonical skops files: the same model gives the same bytes, in any process.

skops names the zip entries of arrays after ``id()`` of the objects (``1398264105745.npy``),
records those ids as ``__id__`` in ``schema.json`` and dates every entry with the wall clock.
Two runs of the same training therefore write different bytes, and DVC records a new md5
for an unchanged model (a fresh clone's ``dvc repro`` leaves ``dvc.lock`` modified).
:func:`canonicalize` rewrites what ``skops.io.dumps`` produced, without depending on ids:

* every ``__id__`` becomes 1, 2, 3, ... in order of first appearance in ``schema.json``,
  read in document order (the order skops writes, fixed by the model's structure). Equal
  ids stay equal and different ids stay different, so objects that skops shares between
  places (``get_tree`` memoises nodes by ``__id__``) are still shared on load;
* every zip entry that a node names under ``file`` becomes ``<n><suffix>`` (``1.npy``,
  ``2.npy``, ...), numbered in the same walk, and the node's ``file`` is rewritten to match;
* in ``.npy`` entries of structured arrays, the padding bytes between and after fields are
  set to zero. scikit-learn's tree nodes leave 7 such bytes per node, never initialised,
  so they hold whatever memory the allocator returned (zero in a fresh process, mostly;
  not after the model was copied or memory was reused). The values are untouched;
* the zip is written again: ``schema.json`` first, then the entries in that order; stored
  uncompressed as skops does (deflate output may change with the zlib build), dated
  1980-01-01 00:00 (the earliest date a zip entry can hold), mode 0644, Unix.

The format: https://skops.readthedocs.io/en/stable/persistence.html (``schema.json`` and
``__id__``); zip headers: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT;
npy: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html.
Left as skops writes them: ``.npz`` entries (scipy sparse matrices, which mlgate's
allow-list refuses anyway) are zips with their own dates.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from mlgate.errors import DataError

SCHEMA = "schema.json"
#: The date of every entry: the zip format's epoch (MS-DOS dates start in 1980).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_MODE = (stat.S_IFREG | 0o644) << 16
_UNIX = 3  # "version made by" host: Unix (APPNOTE 4.4.2), whatever the writing OS


class _Renamer:
    """New ``__id__`` numbers and entry names, given in order of first appearance."""

    def __init__(self) -> None:
        self.ids: dict[int, int] = {}
        self.files: dict[str, str] = {}

    def node_id(self, old: int) -> int:
        # Start at 1: skops memoises a node on load only when its id is truthy.
        return self.ids.setdefault(old, len(self.ids) + 1)

    def file(self, old: str) -> str:
        return self.files.setdefault(old, f"{len(self.files) + 1}{PurePosixPath(old).suffix}")

    def walk(self, value: Any) -> Any:
        """``value`` (parsed JSON) with ids and file names replaced, in document order."""
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        # A node is a dict with a string __loader__; a user's dict key of the same name
        # would hold a node (a dict), never a string or an int, so it is left alone.
        node = isinstance(value.get("__loader__"), str)
        out: dict[str, Any] = {}
        for key, v in value.items():
            if node and key == "__id__" and isinstance(v, int) and not isinstance(v, bool):
                out[key] = self.node_id(v)
            elif node and key == "file" and isinstance(v, str):
                out[key] = self.file(v)
            else:
                out[key] = self.walk(v)
        return out


def canonicalize(data: bytes) -> bytes:
    """The skops file ``data`` rewritten so that the same model always gives the same bytes.

    It loads exactly as ``data`` does (same nodes, same shared objects, same array bytes).
    Raises DataError when ``data`` is not a skops file this function understands (an
    entry that ``schema.json`` does not name, or a name without an entry), rather than
    writing a file that would load differently.

    >>> import skops.io as sio
    >>> canonicalize(sio.dumps([1, 2])) == canonicalize(sio.dumps([1, 2]))
    True
    """
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        names = set(src.namelist())
        if SCHEMA not in names:
            raise DataError(f"skops output has no {SCHEMA}; cannot write the model canonically")
        renamer = _Renamer()
        schema = renamer.walk(json.loads(src.read(SCHEMA)))
        missing = sorted(set(renamer.files) - names)
        extra = sorted(names - set(renamer.files) - {SCHEMA})
        if missing or extra:
            raise DataError(
                f"skops output does not match its {SCHEMA} (missing entries: "
                f"{', '.join(missing) or 'none'}; entries it does not name: "
                f"{', '.join(extra) or 'none'}); install a skops version mlgate supports"
            )
        entries = [(new, _clean(new, src.read(old))) for old, new in renamer.files.items()]
    # The same text skops writes (json.dumps with indent=2), over the renamed schema.
    text = json.dumps(schema, indent=2).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for name, body in [(SCHEMA, text), *entries]:
            dst.writestr(_entry(name), body)
    return out.getvalue()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = _UNIX
    info.external_attr = _MODE
    return info


def _clean(name: str, body: bytes) -> bytes:
    return _zero_padding(body) if name.endswith(".npy") else body


def _zero_padding(npy: bytes) -> bytes:
    """``npy`` with the bytes that no field of its structured dtype covers set to zero.

    The header is kept as it is; only the data after it changes, item by item (the gaps
    repeat every ``itemsize`` bytes, in C or Fortran order alike). Formats other than
    npy 1.0 and 2.0 (3.0 is for non-latin-1 field names) are returned unchanged.
    """
    stream = io.BytesIO(npy)
    version = npy_format.read_magic(stream)
    if version == (1, 0):
        _, _, dtype = npy_format.read_array_header_1_0(stream)
    elif version == (2, 0):
        _, _, dtype = npy_format.read_array_header_2_0(stream)
    else:
        return npy
    covered = _covered(dtype)
    start = stream.tell()
    if dtype.hasobject or covered.all() or (len(npy) - start) % dtype.itemsize:
        return npy
    data = np.frombuffer(npy, dtype=np.uint8, offset=start).reshape(-1, dtype.itemsize).copy()
    data[:, ~covered] = 0
    return npy[:start] + data.tobytes()


def _covered(dtype: np.dtype[Any]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """One flag per byte of an item of ``dtype``: True where a field's value lies."""
    if dtype.subdtype is not None:  # a sub-array field, such as ("x", "<f8", (3,))
        base, shape = dtype.subdtype
        return np.tile(_covered(base), int(np.prod(shape)))
    if dtype.names is None:
        return np.ones(dtype.itemsize, dtype=np.bool_)
    mask = np.zeros(dtype.itemsize, dtype=np.bool_)
    for field in dtype.names:
        sub, offset = dtype.fields[field][:2]  # type: ignore[index]
        mask[offset : offset + sub.itemsize] |= _covered(sub)
    return mask
