"""The bank store: the ``Bank`` object, verified loading, listing and atomic publication.

A bank is ``samples`` (uint8 or uint16 [N, m], one row per shot) plus JSON metadata (provenance,
checksums, per-coordinate statistics). Banks live in ``cache_dir("banks", <key[:32]>)``::

    <key>/samples.npy   the rows (NumPy format, compact unsigned dtype)
    <key>/unitary.npy   the interferometer (complex128[m, m]) when there is one
    <key>/meta.json     provenance, SHA-256 of every file, statistics

Publication is atomic and idempotent: a bank is written into a private temporary folder
(``.<key>.<random>.tmp``) and renamed into place, so a reader sees either no bank or a whole
one; a finished bank's files are never removed or rewritten. Builders of one bank serialise on
a lock file (``.locks/<key>.lock``, ``flock``; released by the OS if the builder dies), so two
processes (or two Ray workers sharing a cache) never write the same partial build at once:
the second waits and then loads what the first published.

Nothing in a bank folder is trusted on load: ``meta.json`` must hold the SHA-256 of
``samples.npy`` (and of ``unitary.npy`` when the bank has a circuit), every file must match
its checksum, the stored statistics must equal those recomputed from the rows, and every row's
photon number must be one the request and its noise model can produce
(:meth:`qlatent.photonics.noise.NoiseModel.count_bounds`). Any failure raises a one-line
:class:`BankError` naming the file and what is wrong.

Notation: N rows (shots), m modes, n photons; a row is a count vector s (uint8/uint16[m]).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import platform
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

import qlatent
from qlatent._io import cache_dir, digest, file_digest, jsonable
from qlatent.latents.normalize import column_statistics
from qlatent.photonics.noise import NoiseModel, describe_bad_count_row

#: Kinds simulated from a circuit, and the challengers derived from a bank.
SIMULATED_KINDS: tuple[str, ...] = ("quantum", "photonic")
DERIVED_KINDS: tuple[str, ...] = ("dirichlet_multinomial", "shuffled")
BANK_KINDS: tuple[str, ...] = SIMULATED_KINDS + DERIVED_KINDS
#: The noise model of an ideal sampler of each simulated kind (photonic: distinguishable).
IDEAL_NOISE: dict[str, NoiseModel] = {"quantum": NoiseModel(),
                                      "photonic": NoiseModel(indistinguishability=0.0)}
#: Bumped whenever the rows generated for a given request would change.
SAMPLER_VERSION = "1"
FORMAT_VERSION = 1
#: The largest bank (rows x modes x bytes per count) a build accepts, whatever the free memory.
MAX_BANK_BYTES = 64 * 2**30
#: Relative tolerance between stored and recomputed statistics (both float64 over the rows).
STATISTICS_RTOL = 1e-9


class BankError(ValueError):
    """A bank file is missing, incomplete, corrupted or inconsistent with its metadata."""


@dataclass(eq=False)
class Bank:
    """Rows of a sample bank with their metadata.

    Attributes:
        samples (uint8 or uint16 [N, m]): read-only view of the rows.
        metadata: provenance, checksums and ``statistics`` (per-coordinate ``mean``/``std``).
        path: the bank's folder, or None for a bank held only in memory.
        unitary (complex128[m, m] or None): the interferometer, when the bank has one.
    """

    _rows: np.ndarray = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)
    path: Path | None = None
    unitary: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        rows = self._rows
        if rows.ndim != 2 or rows.dtype not in (np.uint8, np.uint16):
            raise BankError(f"bank rows must be uint8 or uint16 [N, m], got {rows.dtype} "
                            f"{rows.shape}")
        view = rows.view()
        view.flags.writeable = False
        self.samples = view

    @property
    def key(self) -> str:
        return str(self.metadata["key"])

    @property
    def kind(self) -> str:
        return str(self.metadata["kind"])

    @property
    def n_samples(self) -> int:
        return int(self._rows.shape[0])

    @property
    def n_modes(self) -> int:
        return int(self._rows.shape[1])

    @property
    def statistics(self) -> dict[str, list[float]]:
        """``{"mean": [...], "std": [...]}`` per coordinate, over the whole bank (float64)."""
        return self.metadata["statistics"]

    @property
    def noise(self) -> NoiseModel | None:
        """The noise model the rows were simulated with (for a challenger: its source's);
        None for recorded hardware samples, whose noise is unknown."""
        if self.metadata.get("n_photons") is None:
            return None
        return NoiseModel.from_mapping(self.metadata.get("noise"))

    def __repr__(self) -> str:
        return (f"Bank(kind={self.kind!r}, n_samples={self.n_samples}, n_modes={self.n_modes}, "
                f"key={self.key[:12]!r}, path={str(self.path) if self.path else None!r})")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Bank:
        """Load and verify the bank in folder ``path`` (see :func:`load_bank`)."""
        return load_folder(Path(path))


# ----------------------------------------------------------------------------- sizes


def compact_dtype(max_count: int) -> np.dtype:
    """The smallest unsigned dtype (uint8 or uint16) that holds counts up to ``max_count``."""
    if max_count <= np.iinfo(np.uint8).max:
        return np.dtype(np.uint8)
    if max_count <= np.iinfo(np.uint16).max:
        return np.dtype(np.uint16)
    raise BankError(f"counts up to {max_count} do not fit a bank (at most "
                    f"{np.iinfo(np.uint16).max} per mode)")


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), if known."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _human(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.3g} PB"  # pragma: no cover - the loop returns


def check_bank_size(n_samples: int, n_modes: int, itemsize: int = 1, *,
                    source: str | None = None) -> int:
    """Refuse a bank whose rows would not fit in memory, before anything is allocated.

    The rows take ``n_samples x n_modes x itemsize`` bytes (uint8: 1, uint16: 2); a bank is
    refused when that exceeds :data:`MAX_BANK_BYTES` or the memory available now. Every bank
    passes this guard: simulated ones before sampling, imported ones before their rows are read
    or decompressed (``source`` names the file).

    Returns:
        The estimated size in bytes.

    Raises:
        ValueError: naming ``n_samples`` (or ``source``), the estimate and the limit it exceeds.
    """
    size = int(n_samples) * int(n_modes) * int(itemsize)
    available = _available_memory()
    limit, what = MAX_BANK_BYTES, f"the cap of {_human(MAX_BANK_BYTES)} per bank"
    if available is not None and available < limit:
        limit, what = available, f"the {_human(available)} of memory available"
    if size <= limit:
        return size
    figure = (f"{n_samples:,} rows x {n_modes} modes x {itemsize} byte(s) = {_human(size)}, "
              f"more than {what}")
    if source is not None:
        raise ValueError(f"{source}: {figure.replace(' rows ', ' shots ', 1)}; refused before "
                         "reading the rows (a bank must fit in memory)")
    raise ValueError(f"n_samples must give a bank that fits in memory: {figure}; got "
                     f"n_samples={n_samples}")


# ----------------------------------------------------------------------------- storage


def banks_root() -> Path:
    """The folder of the bank cache, ``$QLATENT_CACHE/banks``."""
    return cache_dir("banks")


def versions() -> dict[str, str]:
    return {"qlatent": qlatent.__version__, "numpy": np.__version__, "numba": numba.__version__,
            "python": platform.python_version()}


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def is_finished(folder: Path) -> bool:
    """True when ``folder`` holds a published bank (verified only by :func:`load_folder`)."""
    return (folder / "meta.json").is_file()


@contextlib.contextmanager
def build_lock(name: str) -> Iterator[None]:
    """Hold the exclusive lock of bank folder ``name`` (blocks while another process holds it).

    The lock is an ``flock`` on ``.locks/<name>.lock``: the OS releases it when its holder
    exits, killed or not, so a crashed builder never blocks the next one. Lock files stay (a
    removed lock file could be locked twice by two later builders).
    """
    import fcntl  # optional extra: fcntl is POSIX only, needed only to build banks

    folder = banks_root() / ".locks"
    folder.mkdir(exist_ok=True)
    with open(folder / f"{name}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


def publish(folder: Path, rows: np.ndarray, metadata: dict[str, Any],
            unitary: np.ndarray | None) -> Bank:
    """Write a bank into a private temporary folder and rename it to ``folder``.

    Call with :func:`build_lock` held for ``folder.name``. Idempotent: if a finished bank is
    already there (published by a process that did not take the lock), it is loaded and
    returned, never overwritten.
    """
    if is_finished(folder):
        return load_folder(folder, metadata["key"])
    root = folder.parent
    for stale in root.glob(f".{folder.name}.*.tmp"):  # left by a publisher that was killed
        shutil.rmtree(stale, ignore_errors=True)
    # mkdir, not mkdtemp (always 0700): the bank gets the permissions of any folder the user
    # makes (0777 less the umask), readable like the rest of the cache or private under 077.
    tmp = root / f".{folder.name}.{secrets.token_hex(8)}.tmp"
    tmp.mkdir()
    try:
        _save_npy(tmp / "samples.npy", rows)
        checksums = {"samples.npy": file_digest(tmp / "samples.npy")}
        if unitary is not None:
            unitary = np.ascontiguousarray(unitary, dtype=np.complex128)
            _save_npy(tmp / "unitary.npy", unitary)
            checksums["unitary.npy"] = file_digest(tmp / "unitary.npy")
        meta = dict(metadata)
        meta.update({
            "format": "qlatent-bank", "format_version": FORMAT_VERSION,
            "n_samples": int(rows.shape[0]), "n_modes": int(rows.shape[1]),
            "dtype": rows.dtype.name, "checksums": checksums,
            # float64 blocks of 512 KB, whatever the width (the default is 65,536 rows)
            "statistics": column_statistics(rows, chunk_rows=max(1, (1 << 16) // rows.shape[1])),
        })
        meta.setdefault("created", _now())
        meta.setdefault("versions", versions())
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True,
                                                default=jsonable))
        if folder.exists():
            # A folder without meta.json is not a bank (an unfinished build of an older
            # qlatent, or debris): set it aside, then put the new bank in its place.
            aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=root))
            os.replace(folder, aside / "old")
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(tmp, folder)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) and is_finished(folder):
                # another publisher won the race: use its bank
                return load_folder(folder, metadata["key"])
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Bank(rows, meta, folder, unitary)


# ----------------------------------------------------------------------------- verification


def expected_counts(meta: dict[str, Any], n_modes: int
                    ) -> tuple[int, int | None, int | None] | None:
    """``(min total, max total, max count per mode)`` that every row of a bank must satisfy.

    Simulated banks: the bounds of their noise model (:meth:`NoiseModel.count_bounds`).
    A Dirichlet-multinomial challenger draws its photon numbers from its source's rows (same
    totals, any split); a shuffled one keeps each column's values (totals change). Banks of
    hardware samples only promise their post-selection (``min_photons``).
    """
    kind = meta.get("kind")
    noise = meta.get("noise") or {}
    n = meta.get("n_photons")
    if n is None:  # recorded samples or a challenger of them
        least = int(noise.get("min_photons") or 0)
        return None if kind == "shuffled" else (least, None, None)
    least, most, max_count = NoiseModel.from_mapping(noise).count_bounds(int(n), n_modes)
    if kind == "dirichlet_multinomial":
        return least, most, most
    if kind == "shuffled":
        return 0, n_modes * max_count, max_count
    return least, most, max_count


def check_rows(rows: np.ndarray, meta: dict[str, Any], where: str) -> None:
    """Raise :class:`BankError` naming ``where`` if a row's photon number is impossible."""
    bounds = expected_counts(meta, rows.shape[1])
    if bounds is None:
        return
    why = describe_bad_count_row(rows, *bounds)
    if why is not None:
        raise BankError(f"{where} is corrupted: {why} for {_request_text(meta)}")


def _request_text(meta: dict[str, Any]) -> str:
    if meta.get("n_photons") is None:
        return f"min_photons={(meta.get('noise') or {}).get('min_photons')}"
    noise = NoiseModel.from_mapping(meta.get("noise"))
    kind = meta.get("kind")
    text = ", ".join(f"{k}={v}" for k, v in
                     noise.deviations(IDEAL_NOISE.get(kind, NoiseModel())).items())
    return f"a {kind} bank of {meta['n_photons']} photons ({text or 'no noise'})"


def _check_statistics(rows: np.ndarray, meta: dict[str, Any], meta_path: Path) -> None:
    stored = meta.get("statistics")
    if not isinstance(stored, dict) or not all(isinstance(stored.get(k), list)
                                               for k in ("mean", "std")):
        raise BankError(f"bank metadata {meta_path} is corrupted: no statistics (mean, std)")
    computed = column_statistics(rows)
    for name in ("mean", "std"):
        got = np.asarray(stored[name], dtype=np.float64)
        want = np.asarray(computed[name])
        if got.shape != want.shape:
            raise BankError(f"bank metadata {meta_path} is corrupted: statistics {name} has "
                            f"{got.shape[0]} entries, samples.npy has {want.shape[0]} modes")
        bad = ~np.isclose(got, want, rtol=STATISTICS_RTOL, atol=1e-12)
        if bad.any():
            j = int(np.argmax(bad))
            raise BankError(f"bank metadata {meta_path} is corrupted: statistics {name} of mode "
                            f"{j} is {float(got[j])!r}, the rows of samples.npy give "
                            f"{float(want[j])!r}")


def load_folder(folder: Path, key: str | None = None) -> Bank:
    """Load the bank in ``folder`` and verify everything (see the module docstring).

    ``key``: the key of the request being served (a cache hit): the bank's stored key must be
    it. Without one, a folder of the cache must hold the bank its name (``key[:32]``) names. A
    bank moved, swapped or renamed is refused, never served for another request.
    """
    if folder.is_file() and folder.name == "meta.json":
        folder = folder.parent
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise BankError(f"{folder} is not a finished bank: {meta_path.name} is missing "
                        "(an interrupted build resumes when build_bank is called again)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BankError(f"bank metadata {meta_path} is unreadable: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != "qlatent-bank":
        raise BankError(f"{meta_path} is not qlatent bank metadata")
    missing = [k for k in ("key", "kind", "n_samples", "n_modes", "dtype") if k not in meta]
    if missing:
        raise BankError(f"bank metadata {meta_path} is corrupted: it has no "
                        f"{', '.join(missing)}")
    stored = str(meta["key"])
    if key is not None and stored != key:
        raise BankError(f"bank {folder} holds bank {stored[:16]}... ({meta['kind']}), not the "
                        f"requested {key[:16]}...: bank folders were swapped or renamed; delete "
                        "the folder and rebuild")
    if (key is None and folder.parent.resolve() == banks_root().resolve()
            and folder.name != stored[:32]):
        raise BankError(f"bank {folder} holds bank {stored[:16]}... ({meta['kind']}), but its "
                        f"folder in the cache names {folder.name[:16]}...: bank folders were "
                        "swapped or renamed; delete the folder and rebuild")
    checksums = meta.get("checksums")
    if not isinstance(checksums, dict) or "samples.npy" not in checksums:
        raise BankError(f"bank metadata {meta_path} is corrupted: it has no SHA-256 entry for "
                        "samples.npy (every bank records one)")
    has_circuit = meta.get("unitary_sha256") is not None
    if (has_circuit or (folder / "unitary.npy").is_file()) and "unitary.npy" not in checksums:
        raise BankError(f"bank metadata {meta_path} is corrupted: it has no SHA-256 entry for "
                        "unitary.npy")
    for name, expected in checksums.items():
        path = folder / name
        if not path.is_file():
            raise BankError(f"bank {folder} is corrupted: {name} is missing")
        got = file_digest(path)
        if got != expected:
            raise BankError(f"bank {folder} is corrupted: SHA-256 of {name} is {got[:16]}..., "
                            f"metadata says {str(expected)[:16]}...; delete the folder and "
                            "rebuild")
    try:
        rows = np.load(folder / "samples.npy", allow_pickle=False)
    except Exception as exc:  # numpy raises several kinds for damaged files
        raise BankError(f"bank {folder} is corrupted: samples.npy unreadable ({exc})") from exc
    expected_shape = (meta.get("n_samples"), meta.get("n_modes"))
    if rows.ndim != 2 or rows.shape != expected_shape or rows.dtype.name != meta.get("dtype"):
        raise BankError(f"bank {folder} is corrupted: samples.npy holds {rows.dtype.name} "
                        f"{rows.shape}, metadata says {meta.get('dtype')} {expected_shape}")
    if rows.dtype not in (np.uint8, np.uint16):
        raise BankError(f"bank {folder} is corrupted: samples.npy holds {rows.dtype.name}, "
                        "expected uint8 or uint16 counts")
    _check_statistics(rows, meta, meta_path)
    check_rows(rows, meta, str(folder / "samples.npy"))
    unitary = None
    if "unitary.npy" in checksums:
        unitary = np.load(folder / "unitary.npy", allow_pickle=False)
        if has_circuit and digest(unitary) != meta["unitary_sha256"]:
            raise BankError(f"bank {folder} is corrupted: unitary.npy is not the circuit "
                            "unitary_sha256 in meta.json names")
    return Bank(rows, meta, folder, unitary)


def load_bank(bank: str | os.PathLike | Bank) -> Bank:
    """Load and verify a bank given its folder, its ``meta.json``, or a key (prefix) in the cache.

    Raises:
        BankError: the bank is missing, unfinished, corrupted (checksum, statistics, photon
            numbers or shape) or the key prefix is ambiguous.
    """
    if isinstance(bank, Bank):
        return bank
    if not isinstance(bank, (str, os.PathLike)):
        raise TypeError(f"bank must be a Bank, a folder path or a key, got {type(bank).__name__}")
    path = Path(bank)
    if path.exists():
        return load_folder(path)
    if path.with_name(path.name + ".partial").is_dir():
        raise BankError(f"{path} is not a finished bank: its build was interrupted (calling "
                        "build_bank again with the same request resumes it)")
    text = str(bank)
    if re.fullmatch(r"[0-9a-f]{4,64}", text) and _key_folders(text):
        loaded = load_folder(find_bank(text))
        if loaded.key.startswith(text):
            return loaded
    raise BankError(f"no bank at {text!r} (neither a folder nor a key in {banks_root()}); "
                    "`qlatent bank list` shows the cached banks")


def _key_folders(key: str) -> list[Path]:
    # Folders are named by the first 32 hex digits of the key; a longer text must agree.
    return [p for p in banks_root().iterdir()
            if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".partial")
            and p.name[:len(key)] == key[:len(p.name)] and is_finished(p)]


def find_bank(key: str) -> Path:
    """The cache folder of the finished bank whose key is ``key`` or starts with it (4 to 64
    lowercase hex digits), found by folder name without reading its rows (``load_folder``
    verifies them).

    Raises:
        BankError: not a key, no such bank in the cache, or a prefix that is ambiguous.
    """
    if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{4,64}", key):
        raise BankError(f"a bank key must be 4 to 64 lowercase hex digits (a key or a unique "
                        f"prefix, as `qlatent bank list` shows it), got {key!r}")
    matches = _key_folders(key)
    if len(matches) > 1:
        raise BankError(f"bank key prefix {key!r} is ambiguous: "
                        f"{', '.join(sorted(p.name[:16] for p in matches))}")
    if not matches:
        raise BankError(f"no bank with key {key!r} in {banks_root()}; `qlatent bank list` shows "
                        "the cached banks")
    return matches[0]


def list_banks() -> list[dict[str, Any]]:
    """Metadata of every finished bank in the cache (not verified), oldest first.

    Each entry is the bank's metadata plus ``"path"``.
    """
    out = []
    for folder in sorted(banks_root().iterdir()):
        meta_path = folder / "meta.json"
        if folder.is_dir() and not folder.name.startswith(".") and meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                meta = {"key": folder.name, "kind": "?", "error": "unreadable meta.json"}
            meta["path"] = str(folder)
            out.append(meta)
    return sorted(out, key=lambda m: str(m.get("created", "")))
