"""Simulated banks: the request, its key, and a resumable build in seeded blocks and chunks.

The key is a digest of everything that determines the rows: kind, unitary bytes, input state,
noise model, seed, number of samples, seeding block size and sampler version. The same request
is a cache hit; a different one never is.

Reproducibility and resume: the rows are generated in blocks of ``block_size`` samples; block b
uses its own ``SeedSequence(seed).spawn(...)`` child, so the bank does not depend on
``chunk_size`` (how many blocks are written per file and progress step) nor on ``n_jobs``.
Finished chunks are kept in ``<key>.partial/``, each written atomically beside a
``.sha256`` file binding its bytes to the build's key (:func:`chunk_checksum`); an
interrupted build resumes from them and gives a bank
bit-identical to an uninterrupted one. A chunk without its checksum, with a wrong one, of the
wrong shape or with a row whose photon number the noise model cannot produce is not used: a
line on stderr says so and its blocks are generated again. One builder at a time works on a
partial build (see :func:`qlatent.latents.banks.store.build_lock`).

Notation: N rows, m modes, n photons, U complex128[m, m], t int64[m] the input state.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qlatent import photonics
from qlatent._io import atomic_write, atomic_write_text, digest, file_digest, notice
from qlatent._progress import progress_bar
from qlatent._random import as_generator
from qlatent._validation import check_choice, check_cost, check_int
from qlatent.latents.banks.challengers import derive_bank
from qlatent.latents.banks.store import (
    BANK_KINDS,
    DERIVED_KINDS,
    IDEAL_NOISE,
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
from qlatent.photonics.noise import NoiseModel, check_feasible, noisy_sample

DEFAULT_BLOCK_SIZE = 1 << 14
DEFAULT_CHUNK_SIZE = 1 << 16
_CHUNK_NAME = re.compile(r"blocks-(\d{6})-(\d{6})\.npz")


def default_seed() -> int:
    """A fresh non-negative seed from OS entropy (recorded in the bank when no seed is given)."""
    return int(as_generator(None).integers(0, 2**63 - 1))


def resolve_circuit(circuit: Any, n_modes: int | None, seed: int) -> tuple[np.ndarray, str]:
    """Return ``(U complex128[m, m], name)`` for a circuit name (drawn from ``seed``) or array."""
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


def noise_model(kind: str, noise: Any) -> NoiseModel:
    """The :class:`NoiseModel` of a simulated ``kind`` from a mapping, a model or None.

    ``photonic`` means distinguishable photons: its indistinguishability is 0 (a mapping may
    leave it out; any other value is refused).
    """
    model = NoiseModel.from_mapping(noise)
    if kind != "photonic":
        return model
    if isinstance(noise, NoiseModel):  # its default 1.0 stands for "not given"
        given = None if model.indistinguishability == 1.0 else model.indistinguishability
    else:
        given = noise.get("indistinguishability") if isinstance(noise, Mapping) else None
    if given is not None and given != 0.0:
        raise ValueError("indistinguishability is fixed to 0 for kind 'photonic' "
                         "(distinguishable photons); use kind 'quantum' with "
                         f"indistinguishability={given} instead")
    return NoiseModel(**{**model.as_dict(), "indistinguishability": 0.0})


def _sample_block(kind: str, U: np.ndarray, input_state: np.ndarray, noise: NoiseModel,
                  n: int, seed: np.random.SeedSequence, n_jobs: int,
                  max_operations: float | None = None) -> tuple[np.ndarray, int]:
    """One seeding block: ``(int64[n, m] counts, attempted shots)``."""
    rng = np.random.default_rng(seed)
    if not noise.deviations(IDEAL_NOISE[kind]):
        if kind == "photonic":
            return photonics.distinguishable_sample(U, input_state, n, rng=rng, n_jobs=n_jobs), n
        limit = photonics.SAMPLE_MAX_OPERATIONS if max_operations is None else max_operations
        return photonics.boson_sample(U, input_state, n, rng=rng, n_jobs=n_jobs,
                                      max_operations=limit), n
    rows, acceptance = noisy_sample(U, input_state, n, rng, n_jobs=n_jobs,
                                    return_acceptance=True, **noise.as_dict())
    return rows, (round(n / acceptance) if acceptance > 0 else n)


def _checksum_path(chunk: Path) -> Path:
    return chunk.with_name(chunk.name + ".sha256")


def chunk_checksum(key: str, chunk: Path) -> str:
    """The checksum of a chunk file of the build of ``key``: a digest of the key, the chunk's
    name (its blocks) and the SHA-256 of its bytes, so a chunk of another build, of other
    blocks, or any file beside its plain SHA-256 does not pass."""
    return digest("qlatent-bank-chunk", key, chunk.name, file_digest(chunk))


def _write_chunk(path: Path, rows: np.ndarray, attempts: int, key: str) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, rows=rows, attempts=np.int64(attempts))

    atomic_write(path, write)
    atomic_write_text(_checksum_path(path), chunk_checksum(key, path) + "\n")


def _chunk_problem(path: Path, shape: tuple[int, int], noise: NoiseModel, n_photons: int,
                   key: str) -> tuple[str | None, np.ndarray | None, int]:
    """Why a chunk file cannot be used (None if it can), its rows and attempts."""
    checksum = _checksum_path(path)
    if not checksum.is_file():
        return "has no checksum file", None, 0
    if chunk_checksum(key, path) != checksum.read_text().strip():
        return "does not match its checksum for this build (the key and its bytes)", None, 0
    try:
        with np.load(path, allow_pickle=False) as data:
            rows, attempts = data["rows"], int(data["attempts"])
    except Exception as exc:  # numpy raises several kinds for damaged files  # noqa: BLE001
        return f"is unreadable ({exc})", None, 0
    if rows.shape != shape or not np.issubdtype(rows.dtype, np.unsignedinteger):
        return f"holds {rows.dtype} {rows.shape}, expected unsigned counts {shape}", None, 0
    why = noise.check_counts(rows, n_photons)
    if why is not None:
        return why.replace("row ", "chunk row ", 1), None, 0
    return None, rows, attempts


def _read_chunks(partial: Path, n_blocks: int, block_size: int, n_samples: int, n_modes: int,
                 noise: NoiseModel, n_photons: int, key: str
                 ) -> dict[int, tuple[np.ndarray, int, int]]:
    """Usable chunks of an interrupted build: first block -> (rows, attempts, stop block).

    A chunk that cannot be used is removed (with its checksum) and announced on stderr; its
    blocks are generated again.
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
            why, rows, attempts = "covers blocks this build does not have", None, 0
        else:
            shape = (min(stop * block_size, n_samples) - first * block_size, n_modes)
            why, rows, attempts = _chunk_problem(path, shape, noise, n_photons, key)
        if why is None and rows is not None:
            found[first] = (rows, attempts, stop)
            continue
        notice(f"bank build {partial}: chunk {path.name} {why}; generating its blocks again")
        path.unlink(missing_ok=True)
        _checksum_path(path).unlink(missing_ok=True)
    return found


def unfinished_builds() -> list[dict[str, Any]]:
    """Interrupted builds in the cache: ``{"key", "path", "chunks", "rows"}`` per build.

    Counts the chunks that have a checksum file; calling :func:`build_bank` again with the same
    request finishes them.
    """
    out = []
    for folder in sorted(banks_root().glob("*.partial")):
        chunks = [p for p in folder.iterdir()
                  if _CHUNK_NAME.fullmatch(p.name) and _checksum_path(p).is_file()]
        rows = 0
        for path in chunks:
            try:
                with np.load(path, allow_pickle=False) as data:
                    rows += int(data["rows"].shape[0])
            except Exception:  # noqa: BLE001 - counted only; build_bank reports and redoes it
                continue
        out.append({"key": folder.name[:-len(".partial")], "path": str(folder),
                    "chunks": len(chunks), "rows": rows})
    return out


def _build_simulated(kind: str, U: np.ndarray, input_state: np.ndarray, noise: NoiseModel,
                     n_samples: int, seed: int, *, block_size: int, chunk_size: int, n_jobs: int,
                     progress: bool, folder: Path, metadata: dict[str, Any],
                     max_operations: float | None = None) -> Bank:
    """Build (resuming from ``<folder>.partial``) and publish; the caller holds the lock."""
    n_modes = U.shape[0]
    n_photons = int(input_state.sum())
    dtype = compact_dtype(noise.count_bounds(n_photons, n_modes)[2])
    n_blocks = max(1, math.ceil(n_samples / block_size))
    block_seeds = np.random.SeedSequence(seed).spawn(3)[1].spawn(n_blocks)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    done = _read_chunks(partial, n_blocks, block_size, n_samples, n_modes, noise, n_photons,
                        metadata["key"])
    rows = np.zeros((n_samples, n_modes), dtype=dtype)
    covered = np.zeros(n_blocks, dtype=bool)
    attempts = 0
    for first, (chunk_rows, chunk_attempts, stop) in done.items():
        if covered[first:stop].any():
            continue
        lo = first * block_size
        rows[lo:lo + chunk_rows.shape[0]] = chunk_rows
        covered[first:stop] = True
        attempts += chunk_attempts
    blocks_per_chunk = max(1, chunk_size // block_size)
    todo = np.flatnonzero(~covered)
    done = int(sum(min((b + 1) * block_size, n_samples) - b * block_size
                   for b in np.flatnonzero(covered)))
    bar, task = progress_bar(f"{kind} bank {n_photons}/{n_modes}", n_samples, completed=done,
                             enabled=progress)
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
                                             n_jobs, max_operations)
                parts.append(block.astype(dtype))
                chunk_attempts += tried
            chunk_rows = np.concatenate(parts, axis=0)
            why = noise.check_counts(chunk_rows, n_photons)
            if why is not None:  # pragma: no cover - a sampler bug, never a user error
                raise RuntimeError(f"the {kind} sampler produced an impossible row: {why}")
            lo = first * block_size
            rows[lo:lo + chunk_rows.shape[0]] = chunk_rows
            attempts += chunk_attempts
            _write_chunk(partial / f"blocks-{first:06d}-{stop:06d}.npz", chunk_rows,
                         chunk_attempts, metadata["key"])
            bar.advance(task, chunk_rows.shape[0])
            i += stop - first
    meta = dict(metadata)
    meta["acceptance_rate"] = n_samples / attempts if attempts else 1.0
    bank = publish(folder, rows, meta, U)
    shutil.rmtree(partial, ignore_errors=True)
    return bank


def build_bank(kind: str, circuit: Any, n_photons: int | None, n_samples: int, seed: int, *,
               n_modes: int | None = None, input_state: Any = None, noise: Any = None,
               n_jobs: int = 1, chunk_size: int = DEFAULT_CHUNK_SIZE,
               block_size: int = DEFAULT_BLOCK_SIZE, progress: bool = True,
               max_operations: float | None = None) -> Bank:
    """Build (or load from the cache) a bank of photon-count samples.

    Args:
        kind: ``"quantum"``, ``"photonic"``, ``"dirichlet_multinomial"`` or ``"shuffled"`` (the
            last two are derived from the quantum bank of the same request).
        circuit: a unitary (complex[m, m]) or a circuit name ``"haar"``, ``"1-1"``, ``"1-3-9"``
            drawn from ``seed`` (then ``n_modes`` is required).
        n_photons: photons in the first modes (``standard_input``); None means m // 2 (half
            filling). Ignored when ``input_state`` is given.
        n_samples: rows of the bank (>= 1; refused when the rows would not fit in memory, see
            :func:`~qlatent.latents.banks.store.check_bank_size`).
        seed: non-negative int; determines the circuit (if named) and every row.
        n_modes: m, for a named circuit.
        input_state: int[m] input counts (default: ``standard_input(m, n_photons)``).
        noise: a :class:`~qlatent.photonics.noise.NoiseModel`, a mapping of its fields
            (``transmission``, ``indistinguishability``, ``threshold``,
            ``dark_count_probability``, ``min_photons``) or None (ideal); ``photonic`` has
            indistinguishability 0.
        n_jobs: threads for the sampler (does not change the rows).
        chunk_size: samples per written chunk and progress step (does not change the rows;
            rounded to whole blocks).
        block_size: samples per seeding block (changes the rows; part of the key).
        progress: show a rich progress bar on stderr.
        max_operations: the most multiply-adds the sampling of a ``quantum`` bank may cost
            (:func:`qlatent.photonics.sampling_cost` of the whole bank; default
            ``photonics.SAMPLE_MAX_OPERATIONS``); a larger request is refused before anything
            is drawn or written.

    Returns:
        The verified :class:`Bank` (a cache hit if the same request was built before; a
        concurrent build of the same request waits for the first and loads its bank).
    """
    check_choice("kind", kind, BANK_KINDS)
    n_samples = check_int("n_samples", n_samples, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    n_jobs = check_int("n_jobs", n_jobs, minimum=1)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    block_size = check_int("block_size", block_size, minimum=1)
    source_kind = "quantum" if kind in DERIVED_KINDS else kind
    model = noise_model(source_kind, noise)
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
    n_total = int(t.sum())
    check_feasible(n_total, m, model)
    limit = photonics.SAMPLE_MAX_OPERATIONS if max_operations is None else float(max_operations)
    if source_kind == "quantum" and n_total > 0:
        method = ("table" if np.any(t > 1)
                  or photonics.fock_space_size(m, n_total) <= photonics.TABLE_MAX_STATES
                  else "clifford")
        check_cost(f"a quantum bank of {n_samples:,} samples of {n_total} photons in {m} modes",
                   photonics.sampling_cost(m, n_total, n_samples, method), limit,
                   unit="multiply-adds", knob="max_operations")
    check_bank_size(n_samples, m, compact_dtype(model.count_bounds(n_total, m)[2]).itemsize)
    request = {"kind": source_kind, "input_state": t.tolist(), "noise": model.as_dict(),
               "seed": seed, "n_samples": n_samples, "block_size": block_size,
               "sampler_version": SAMPLER_VERSION}
    key = digest("qlatent-bank", request, U)
    metadata = {"key": key, "kind": source_kind, "circuit": circuit_name,
                "unitary_sha256": digest(U), "n_photons": n_total,
                "input_state": t.tolist(), "noise": model.as_dict(), "seed": seed,
                "block_size": block_size, "sampler_version": SAMPLER_VERSION}
    folder = banks_root() / key[:32]
    if is_finished(folder):
        source = load_folder(folder, key)
    else:
        with build_lock(folder.name):
            if is_finished(folder):  # built by another process while this one waited
                source = load_folder(folder, key)
            else:
                partial = folder.with_name(folder.name + ".partial")
                try:
                    source = _build_simulated(source_kind, U, t, model, n_samples, seed,
                                              block_size=block_size, chunk_size=chunk_size,
                                              n_jobs=n_jobs, progress=progress, folder=folder,
                                              metadata=metadata, max_operations=limit)
                except BaseException:
                    with contextlib.suppress(OSError):
                        partial.rmdir()  # only if no chunk was finished: no empty litter
                    raise
    if kind == source_kind:
        return source
    return derive_bank(kind, source, seed)

