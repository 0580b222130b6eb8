"""Sample banks: content-addressed, resumable, verified arrays of photon-count samples.

A bank is ``samples`` (uint8 or uint16 [N, m], one row per shot) plus JSON metadata (provenance,
checksums, per-coordinate statistics). Banks live in ``cache_dir("banks", <key>)``::

    <key>/samples.npy   the rows (NumPy format, compact unsigned dtype)
    <key>/unitary.npy   the interferometer (complex128[m, m]) when there is one
    <key>/meta.json     written last: a folder without it is an unfinished build

The key is a digest of everything that determines the rows: kind, unitary bytes, input state,
noise, seed, number of samples, seeding block size and sampler version. The same request is a
cache hit; a different one never is.

Reproducibility and resume: the rows are generated in blocks of ``block_size`` samples; block b
uses its own ``SeedSequence(seed).spawn(...)`` child, so the bank does not depend on
``chunk_size`` (how many blocks are written per file and progress step) nor on ``n_jobs``.
Finished chunks are kept (atomically written) in ``<key>.partial/``: an interrupted build resumes
from them and gives a bank bit-identical to an uninterrupted one. On load the SHA-256 of
``samples.npy`` must match the metadata: a corrupted or truncated bank raises, never silently
used.

Notation:
    N rows (shots), m modes, n photons, U complex128[m, m] the interferometer, t int64[m] the
    input state; a row is a count vector s (uint8/uint16[m]).

Kinds built here: ``quantum`` (indistinguishable photons, optionally noisy), ``photonic``
(distinguishable photons), the challengers ``dirichlet_multinomial`` and ``shuffled`` (derived
from the quantum bank with the same circuit, seed and noise) and ``hardware`` (imported files).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
import platform
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import qlatent
from qlatent._io import atomic_write, atomic_write_json, cache_dir, digest, file_digest
from qlatent._random import as_generator
from qlatent._validation import check_choice, check_int
from qlatent.latents.normalize import column_statistics

__all__ = [
    "Bank", "BankError", "BANK_KINDS", "SIMULATED_KINDS", "build_bank", "load_bank",
    "import_bank", "list_banks", "unfinished_builds", "fit_dirichlet_concentration", "derive_bank",
    "resolve_circuit",
]

#: Kinds simulated from a circuit, and the challengers derived from a quantum bank.
SIMULATED_KINDS: tuple[str, ...] = ("quantum", "photonic")
DERIVED_KINDS: tuple[str, ...] = ("dirichlet_multinomial", "shuffled")
BANK_KINDS: tuple[str, ...] = SIMULATED_KINDS + DERIVED_KINDS
#: Bumped whenever the rows generated for a given request would change.
SAMPLER_VERSION = "1"
FORMAT_VERSION = 1
DEFAULT_BLOCK_SIZE = 1 << 14
DEFAULT_CHUNK_SIZE = 1 << 16
NOISE_KEYS = ("transmission", "indistinguishability", "threshold", "dark_count_probability",
              "min_photons")


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

    def __repr__(self) -> str:
        return (f"Bank(kind={self.kind!r}, n_samples={self.n_samples}, n_modes={self.n_modes}, "
                f"key={self.key[:12]!r}, path={str(self.path) if self.path else None!r})")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Bank:
        """Load and verify the bank in folder ``path`` (see :func:`load_bank`)."""
        return _load_folder(Path(path))


# ----------------------------------------------------------------------------- storage


def _banks_root() -> Path:
    return cache_dir("banks")


def _compact_dtype(max_count: int) -> np.dtype:
    if max_count <= np.iinfo(np.uint8).max:
        return np.dtype(np.uint8)
    if max_count <= np.iinfo(np.uint16).max:
        return np.dtype(np.uint16)
    raise BankError(f"counts up to {max_count} do not fit a uint16 bank")


def _save_npy(path: Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)

    atomic_write(path, write)


def _versions() -> dict[str, str]:
    import numba

    return {"qlatent": qlatent.__version__, "numpy": np.__version__, "numba": numba.__version__,
            "python": platform.python_version()}


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _write_bank(folder: Path, rows: np.ndarray, metadata: dict[str, Any],
                unitary: np.ndarray | None) -> Bank:
    """Write rows, unitary and (last) metadata with checksums and statistics; return the Bank."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").unlink(missing_ok=True)  # the folder is unfinished until the end
    _save_npy(folder / "samples.npy", rows)
    checksums = {"samples.npy": file_digest(folder / "samples.npy")}
    if unitary is not None:
        _save_npy(folder / "unitary.npy", np.ascontiguousarray(unitary, dtype=np.complex128))
        checksums["unitary.npy"] = file_digest(folder / "unitary.npy")
    meta = dict(metadata)
    meta.update({
        "format": "qlatent-bank", "format_version": FORMAT_VERSION,
        "n_samples": int(rows.shape[0]), "n_modes": int(rows.shape[1]),
        "dtype": rows.dtype.name, "checksums": checksums,
        "statistics": column_statistics(rows) if rows.shape[0] else {"mean": [], "std": []},
    })
    meta.setdefault("created", _now())
    meta.setdefault("versions", _versions())
    atomic_write_json(folder / "meta.json", meta)
    return Bank(rows, meta, folder, unitary)


def _load_folder(folder: Path) -> Bank:
    if folder.is_file() and folder.name == "meta.json":
        folder = folder.parent
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise BankError(f"{folder} is not a finished bank: {meta_path.name} is missing "
                        "(an interrupted build resumes when build_bank is called again)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BankError(f"bank metadata {meta_path} is unreadable: {exc}") from exc
    if meta.get("format") != "qlatent-bank":
        raise BankError(f"{meta_path} is not qlatent bank metadata")
    checksums = meta.get("checksums", {})
    for name, expected in checksums.items():
        path = folder / name
        if not path.is_file():
            raise BankError(f"bank {folder} is corrupted: {name} is missing")
        got = file_digest(path)
        if got != expected:
            raise BankError(f"bank {folder} is corrupted: SHA-256 of {name} is {got[:16]}..., "
                            f"metadata says {expected[:16]}...; delete the folder and rebuild")
    try:
        rows = np.load(folder / "samples.npy", allow_pickle=False)
    except Exception as exc:  # numpy raises several kinds for damaged files
        raise BankError(f"bank {folder} is corrupted: samples.npy unreadable ({exc})") from exc
    expected_shape = (meta["n_samples"], meta["n_modes"])
    if rows.shape != expected_shape or rows.dtype.name != meta["dtype"]:
        raise BankError(f"bank {folder} is corrupted: samples.npy holds {rows.dtype.name} "
                        f"{rows.shape}, metadata says {meta['dtype']} {expected_shape}")
    unitary = None
    if (folder / "unitary.npy").is_file() and "unitary.npy" in checksums:
        unitary = np.load(folder / "unitary.npy", allow_pickle=False)
    return Bank(rows, meta, folder, unitary)


def load_bank(bank: str | os.PathLike | Bank) -> Bank:
    """Load and verify a bank given its folder, its ``meta.json``, or a key (prefix) in the cache.

    Raises:
        BankError: the bank is missing, unfinished, corrupted (checksum or shape mismatch) or
            the key prefix is ambiguous.
    """
    if isinstance(bank, Bank):
        return bank
    if not isinstance(bank, (str, os.PathLike)):
        raise TypeError(f"bank must be a Bank, a folder path or a key, got {type(bank).__name__}")
    path = Path(bank)
    if path.exists():
        return _load_folder(path)
    if path.with_name(path.name + ".partial").is_dir():
        raise BankError(f"{path} is not a finished bank: its build was interrupted (calling "
                        "build_bank again with the same request resumes it)")
    text = str(bank)
    if re.fullmatch(r"[0-9a-f]{4,64}", text):
        # Folders are named by the first 32 hex digits of the key; a longer text must agree.
        matches = [p for p in _banks_root().iterdir()
                   if p.is_dir() and not p.name.endswith(".partial")
                   and p.name[:len(text)] == text[:len(p.name)]]
        if len(matches) == 1:
            loaded = _load_folder(matches[0])
            if loaded.key.startswith(text):
                return loaded
            matches = []
        if len(matches) > 1:
            raise BankError(f"bank key prefix {text!r} is ambiguous: "
                            f"{', '.join(sorted(p.name[:16] for p in matches))}")
    raise BankError(f"no bank at {text!r} (neither a folder nor a key in {_banks_root()}); "
                    "`qlatent bank list` shows the cached banks")


def unfinished_builds() -> list[dict[str, Any]]:
    """Interrupted builds in the cache: ``{"key", "path", "chunks", "rows"}`` per build.

    Calling :func:`build_bank` again with the same request finishes them.
    """
    out = []
    for folder in sorted(_banks_root().glob("*.partial")):
        chunks = [p for p in folder.iterdir() if _CHUNK_NAME.fullmatch(p.name)]
        rows = 0
        for path in chunks:
            try:
                with np.load(path, allow_pickle=False) as data:
                    rows += int(data["rows"].shape[0])
            except Exception:
                continue
        out.append({"key": folder.name[:-len(".partial")], "path": str(folder),
                    "chunks": len(chunks), "rows": rows})
    return out


def list_banks() -> list[dict[str, Any]]:
    """Metadata of every finished bank in the cache (not verified), oldest first.

    Each entry is the bank's metadata plus ``"path"``.
    """
    out = []
    for folder in sorted(_banks_root().iterdir()):
        meta_path = folder / "meta.json"
        if folder.is_dir() and meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, json.JSONDecodeError):
                meta = {"key": folder.name, "kind": "?", "error": "unreadable meta.json"}
            meta["path"] = str(folder)
            out.append(meta)
    return sorted(out, key=lambda m: str(m.get("created", "")))


# ----------------------------------------------------------------------------- requests


def resolve_circuit(circuit: Any, n_modes: int | None, seed: int) -> tuple[np.ndarray, str]:
    """Return ``(U complex128[m, m], name)`` for a circuit name (drawn from ``seed``) or array."""
    from qlatent import photonics

    if isinstance(circuit, str):
        check_choice("circuit", circuit, tuple(photonics.CIRCUITS))
        if n_modes is None:
            raise ValueError(f"n_modes is required to draw circuit {circuit!r}, got None")
        n_modes = check_int("n_modes", n_modes, minimum=1)
        circuit_seed = np.random.SeedSequence(seed).spawn(3)[0]
        return photonics.circuit_unitary(circuit, n_modes, circuit_seed), circuit
    if isinstance(circuit, np.ndarray) or hasattr(circuit, "__array__"):
        U = np.asarray(circuit)
        if not photonics.is_unitary(U):
            raise ValueError("circuit must be a circuit name or a unitary matrix; the array given "
                             "is not unitary to 1e-10")
        U = np.ascontiguousarray(U, dtype=np.complex128)
        if n_modes is not None and n_modes != U.shape[0]:
            raise ValueError(f"n_modes must match the unitary's size {U.shape[0]}, got {n_modes}")
        return U, "user"
    raise TypeError(f"circuit must be one of {', '.join(map(repr, photonics.CIRCUITS))} or a "
                    f"unitary array, got {type(circuit).__name__}")


def _normalize_noise(kind: str, noise: Any) -> dict[str, Any]:
    """Full, canonical noise dict (every key, defaults filled) for ``kind``."""
    from qlatent.photonics.noise import NoiseModel

    if noise is None:
        given: dict[str, Any] = {}
    elif isinstance(noise, NoiseModel):
        given = noise.as_dict()
        if kind == "photonic" and given["indistinguishability"] == 1.0:
            given.pop("indistinguishability")
    elif isinstance(noise, Mapping):
        unknown = sorted(set(noise) - set(NOISE_KEYS))
        if unknown:
            raise ValueError(f"noise has unknown keys {unknown}; valid keys are "
                             f"{', '.join(NOISE_KEYS)}")
        given = {k: v for k, v in noise.items() if v is not None}
    else:
        raise TypeError(f"noise must be a mapping, a NoiseModel or None, got "
                        f"{type(noise).__name__}")
    if kind == "photonic":
        if given.get("indistinguishability", 0.0) != 0.0:
            raise ValueError("indistinguishability is fixed to 0 for kind 'photonic' "
                             "(distinguishable photons); use kind 'quantum' with "
                             f"indistinguishability={given['indistinguishability']} instead")
        given["indistinguishability"] = 0.0
    return NoiseModel(**given).as_dict()


def _is_ideal(kind: str, noise: dict[str, Any]) -> bool:
    ideal_x = 1.0 if kind != "photonic" else 0.0
    return (noise["transmission"] == 1.0 and noise["indistinguishability"] == ideal_x
            and not noise["threshold"] and noise["dark_count_probability"] == 0.0
            and not noise["min_photons"])


def _sample_block(kind: str, U: np.ndarray, input_state: np.ndarray, noise: dict[str, Any],
                  n: int, seed: np.random.SeedSequence, n_jobs: int) -> tuple[np.ndarray, int]:
    """One seeding block: ``(int64[n, m] counts, attempted shots)``."""
    from qlatent import photonics
    from qlatent.photonics.noise import noisy_sample

    rng = np.random.default_rng(seed)
    if _is_ideal(kind, noise):
        sampler = photonics.boson_sample if kind == "quantum" else photonics.distinguishable_sample
        return sampler(U, input_state, n, rng=rng, n_jobs=n_jobs), n
    rows, acceptance = noisy_sample(U, input_state, n, rng, n_jobs=n_jobs,
                                    return_acceptance=True, **noise)
    return rows, (round(n / acceptance) if acceptance > 0 else n)


def _progress(enabled: bool, description: str, total: int, completed: int):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), disable=not enabled, transient=False)
    task = progress.add_task(description, total=total, completed=completed)
    return progress, task


_CHUNK_NAME = re.compile(r"blocks-(\d{6})-(\d{6})\.npz")


def _read_chunks(partial: Path, n_blocks: int) -> dict[int, tuple[np.ndarray, int, int]]:
    """Completed chunks of an interrupted build: first block -> (rows, attempts, stop block).

    A chunk file is written atomically, so it is complete if it is there; one that cannot be
    read anyway (disk damage) is ignored and regenerated.
    """
    found: dict[int, tuple[np.ndarray, int, int]] = {}
    if not partial.is_dir():
        return found
    for path in sorted(partial.iterdir()):
        match = _CHUNK_NAME.fullmatch(path.name)
        if not match:
            continue
        first, stop = int(match.group(1)), int(match.group(2))
        if not (0 <= first < stop <= n_blocks):
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                rows, attempts = data["rows"], int(data["attempts"])
        except Exception:
            path.unlink(missing_ok=True)
            continue
        found[first] = (rows, attempts, stop)
    return found


def _build_simulated(kind: str, U: np.ndarray, input_state: np.ndarray, noise: dict[str, Any],
                     n_samples: int, seed: int, *, block_size: int, chunk_size: int, n_jobs: int,
                     progress: bool, folder: Path, metadata: dict[str, Any]) -> Bank:
    n_modes = U.shape[0]
    n_photons = int(input_state.sum())
    dtype = _compact_dtype(n_photons + (1 if noise["dark_count_probability"] > 0 else 0))
    n_blocks = max(1, math.ceil(n_samples / block_size))
    block_seeds = np.random.SeedSequence(seed).spawn(3)[1].spawn(n_blocks)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    done = _read_chunks(partial, n_blocks)
    rows = np.zeros((n_samples, n_modes), dtype=dtype)
    covered = np.zeros(n_blocks, dtype=bool)
    attempts = 0
    for first, (chunk_rows, chunk_attempts, stop) in done.items():
        lo, hi = first * block_size, min(stop * block_size, n_samples)
        if chunk_rows.shape != (hi - lo, n_modes) or covered[first:stop].any():
            continue
        rows[lo:hi] = chunk_rows
        covered[first:stop] = True
        attempts += chunk_attempts
    blocks_per_chunk = max(1, chunk_size // block_size)
    todo = np.flatnonzero(~covered)
    bar, task = _progress(progress, f"{kind} bank {n_photons}/{n_modes}", n_samples,
                          int(sum(min((b + 1) * block_size, n_samples) - b * block_size
                                  for b in np.flatnonzero(covered))))
    with bar:
        i = 0
        while i < todo.shape[0]:
            # A chunk is a run of consecutive missing blocks, at most blocks_per_chunk long.
            first = int(todo[i])
            stop = first + 1
            while (stop - first < blocks_per_chunk and i + (stop - first) < todo.shape[0]
                   and todo[i + (stop - first)] == stop):
                stop += 1
            parts, chunk_attempts = [], 0
            for b in range(first, stop):
                n = min((b + 1) * block_size, n_samples) - b * block_size
                block, tried = _sample_block(kind, U, input_state, noise, n, block_seeds[b],
                                             n_jobs)
                parts.append(block.astype(dtype))
                chunk_attempts += tried
            chunk_rows = np.concatenate(parts, axis=0)
            lo = first * block_size
            rows[lo:lo + chunk_rows.shape[0]] = chunk_rows
            attempts += chunk_attempts

            def write(tmp: Path, chunk_rows=chunk_rows, chunk_attempts=chunk_attempts) -> None:
                with open(tmp, "wb") as handle:
                    np.savez(handle, rows=chunk_rows, attempts=np.int64(chunk_attempts))

            atomic_write(partial / f"blocks-{first:06d}-{stop:06d}.npz", write)
            bar.advance(task, chunk_rows.shape[0])
            i += stop - first
    meta = dict(metadata)
    meta["acceptance_rate"] = n_samples / attempts if attempts else 1.0
    bank = _write_bank(folder, rows, meta, U)
    shutil.rmtree(partial, ignore_errors=True)
    return bank


def fit_dirichlet_concentration(samples: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit a Dirichlet-multinomial to count samples by their mean occupancy and mean Fano factor.

    Model: N ~ the samples' own photon-number distribution, p ~ Dirichlet(A mu), s | N, p ~
    Multinomial(N, p), with mu = mean occupancy / E[N] (sum 1) and A the total concentration.
    Its moments (Mosimann 1962, mixed over N) are E[s_j] = E[N] mu_j and

        Var(s_j) = mu_j (1 - mu_j) (E[N^2] + A E[N]) / (1 + A) + mu_j^2 Var(N),

    so the mean over modes of the Fano factor Var(s_j) / E[s_j] is
    F = (1 - 1/m) (R + A) / (1 + A) + Var(N) / (m E[N]) with R = E[N^2] / E[N]. Solving for the
    samples' F: A = (R - g) / (g - 1), g = (F - Var(N) / (m E[N])) / (1 - 1/m); a fixed photon
    number n gives A = (n - r) / (r - 1), r = F / (1 - 1/m). Needs 1 < g < R: more bunched than a
    multinomial, less than a single mode.

    Returns:
        (alpha float64[m] = A mu, A).
    """
    from qlatent import photonics

    samples = np.asarray(samples)
    m = samples.shape[1]
    totals = samples.sum(axis=1, dtype=np.int64).astype(np.float64)
    mean_n = totals.mean()
    mean = photonics.mean_occupancy(samples)
    if np.any(mean <= 0):
        raise ValueError("every mode must be occupied in the bank to fit a Dirichlet-multinomial")
    fano = photonics.fano_factor(samples)
    ratio = float(np.mean(totals**2) / mean_n)
    g = (fano - totals.var() / (m * mean_n)) / (1.0 - 1.0 / m)
    if not 1.0 < g < ratio:
        raise ValueError(f"the bank's mean Fano factor {fano:.4f} is not above that of a "
                         "multinomial with its photon numbers (or is too large); no "
                         "Dirichlet-multinomial matches it")
    concentration = (ratio - g) / (g - 1.0)
    return concentration * mean / mean_n, float(concentration)


def _derive(kind: str, source: Bank, seed: int, folder: Path, metadata: dict[str, Any]) -> Bank:
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
    src = source.samples
    meta = dict(metadata)
    if kind == "shuffled":
        # Each column permuted independently: marginals kept exactly, correlations destroyed.
        rows = np.empty_like(src)
        for j in range(src.shape[1]):
            rows[:, j] = src[rng.permutation(src.shape[0]), j]
    else:
        alpha, concentration = fit_dirichlet_concentration(src)
        totals = src.sum(axis=1, dtype=np.int64)
        rows = np.empty_like(src)
        step = 1 << 16
        for start in range(0, src.shape[0], step):
            k = min(step, src.shape[0] - start)
            n = totals[rng.integers(0, totals.shape[0], size=k)]  # the bank's photon numbers
            p = rng.dirichlet(alpha, size=k)
            rows[start:start + k] = rng.multinomial(n, p)
        meta["fit"] = {"alpha": alpha.tolist(), "concentration": concentration,
                       "source_fano_factor": float(_fano(src))}
    meta["source"] = {"key": source.key, "kind": source.kind}
    meta["acceptance_rate"] = source.metadata.get("acceptance_rate", 1.0)
    return _write_bank(folder, rows, meta, source.unitary)


def _fano(samples: np.ndarray) -> float:
    from qlatent import photonics

    return photonics.fano_factor(samples)


def build_bank(kind: str, circuit: Any, n_photons: int | None, n_samples: int, seed: int, *,
               n_modes: int | None = None, input_state: Any = None, noise: Any = None,
               n_jobs: int = 1, chunk_size: int = DEFAULT_CHUNK_SIZE,
               block_size: int = DEFAULT_BLOCK_SIZE, progress: bool = True) -> Bank:
    """Build (or load from the cache) a bank of photon-count samples.

    Args:
        kind: ``"quantum"``, ``"photonic"``, ``"dirichlet_multinomial"`` or ``"shuffled"`` (the
            last two are derived from the quantum bank of the same request).
        circuit: a unitary (complex[m, m]) or a circuit name ``"haar"``, ``"1-1"``, ``"1-3-9"``
            drawn from ``seed`` (then ``n_modes`` is required).
        n_photons: photons in the first modes (``standard_input``); None means m // 2 (half
            filling). Ignored when ``input_state`` is given.
        n_samples: rows of the bank (>= 1).
        seed: non-negative int; determines the circuit (if named) and every row.
        n_modes: m, for a named circuit.
        input_state: int[m] input counts (default: ``standard_input(m, n_photons)``).
        noise: mapping (or ``NoiseModel``) of ``transmission``, ``indistinguishability``,
            ``threshold``, ``dark_count_probability``, ``min_photons``; see
            :mod:`qlatent.photonics.noise`. ``photonic`` has indistinguishability 0.
        n_jobs: threads for the sampler (does not change the rows).
        chunk_size: samples per written chunk and progress step (does not change the rows;
            rounded to whole blocks).
        block_size: samples per seeding block (changes the rows; part of the key).
        progress: show a rich progress bar on stderr.

    Returns:
        The verified :class:`Bank` (a cache hit if the same request was built before).
    """
    from qlatent import photonics

    check_choice("kind", kind, BANK_KINDS)
    n_samples = check_int("n_samples", n_samples, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    n_jobs = check_int("n_jobs", n_jobs, minimum=1)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    block_size = check_int("block_size", block_size, minimum=1)
    U, circuit_name = resolve_circuit(circuit, n_modes, seed)
    m = U.shape[0]
    if input_state is None:
        n = m // 2 if n_photons is None else check_int("n_photons", n_photons, minimum=0,
                                                       maximum=m)
        t = photonics.standard_input(m, n)
    else:
        t = np.asarray(input_state)
        if t.dtype == bool or not np.issubdtype(t.dtype, np.integer) or t.shape != (m,) \
                or np.any(t < 0):
            raise ValueError(f"input_state must be {m} non-negative integer counts, got {t!r}")
        t = t.astype(np.int64)
    source_kind = "quantum" if kind in DERIVED_KINDS else kind
    noise_dict = _normalize_noise(source_kind, noise)
    request = {"kind": source_kind, "input_state": t.tolist(), "noise": noise_dict,
               "seed": seed, "n_samples": n_samples, "block_size": block_size,
               "sampler_version": SAMPLER_VERSION}
    key = digest("qlatent-bank", request, U)
    metadata = {"key": key, "kind": source_kind, "circuit": circuit_name,
                "unitary_sha256": digest(U), "n_photons": int(t.sum()),
                "input_state": t.tolist(), "noise": noise_dict, "seed": seed,
                "block_size": block_size, "sampler_version": SAMPLER_VERSION}
    folder = _banks_root() / key[:32]
    if (folder / "meta.json").is_file():
        source = _load_folder(folder)
    else:
        source = _build_simulated(source_kind, U, t, noise_dict, n_samples, seed,
                                  block_size=block_size, chunk_size=chunk_size, n_jobs=n_jobs,
                                  progress=progress, folder=folder, metadata=metadata)
    if kind == source_kind:
        return source
    return derive_bank(kind, source, seed)


_PROVENANCE_KEYS = ("circuit", "unitary_sha256", "n_photons", "input_state", "noise",
                    "block_size", "sampler_version")


def derive_bank(kind: str, source: Bank | str | os.PathLike, seed: int) -> Bank:
    """A challenger bank derived from any bank (simulated or imported hardware samples).

    Args:
        kind: ``"dirichlet_multinomial"`` (fitted to the source's mean occupancy, mean Fano
            factor and photon-number distribution; see :func:`fit_dirichlet_concentration`) or
            ``"shuffled"`` (each column of the source permuted independently).
        source: a :class:`Bank`, a bank folder or a key.
        seed: non-negative int for the derivation.

    Returns:
        The verified derived bank (cached by kind, source key and seed), as many rows as the
        source, provenance in ``metadata["source"]``.
    """
    check_choice("kind", kind, DERIVED_KINDS)
    seed = check_int("seed", seed, minimum=0)
    source = load_bank(source)
    key = digest("qlatent-bank-derived", kind, source.key, seed, SAMPLER_VERSION)
    folder = _banks_root() / key[:32]
    if (folder / "meta.json").is_file():
        return _load_folder(folder)
    meta = {k: source.metadata[k] for k in _PROVENANCE_KEYS if k in source.metadata}
    meta.update(key=key, kind=kind, seed=seed)
    return _derive(kind, source, seed, folder, meta)


# ----------------------------------------------------------------------------- hardware


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
    bad = arr < 0
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise _bad_row(source, int(i) + 1, f"column {int(j) + 1}: {arr[i, j].item()!r} is negative")
    return arr  # validated, in its own dtype: no int64 copy of a large recording


def _read_csv(path: Path) -> np.ndarray:
    rows: list[list[int]] = []
    width = None
    with open(path, newline="") as handle:
        for line_no, record in enumerate(csv.reader(handle), start=1):
            if not record or all(not f.strip() for f in record):
                continue
            if record[0].lstrip().startswith("#"):
                continue
            fields = [f.strip() for f in record]
            if width is None and not rows and not any(_is_number(f) for f in fields):
                continue  # a header line of column names
            values = []
            for col, text in enumerate(fields, start=1):
                try:
                    value = int(text)
                except ValueError:
                    why = f"column {col}: {text!r} is not a non-negative integer"
                    raise _bad_row(str(path), line_no, why) from None
                if value < 0:
                    raise _bad_row(str(path), line_no, f"column {col}: {value} is negative")
                values.append(value)
            if width is None:
                width = len(values)
            elif len(values) != width:
                raise _bad_row(str(path), line_no,
                               f"expected {width} values (as in the first row), got {len(values)}")
            rows.append(values)
    if not rows:
        raise ValueError(f"{path}: no sample rows found")
    return np.array(rows, dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def import_bank(path: str | os.PathLike, *, min_photons: int | None = None,
                array_name: str | None = None, description: str | None = None,
                provenance: Mapping[str, Any] | None = None) -> Bank:
    """Import recorded hardware samples (count vectors, one row per shot) as a bank.

    Formats: ``.csv`` (comma separated, optional header line of names, ``#`` comments; the
    row numbers in errors are file line numbers), ``.npy``, ``.npz`` (``array_name``, or the
    only array in the file, or ``"samples"``). Rows must be non-negative integers of one width.

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
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be an existing CSV/NPY/NPZ file, got {str(path)!r}")
    suffix = path.suffix.lower()
    check_choice("file suffix", suffix, (".csv", ".npy", ".npz"))
    if min_photons is not None:
        min_photons = check_int("min_photons", min_photons, minimum=0)
    if suffix == ".csv":
        arr = _read_csv(path)
    elif suffix == ".npy":
        arr = _validate_matrix(np.load(path, allow_pickle=False), str(path))
    else:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            if array_name is None:
                array_name = names[0] if len(names) == 1 else "samples"
            if array_name not in names:
                raise ValueError(f"array_name must be one of {', '.join(map(repr, names))} for "
                                 f"{path}, got {array_name!r}")
            arr = _validate_matrix(data[array_name], f"{path}[{array_name}]")
    n_raw = arr.shape[0]
    if min_photons:
        arr = arr[arr.sum(axis=1, dtype=np.int64) >= min_photons]
        if arr.shape[0] == 0:
            raise ValueError(f"post-selection on min_photons={min_photons} kept none of the "
                             f"{n_raw} shots of {path}")
    source_sha = file_digest(path)
    key = digest("qlatent-bank-hardware", source_sha, min_photons, array_name, SAMPLER_VERSION)
    folder = _banks_root() / key[:32]
    if (folder / "meta.json").is_file():
        return _load_folder(folder)
    meta = {"key": key, "kind": "hardware", "circuit": None, "seed": None,
            "n_photons": None, "noise": {"min_photons": min_photons},
            "acceptance_rate": arr.shape[0] / n_raw,
            "source": {"file": str(path.resolve()), "sha256": source_sha, "format": suffix[1:],
                       "array_name": array_name, "raw_shots": n_raw,
                       "description": description, **dict(provenance or {})}}
    json.dumps(meta)  # provenance must be JSON-serialisable; fail before writing anything
    return _write_bank(folder, arr.astype(_compact_dtype(int(arr.max()))), meta, None)


def default_seed() -> int:
    """A fresh non-negative seed from OS entropy (recorded in the bank when no seed is given)."""
    return int(as_generator(None).integers(0, 2**63 - 1))
