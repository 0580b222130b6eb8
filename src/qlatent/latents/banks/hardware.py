"""Import of recorded hardware samples (count vectors, one row per shot) as a bank.

Formats: delimited text (``.csv``, ``.tsv``, ``.txt``: comma, semicolon, tab or spaces between
counts, detected from the first line; optional UTF-8 byte-order mark, optional header line of
column names, ``#`` comments), ``.npy`` and ``.npz``. Every error names the file, and the row
(1-based; for text, the line number) and column where it can. Counts must be non-negative
integers of at most 65535 (what a uint16 bank holds).

Notation: N shots, m modes; a row is a count vector s (int[m]).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qlatent._io import digest, file_digest
from qlatent._validation import check_choice, check_int
from qlatent.latents.banks.store import (
    SAMPLER_VERSION,
    Bank,
    banks_root,
    build_lock,
    compact_dtype,
    is_finished,
    load_folder,
    publish,
)

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
SUFFIXES = TEXT_SUFFIXES + (".npy", ".npz")
#: The largest count a bank holds (uint16).
MAX_COUNT = int(np.iinfo(np.uint16).max)
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


def _bad_row(source: str, row: int, why: str) -> ValueError:
    return ValueError(f"{source}: row {row}: {why}")


def _validate_matrix(arr: np.ndarray, source: str) -> np.ndarray:
    """Check a numeric [N, m] array of counts; errors name the first bad row (1-based).

    Returns the array itself (integer or integral float dtype), not a converted copy.
    """
    if arr.ndim == 1:
        raise ValueError(f"{source}: expected a 2-D array (one row per shot), got shape "
                         f"{arr.shape}")
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{source}: expected a non-empty 2-D array [shots, modes], got shape "
                         f"{arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{source}: expected integer counts, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            value = arr[i, j].item()
            raise _bad_row(source, int(i) + 1,
                           f"column {int(j) + 1}: {value!r} is not an integer count")
    for bad, why in ((arr < 0, "is negative"),
                     (arr > MAX_COUNT, f"is larger than a bank holds ({MAX_COUNT})")):
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise _bad_row(source, int(i) + 1, f"column {int(j) + 1}: {arr[i, j].item()!r} {why}")
    return arr  # validated, in its own dtype: no int64 copy of a large recording


def _delimiter(line: str, source: str, line_no: int) -> str | None:
    """The delimiter of a text file from its first line (None: runs of white space)."""
    found = [ch for ch in _DELIMITERS if ch in line]
    if len(found) > 1:
        raise ValueError(f"{source}: line {line_no}: cannot tell the delimiter, the line has "
                         f"both {' and '.join(_DELIMITERS[ch] for ch in found)}")
    if found:
        return found[0]
    odd = sorted(set(re.sub(r"[\w\s.+\-]", "", line)))
    if odd:
        raise ValueError(f"{source}: line {line_no}: cannot tell the delimiter, found "
                         f"{' '.join(map(repr, odd))}; expected comma, semicolon, tab or spaces "
                         "between counts")
    return None


def _read_text(path: Path) -> np.ndarray:
    source = str(path)
    rows: list[list[int]] = []
    width = None
    delimiter: str | None = None
    decided = False
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is dropped
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not decided:
            delimiter, decided = _delimiter(stripped, source, line_no), True
        fields = [f.strip().strip('"\'') for f in (stripped.split(delimiter) if delimiter
                                                    else stripped.split())]
        if width is None and not rows and not any(_is_number(f) for f in fields):
            continue  # a header line of column names
        values = []
        for col, field in enumerate(fields, start=1):
            try:
                value = int(field)
            except ValueError:
                other = [name for ch, name in _DELIMITERS.items()
                         if ch in field and ch != delimiter]
                if other:
                    why = (f"column {col}: {field!r} holds a {other[0]}, but the file's "
                           f"delimiter is {_DELIMITERS.get(delimiter or '', 'white space')} "
                           "(from its first line)")
                else:
                    why = f"column {col}: {field!r} is not a non-negative integer"
                raise _bad_row(source, line_no, why) from None
            if value < 0:
                raise _bad_row(source, line_no, f"column {col}: {value} is negative")
            if value > MAX_COUNT:
                raise _bad_row(source, line_no, f"column {col}: {value} is larger than a bank "
                                                f"holds ({MAX_COUNT})")
            values.append(value)
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise _bad_row(source, line_no,
                           f"expected {width} values (as in the first row), got {len(values)}")
        rows.append(values)
    if not rows:
        raise ValueError(f"{source}: no sample rows found")
    return np.array(rows, dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}


def _read_array(path: Path, array_name: str | None) -> tuple[np.ndarray, str | None]:
    kind = path.suffix.lower()
    with open(path, "rb") as handle:
        if not handle.read(len(_MAGIC[kind])) == _MAGIC[kind]:
            raise ValueError(f"{path}: not a {kind[1:].upper()} file (it does not start with "
                             f"the {kind[1:].upper()} signature {_MAGIC[kind]!r})")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several kinds for damaged or pickled files
        raise ValueError(f"{path}: not a readable {path.suffix[1:].upper()} file of counts "
                         f"({' '.join(str(exc).split())})") from None
    if isinstance(loaded, np.ndarray):
        if array_name is not None:
            raise ValueError(f"array_name applies to .npz files only, got {array_name!r} for "
                             f"{path}")
        return _validate_matrix(loaded, str(path)), None
    with loaded as data:
        names = list(data.files)
        if array_name is None:
            array_name = names[0] if len(names) == 1 else "samples"
        if array_name not in names:
            raise ValueError(f"array_name must be one of {', '.join(map(repr, names))} for "
                             f"{path}, got {array_name!r}")
        try:
            arr = data[array_name]
        except Exception as exc:  # noqa: BLE001 - damaged member, pickled object array
            raise ValueError(f"{path}[{array_name}]: unreadable "
                             f"({' '.join(str(exc).split())})") from None
        return _validate_matrix(arr, f"{path}[{array_name}]"), array_name


def import_bank(path: str | os.PathLike, *, min_photons: int | None = None,
                array_name: str | None = None, description: str | None = None,
                provenance: Mapping[str, Any] | None = None) -> Bank:
    """Import recorded hardware samples (count vectors, one row per shot) as a bank.

    Formats: delimited text ``.csv``/``.tsv``/``.txt`` (see the module docstring; the row
    numbers in errors are file line numbers), ``.npy``, ``.npz`` (``array_name``, or the only
    array in the file, or ``"samples"``). Rows must be non-negative integers of one width.

    Args:
        path: the file.
        min_photons: keep only shots with at least this many detected photons (post-selection);
            the acceptance rate is recorded.
        array_name: array to read from a ``.npz``.
        description: free text stored in the provenance (device, date, settings...).
        provenance: extra JSON-serialisable provenance fields.

    Returns:
        The verified :class:`Bank` (kind ``"hardware"``), cached by the file's SHA-256 and the
        post-selection.

    Raises:
        ValueError: naming the file (and the row and column) for every problem.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must be an existing {'/'.join(s[1:].upper() for s in SUFFIXES)} "
                         f"file, got {str(path)!r} (no such file)")
    suffix = path.suffix.lower()
    check_choice(f"the suffix of {path}", suffix, SUFFIXES)
    if min_photons is not None:
        min_photons = check_int("min_photons", min_photons, minimum=0)
    if suffix in TEXT_SUFFIXES:
        if array_name is not None:
            raise ValueError(f"array_name applies to .npz files only, got {array_name!r} for "
                             f"{path}")
        arr = _read_text(path)
    else:
        arr, array_name = _read_array(path, array_name)
    n_raw = arr.shape[0]
    if min_photons:
        arr = arr[arr.sum(axis=1, dtype=np.int64) >= min_photons]
        if arr.shape[0] == 0:
            raise ValueError(f"post-selection on min_photons={min_photons} kept none of the "
                             f"{n_raw} shots of {path}")
    source_sha = file_digest(path)
    key = digest("qlatent-bank-hardware", source_sha, min_photons, array_name, SAMPLER_VERSION)
    folder = banks_root() / key[:32]
    if is_finished(folder):
        return load_folder(folder)
    meta = {"key": key, "kind": "hardware", "circuit": None, "seed": None,
            "n_photons": None, "noise": {"min_photons": min_photons},
            "acceptance_rate": arr.shape[0] / n_raw,
            "source": {"file": str(path.resolve()), "sha256": source_sha, "format": suffix[1:],
                       "array_name": array_name, "raw_shots": n_raw,
                       "description": description, **dict(provenance or {})}}
    try:
        json.dumps(meta)  # fail before writing anything
    except TypeError as exc:
        raise TypeError(f"provenance must be JSON-serialisable: {exc}") from None
    rows = arr.astype(compact_dtype(int(arr.max())))
    with build_lock(folder.name):
        return publish(folder, rows, meta, None)
