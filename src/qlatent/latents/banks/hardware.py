"""Import of recorded hardware samples (count vectors, one row per shot) as a bank.

Formats: delimited text (``.csv``, ``.tsv``, ``.txt``: comma, semicolon, tab or spaces between
counts, detected from the first line; optional UTF-8 byte-order mark, optional header line of
column names, ``#`` comments), ``.npy`` and ``.npz``. Every error names the file, and the row
(1-based; for text, the line number) and column where it can. Counts must be non-negative
integers of at most 65535 (what a uint16 bank holds), written in ASCII digits (``int`` would
also read ``1_0``, ``+1`` and other scripts' digits).

Memory: the bank and one chunk, never the whole file. Text is read line by line, an NPY is
memory-mapped and an NPZ member decompressed as it is read, in two passes: the first checks
every row and counts what the post-selection keeps, the second fills the bank, allocated once
in its final dtype. The size passes the memory guard of bank building
(:func:`~qlatent.latents.banks.store.check_bank_size`) from the array's header, before any data
is read or decompressed (a zip bomb is refused from its header), and again as text rows come.

Notation: N shots, m modes; a row is a count vector s (int[m]).
"""

from __future__ import annotations

import codecs
import json
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from qlatent._io import digest, file_digest
from qlatent._validation import check_choice, check_int
from qlatent.latents.banks.store import (
    SAMPLER_VERSION,
    Bank,
    banks_root,
    build_lock,
    check_bank_size,
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
#: Text and array bytes read at a time (bounds the memory beside the bank, not the result).
_TEXT_CHUNK_CHARS = 1 << 16
_ARRAY_CHUNK_BYTES = 1 << 20


def _bad_row(source: str, row: int, why: str) -> ValueError:
    return ValueError(f"{source}: row {row}: {why}")


# ----------------------------------------------------------------------------- checks


def _check_shape(shape: tuple[int, ...], source: str) -> tuple[int, int]:
    """``(N, m)`` of an array of count vectors, or a ValueError naming the file."""
    if len(shape) == 1:
        raise ValueError(f"{source}: expected a 2-D array (one row per shot), got shape {shape}")
    if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{source}: expected a non-empty 2-D array [shots, modes], got shape "
                         f"{shape}")
    return int(shape[0]), int(shape[1])


def _check_dtype(dtype: np.dtype, source: str, kind: str) -> None:
    if dtype.hasobject:
        raise ValueError(f"{source}: not a readable {kind} file of counts (Object arrays cannot "
                         "be loaded: they are pickled Python objects, refused unread)")
    if not (dtype == np.dtype(bool) or np.issubdtype(dtype, np.integer)
            or np.issubdtype(dtype, np.floating)):
        raise ValueError(f"{source}: expected integer counts, got dtype {dtype}")


def _check_chunk(arr: np.ndarray, source: str, first_row: int) -> np.ndarray:
    """Check a chunk of count vectors (rows ``first_row + 1 ...``, 1-based in errors).

    Returns the chunk itself (integer or integral float dtype; bool as uint8).
    """
    if arr.dtype == bool:
        arr = arr.view(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            value = arr[i, j].item()
            raise _bad_row(source, first_row + int(i) + 1,
                           f"column {int(j) + 1}: {value!r} is not an integer count")
    for bad, why in ((arr < 0, "is negative"),
                     (arr > MAX_COUNT, f"is larger than a bank holds ({MAX_COUNT})")):
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise _bad_row(source, first_row + int(i) + 1,
                           f"column {int(j) + 1}: {arr[i, j].item()!r} {why}")
    return arr


# ----------------------------------------------------------------------------- text


_DIGITS = re.compile(r"[0-9]+")
_NEGATIVE = re.compile(r"-[0-9]+")
_COUNT = r"""(?:[0-9]{1,5}|"[0-9]{1,5}"|'[0-9]{1,5}')"""  # a count that cannot pass 99999


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


def _row_pattern(delimiter: str | None) -> re.Pattern:
    """A stripped line of plain counts (at most 5 ASCII digits each, optionally quoted)."""
    if delimiter is None:
        return re.compile(rf"{_COUNT}(?:[ \t]+{_COUNT})*")
    space = "[ ]*" if delimiter == "\t" else "[ \t]*"
    return re.compile(rf"{_COUNT}{space}(?:{re.escape(delimiter)}{space}{_COUNT}{space})*")


def _parse_fields(fields: list[str], delimiter: str | None, source: str,
                  line_no: int) -> list[int]:
    """The counts of a line the fast pattern did not match, or the error that names why.

    A count is ASCII digits only: ``int`` would also take ``1_0``, ``+1`` and non-ASCII digits.
    """
    values = []
    for col, field in enumerate(fields, start=1):
        if not _DIGITS.fullmatch(field):
            other = [name for ch, name in _DELIMITERS.items() if ch in field and ch != delimiter]
            if other:
                why = (f"column {col}: {field!r} holds a {other[0]}, but the file's delimiter "
                       f"is {_DELIMITERS.get(delimiter or '', 'white space')} (from its first "
                       "line)")
            elif _NEGATIVE.fullmatch(field):
                why = f"column {col}: {int(field)} is negative"
            else:
                why = f"column {col}: {field!r} is not a non-negative integer"
            raise _bad_row(source, line_no, why)
        value = int(field)
        if value > MAX_COUNT:
            raise _bad_row(source, line_no, f"column {col}: {value} is larger than a bank holds "
                                            f"({MAX_COUNT})")
        values.append(value)
    return values


def _text_block(lines: list[str], numbers: list[int], delimiter: str | None, width: int,
                source: str) -> np.ndarray:
    """uint16[len(lines), width] of lines that matched ``_row_pattern``."""
    text = " ".join(lines)
    for ch in (delimiter, '"', "'"):
        if ch:
            text = text.replace(ch, " ")
    arr = np.fromstring(text, dtype=np.int64, sep=" ").reshape(len(lines), width)
    big = arr > MAX_COUNT
    if big.any():
        i, j = np.argwhere(big)[0]
        raise _bad_row(source, numbers[i], f"column {int(j) + 1}: {int(arr[i, j])} is larger "
                                           f"than a bank holds ({MAX_COUNT})")
    return arr.astype(np.uint16)


def _text_chunks(path: Path) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(uint16[k, m] counts, rows before)`` of a text file, read line by line.

    At most ``_TEXT_CHUNK_CHARS`` characters of text are held at a time. Lines of plain counts
    are converted a block at a time; any other line goes through ``_parse_fields``, which
    names the line and column of what is wrong.
    """
    source = str(path)
    delimiter: str | None = None
    pattern: re.Pattern | None = None
    width: int | None = None
    lines: list[str] = []
    numbers: list[int] = []
    held = done = offset = 0
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):  # a byte-order mark is dropped
                raw, offset = raw[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
            try:
                stripped = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise ValueError(f"{source}: not UTF-8 text ({exc.reason} at byte "
                                 f"{offset + exc.start})") from None
            offset += len(raw)
            if not stripped or stripped.startswith("#"):
                continue
            if pattern is None:
                delimiter = _delimiter(stripped, source, line_no)
                pattern = _row_pattern(delimiter)
            if pattern.fullmatch(stripped):
                n_fields = (stripped.count(delimiter) + 1 if delimiter
                            else len(stripped.split()))
            else:
                fields = [f.strip().strip('"\'') for f in (stripped.split(delimiter) if delimiter
                                                            else stripped.split())]
                if width is None and not any(_is_number(f) for f in fields):
                    continue  # a header line of column names
                values = _parse_fields(fields, delimiter, source, line_no)
                n_fields, stripped = len(values), " ".join(map(str, values))
            if width is None:
                width = n_fields
            elif n_fields != width:
                raise _bad_row(source, line_no,
                               f"expected {width} values (as in the first row), got {n_fields}")
            lines.append(stripped)
            numbers.append(line_no)
            held += len(stripped)
            if held >= _TEXT_CHUNK_CHARS:
                yield _text_block(lines, numbers, delimiter, width, source), done
                done += len(lines)
                lines, numbers, held = [], [], 0
    if lines:
        yield _text_block(lines, numbers, delimiter, width or 0, source), done
    elif width is None:
        raise ValueError(f"{source}: no sample rows found")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------- NPY and NPZ


_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}


def _read_header(handle: BinaryIO, source: str, kind: str) -> tuple[tuple[int, ...], bool,
                                                                     np.dtype]:
    """``(shape, fortran_order, dtype)`` of the NPY stream at ``handle``; no data is read."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            return fmt.read_array_header_1_0(handle)
        if version == (2, 0):
            return fmt.read_array_header_2_0(handle)
    except Exception as exc:  # numpy raises several kinds for damaged headers  # noqa: BLE001
        raise ValueError(f"{source}: not a readable {kind} file of counts "
                         f"({' '.join(str(exc).split())})") from None
    raise ValueError(f"{source}: not a readable {kind} file of counts (NPY format version "
                     f"{version[0]}.{version[1]}; 1.0 and 2.0 are read)")


def _array_chunks(handle: BinaryIO, n_rows: int, n_modes: int, dtype: np.dtype, source: str
                  ) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(rows, rows before)`` of a C-order NPY data stream, ``_ARRAY_CHUNK_BYTES`` of it
    at a time (a compressed member is decompressed as it is read, never whole)."""
    step = max(1, _ARRAY_CHUNK_BYTES // (n_modes * dtype.itemsize))
    for start in range(0, n_rows, step):
        k = min(step, n_rows - start)
        want = k * n_modes * dtype.itemsize
        data = handle.read(want)
        if len(data) != want:
            row = start + len(data) // (n_modes * dtype.itemsize) + 1
            raise ValueError(f"{source}: truncated: the header promises {n_rows:,} rows, the data "
                             f"end within row {row}")
        yield np.frombuffer(data, dtype=dtype).reshape(k, n_modes), start


def _binary_source(path: Path, array_name: str | None
                   ) -> tuple[str, tuple[int, int], Callable[[], Iterator], str | None]:
    """``(label, (N, m), chunks, array_name)`` of a .npy or a .npz member, from its header.

    ``chunks()`` yields ``(rows, rows before)`` each time it is called; nothing but the header is
    read here, so the caller can refuse a size before any data is read or decompressed.
    """
    kind = path.suffix.lower()
    upper = kind[1:].upper()
    with open(path, "rb") as handle:
        if not handle.read(len(_MAGIC[kind])) == _MAGIC[kind]:
            raise ValueError(f"{path}: not a {upper} file (it does not start with "
                             f"the {upper} signature {_MAGIC[kind]!r})")
    if kind == ".npy":
        if array_name is not None:
            raise ValueError(f"array_name applies to .npz files only, got {array_name!r} for "
                             f"{path}")
        label = str(path)
        with open(path, "rb") as handle:
            shape, fortran, dtype = _read_header(handle, label, upper)

        def chunks() -> Iterator[tuple[np.ndarray, int]]:
            try:
                rows = np.load(path, mmap_mode="r", allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 - numpy raises several kinds
                raise ValueError(f"{label}: not a readable NPY file of counts "
                                 f"({' '.join(str(exc).split())})") from None
            step = max(1, _ARRAY_CHUNK_BYTES // (rows.shape[1] * rows.dtype.itemsize))
            for start in range(0, rows.shape[0], step):
                yield np.asarray(rows[start:start + step]), start
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable NPZ file of counts "
                             f"({' '.join(str(exc).split())})") from None
        names = [m[:-4] if m.endswith(".npy") else m for m in members]
        if array_name is None:
            array_name = names[0] if len(names) == 1 else "samples"
        if array_name not in names:
            raise ValueError(f"array_name must be one of {', '.join(map(repr, names))} for "
                             f"{path}, got {array_name!r}")
        member = members[names.index(array_name)]
        label = f"{path}[{array_name}]"

        def open_member() -> tuple[zipfile.ZipFile, BinaryIO]:
            archive = zipfile.ZipFile(path)
            return archive, archive.open(member)

        archive, stream = open_member()
        with archive, stream:
            shape, fortran, dtype = _read_header(stream, label, "NPY")

        def chunks() -> Iterator[tuple[np.ndarray, int]]:
            archive, stream = open_member()
            with archive, stream:
                _read_header(stream, label, "NPY")
                try:
                    if fortran:  # column-major: the rows are not contiguous; read it whole
                        n, m = shape
                        data = stream.read(n * m * dtype.itemsize)
                        if len(data) != n * m * dtype.itemsize:
                            raise ValueError(f"{label}: truncated: the data end before the "
                                             f"{n:,} x {m} array its header promises")
                        yield np.frombuffer(data, dtype=dtype).reshape((m, n)).T, 0
                    else:
                        yield from _array_chunks(stream, *shape, dtype, label)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise ValueError(f"{label}: unreadable ({' '.join(str(exc).split())})"
                                     ) from None
    _check_dtype(dtype, label, upper if kind == ".npy" else "NPY")
    n_rows, n_modes = _check_shape(shape, label)
    # The guard before any data: a compressed member is refused before it is decompressed.
    itemsize = 1 if dtype.itemsize == 1 else 2
    if fortran:
        itemsize += dtype.itemsize  # read whole beside the bank
    check_bank_size(n_rows, n_modes, itemsize, source=label)
    return label, (n_rows, n_modes), chunks, array_name


# ----------------------------------------------------------------------------- assembly


def _assemble(chunks: Callable[[], Iterator[tuple[np.ndarray, int]]], label: str,
              min_photons: int | None) -> tuple[np.ndarray, int]:
    """``(rows in the compact dtype, shots read)`` in two streamed passes over ``chunks()``.

    The first pass checks every row, counts the shots kept by the post-selection and their
    largest count (and refuses, through ``check_bank_size``, as soon as the rows read would
    not fit); the second fills the bank, allocated once in its final dtype. Memory: the bank
    plus one chunk.
    """
    n_raw = n_kept = largest = 0
    width = None
    for block, before in chunks():
        block = _check_chunk(block, label, before)
        width = block.shape[1]
        n_raw += block.shape[0]
        check_bank_size(n_raw, width, 1, source=label)
        kept = block if not min_photons else block[block.sum(axis=1, dtype=np.int64)
                                                   >= min_photons]
        n_kept += kept.shape[0]
        if kept.size:
            largest = max(largest, int(kept.max()))
    if width is None:
        raise ValueError(f"{label}: no sample rows found")
    if n_kept == 0:
        raise ValueError(f"post-selection on min_photons={min_photons} kept none of the "
                         f"{n_raw} shots of {label}")
    dtype = compact_dtype(largest)
    check_bank_size(n_kept, width, dtype.itemsize, source=label)
    rows = np.empty((n_kept, width), dtype=dtype)
    filled = 0
    for block, _ in chunks():
        if min_photons:
            block = block[block.sum(axis=1, dtype=np.int64) >= min_photons]
        if filled + block.shape[0] > n_kept:
            break
        rows[filled:filled + block.shape[0]] = block
        filled += block.shape[0]
    if filled != n_kept:
        raise ValueError(f"{label}: the file changed while it was read; import it again")
    return rows, n_raw


def _check_path(path: Any, suffixes: tuple[str, ...], name: str = "path") -> Path:
    """``path`` as a Path to an existing file with one of ``suffixes``, or a one-line error."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{name} must be an existing {'/'.join(s[1:].upper() for s in suffixes)} "
                         f"file, got {str(path)!r} (no such file)")
    check_choice(f"the suffix of {path}", path.suffix.lower(), suffixes)
    return path


def _source(path: Path, array_name: str | None
            ) -> tuple[str, Callable[[], Iterator[tuple[np.ndarray, int]]], str | None]:
    """``(label, chunks, array_name)`` of a text, NPY or NPZ file (binary sizes guarded)."""
    if path.suffix.lower() in TEXT_SUFFIXES:
        if array_name is not None:
            raise ValueError(f"array_name applies to .npz files only, got {array_name!r} for "
                             f"{path}")

        def chunks() -> Iterator[tuple[np.ndarray, int]]:
            return _text_chunks(path)
        return str(path), chunks, None
    label, _, chunks, array_name = _binary_source(path, array_name)
    return label, chunks, array_name


def read_counts(path: str | os.PathLike, *, suffixes: tuple[str, ...] = SUFFIXES,
                name: str = "path") -> np.ndarray:
    """The rows of a file of non-negative integer vectors (one row per line or array row), read
    and checked as :func:`import_bank` reads them: streamed text, a memory-mapped ``.npy``
    (``allow_pickle=False``), the memory guard before any row is read, and every error one line
    naming the file, row and column. Nothing is cached or written.

    Args:
        path: the file; its suffix one of ``suffixes``.
        name: how errors name the argument.

    Returns:
        uint8 or uint16 [N, m] (the compact dtype of the largest value).
    """
    path = _check_path(path, suffixes, name)
    label, chunks, _ = _source(path, None)
    return _assemble(chunks, label, None)[0]


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
        ValueError: naming the file (and the row and column) for every problem; for a bank
            that would not fit in memory, with its size and the limit (before reading it).
    """
    path = _check_path(path, SUFFIXES)
    suffix = path.suffix.lower()
    if min_photons is not None:
        min_photons = check_int("min_photons", min_photons, minimum=0)
    label, chunks, array_name = _source(path, array_name)
    source_sha = file_digest(path)
    key = digest("qlatent-bank-hardware", source_sha, min_photons, array_name, SAMPLER_VERSION)
    folder = banks_root() / key[:32]
    if is_finished(folder):
        return load_folder(folder, key)
    meta = {"key": key, "kind": "hardware", "circuit": None, "seed": None,
            "n_photons": None, "noise": {"min_photons": min_photons},
            "source": {"file": str(path.resolve()), "sha256": source_sha, "format": suffix[1:],
                       "array_name": array_name, "description": description,
                       **dict(provenance or {})}}
    try:
        json.dumps(meta)  # fail before reading or writing anything
    except TypeError as exc:
        raise TypeError(f"provenance must be JSON-serialisable: {exc}") from None
    rows, n_raw = _assemble(chunks, label, min_photons)
    meta["acceptance_rate"] = rows.shape[0] / n_raw
    meta["source"]["raw_shots"] = n_raw
    with build_lock(folder.name):
        return publish(folder, rows, meta, None)
