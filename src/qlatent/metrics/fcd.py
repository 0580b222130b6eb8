"""Fréchet ChemNet Distance (FCD) with the ``fcd`` package's ChemNet, cached reference statistics.

Notation: X generated molecules, Y reference molecules; φ(·) ∈ R^512 ChemNet's penultimate
activations; μ, Σ their mean and covariance (float64).

    FCD(X, Y) = ‖μ_X − μ_Y‖² + Tr(Σ_X + Σ_Y − 2 (Σ_X Σ_Y)^{1/2})

Lower is better (0 for identical statistics). Tr((Σ_X Σ_Y)^{1/2}) is computed as
Σ_i sqrt(λ_i) with λ_i the eigenvalues of the symmetric PSD matrix Σ_X^{1/2} Σ_Y Σ_X^{1/2}
(same spectrum as Σ_X Σ_Y), which avoids the complex round-off of a general ``sqrtm``.

Statistics follow torchmetrics' FID: sufficient statistics (count, sum, sum of outer products)
accumulated in float64, so batched accumulation equals one-shot. Reference statistics of a
SMILES list are computed once and cached under ``cache_dir("fcd")`` keyed by a digest of the
list, the ChemNet weights and the format version, written atomically. Every cache entry has a
``.sha256`` file beside it binding its bytes to its key; an entry without one, or that does
not match it (a damaged or edited file), is announced on stderr and computed again, never used.

QM9's reference (the training split of the qm9 task's defaults) ships with the package
(``SHIPPED_REFERENCE``: ``.npz`` of count, mean and covariance, and a ``.json`` of the key and
provenance): :func:`reference_statistics` returns it, verified, when the request's key is its
key, so the first evaluation on a fresh machine does not run ChemNet over QM9.

References: Preuer et al., "Fréchet ChemNet Distance", J. Chem. Inf. Model. 58, 1736 (2018),
arXiv:1803.09518; the ``fcd`` package (ChemNet weights shipped in its wheel, padding 350).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qlatent._chem import fcd_module
from qlatent._io import (
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    cache_dir,
    digest,
    file_digest,
    notice,
)
from qlatent._progress import progress_bar
from qlatent._random import RngLike, as_generator
from qlatent._validation import check_device, check_int

__all__ = ["Statistics", "chemnet_activations", "statistics", "smiles_statistics",
           "frechet_distance", "fcd", "fcd_to_reference", "reference_statistics",
           "heldout_fcd", "shipped_statistics", "chemnet_digest", "write_shipped_reference",
           "HIGHER_IS_BETTER", "SHIPPED_REFERENCE"]

#: Direction of this module's metric, by its name in metrics.json (``qlatent.metrics.direction``).
HIGHER_IS_BETTER = {"fcd": False}
FORMAT_VERSION = 1
_PAD_LENGTH = 350  # the fcd package's default; other lengths change the scores
#: The shipped reference statistics, without suffix: ``.npz`` (count, mean, covariance) and
#: ``.json`` (key, SHA-256 of the ``.npz``, provenance).
SHIPPED_REFERENCE = Path(__file__).parent / "data" / "qm9_chemnet_reference"


@dataclass(frozen=True)
class Statistics:
    """Sufficient statistics of activations: count n, Σφ (float64[d]), Σφφᵀ (float64[d, d])."""

    count: int
    total: np.ndarray
    outer: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """μ (float64[d])."""
        return self.total / self.count

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased Σ (float64[d, d]) = (Σφφᵀ − n μμᵀ) / (n − 1)."""
        mu = self.mean
        return (self.outer - self.count * np.outer(mu, mu)) / (self.count - 1)

    def __add__(self, other: Statistics) -> Statistics:
        return Statistics(self.count + other.count, self.total + other.total,
                          self.outer + other.outer)


def statistics(activations: np.ndarray) -> Statistics:
    """Sufficient statistics of activations float[N, d] (N >= 2), accumulated in float64."""
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"activations must have shape [N >= 2, d], got {list(a.shape)}")
    return Statistics(a.shape[0], a.sum(axis=0), a.T @ a)


def _distinct(smiles: Sequence[str]) -> tuple[list[str], np.ndarray]:
    if isinstance(smiles, str):
        raise TypeError("smiles must be a sequence of SMILES strings, got one str")
    smiles = list(smiles)
    if len(smiles) < 2:
        raise ValueError(f"FCD statistics need at least 2 molecules, got {len(smiles)}")
    distinct, counts = np.unique(np.asarray(smiles, dtype=object).astype(str),
                                 return_counts=True)
    return distinct.tolist(), counts


def _weighted(distinct: list[str], counts: np.ndarray, device: str = "cpu") -> Statistics:
    a = chemnet_activations(distinct, device=device).astype(np.float64)
    w = counts.astype(np.float64)
    return Statistics(int(counts.sum()), w @ a, (a * w[:, None]).T @ a)


def smiles_statistics(smiles: Sequence[str], *, device: str = "cpu") -> Statistics:
    """ChemNet statistics of a SMILES list; each distinct string goes through ChemNet once.

    Duplicates enter with their multiplicity c_i (Σ c_i φ_i, Σ c_i φ_i φ_iᵀ), so the result
    equals ``statistics(chemnet_activations(smiles))`` at a fraction of the cost for generated
    sets, which repeat molecules. ``device``: where ChemNet runs (``chemnet_activations``).
    """
    return _weighted(*_distinct(smiles), device=device)


def frechet_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray,
                     cov2: np.ndarray) -> float:
    """Fréchet distance between N(mean1, cov1) and N(mean2, cov2) (formula in module docstring).

    Args:
        mean1, mean2: float[d].
        cov1, cov2: symmetric PSD float[d, d].
    """
    m1, m2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    c1, c2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    d = m1.shape[0] if m1.ndim == 1 else -1
    for name, m, c in (("1", m1, c1), ("2", m2, c2)):
        if m.shape != (d,) or c.shape != (d, d):
            raise ValueError(f"mean{name} must be [d] and cov{name} [d, d] with a common d; got "
                             f"{list(m.shape)} and {list(c.shape)}")
    w, v = np.linalg.eigh((c1 + c1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ ((c2 + c2.T) / 2) @ root1
    lam = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(lam, 0.0, None)).sum())
    diff = m1 - m2
    return float(diff @ diff + np.trace(c1) + np.trace(c2) - 2.0 * tr_sqrt)


@functools.cache
def _chemnet(device: str = "cpu"):
    # One ChemNet per device (the weights ship inside the fcd wheel), in eval mode.

    return fcd_module().load_ref_model().to(device).eval()


@functools.lru_cache(maxsize=1)
def chemnet_digest() -> str:
    """SHA-256 of the ChemNet weights the ``fcd`` package ships (part of every cache key)."""
    return file_digest(Path(fcd_module().__file__).parent / "ChemNet_v0.13_pretrained.pt")


def chemnet_activations(smiles: Sequence[str], *, batch_size: int = 1000,
                        device: str = "cpu") -> np.ndarray:
    """ChemNet penultimate activations float32[N, 512] of SMILES strings.

    Featurisation is the ``fcd`` package's (one-hot over its vocabulary, end token, padded to
    350, divided by the vocabulary size), so scores match ``fcd.get_fcd``. ``device``
    (``"cpu"``, ``"cuda"``, ``"cuda:k"``) is where ChemNet runs: a run's own training device,
    so a GPU run scores on its GPU (equal to the CPU's to float32 round-off).
    """
    import torch  # torch-free: qlatent.metrics imports no torch until a metric needs it

    if isinstance(smiles, str):
        raise TypeError("smiles must be a sequence of SMILES strings, got one str")
    smiles = list(smiles)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    device = check_device(device)
    if not smiles:
        return np.zeros((0, 512), dtype=np.float32)
    get_one_hot = fcd_module().utils.get_one_hot
    model = _chemnet(device)
    out = []
    with torch.inference_mode():
        for start in range(0, len(smiles), batch_size):
            chunk = smiles[start:start + batch_size]
            x = np.stack([get_one_hot(s, pad_len=_PAD_LENGTH) for s in chunk])
            x = torch.from_numpy((x / x.shape[2]).astype(np.float32)).to(device)
            out.append(model(x.transpose(1, 2)).cpu().numpy().astype(np.float32))
    return np.concatenate(out)


def reference_statistics(smiles: Sequence[str], *, chunk: int = 5000,
                         device: str = "cpu", progress: bool = True) -> Statistics:
    """ChemNet statistics of ``smiles``, computed once and cached (keyed by the list's digest).

    The shipped QM9 reference (:func:`shipped_statistics`) is returned when its key is the
    request's. Otherwise the distinct molecules are processed in chunks whose statistics are
    cached as they finish (atomically, verified like the total), so an interrupted computation
    (the QM9 training set takes ChemNet minutes) resumes where it stopped; the chunk files are
    removed once the total is written. ``device``: where ChemNet runs if they must be computed
    (the cache is the same whichever). ``progress``: report the chunks on stderr when there is
    more than one (a transient bar on a terminal, a plain line per chunk otherwise).
    """
    chunk = check_int("chunk", chunk, minimum=1)
    smiles = list(smiles)
    key = reference_key(smiles)
    shipped = shipped_statistics(key)
    if shipped is not None:
        return shipped
    path = cache_dir("fcd") / f"reference-{key[:24]}.npz"
    cached = _load_verified(path, key)
    if cached is not None:
        return cached
    distinct, counts = _distinct(smiles)
    parts = cache_dir("fcd", f"reference-{key[:24]}.parts")
    starts = range(0, len(distinct), chunk)
    total = None
    with _ChunkProgress(len(starts), len(distinct), enabled=progress) as report:
        for k, start in enumerate(starts):
            part = parts / f"chunk-{k:05d}-{chunk}.npz"
            stats = _load_verified(part, key)
            if stats is None:
                stats = _weighted(distinct[start:start + chunk], counts[start:start + chunk],
                                  device)
                _save_verified(part, stats, key)
            total = stats if total is None else total + stats
            report.advance(min(chunk, len(distinct) - start))
    _save_verified(path, total, key)
    for part in parts.glob("chunk-*"):
        part.unlink(missing_ok=True)
    parts.rmdir()
    return total


def reference_key(smiles: Sequence[str]) -> str:
    """The cache key of a reference list: a digest of the format version, the ChemNet weights,
    the padding length and the SMILES in order."""
    return digest("fcd-reference", FORMAT_VERSION, chemnet_digest(), _PAD_LENGTH, list(smiles))


class _ChunkProgress:
    """Progress over the chunks of a reference: a transient rich bar on a terminal, a plain line
    per chunk on stderr otherwise; nothing for a single chunk."""

    def __init__(self, n_chunks: int, n_molecules: int, *, enabled: bool) -> None:
        self.enabled = enabled and n_chunks > 1
        self.tty = sys.stderr.isatty()
        self.total, self.done, self.chunks = n_molecules, 0, 0
        self.bar = self.task = None
        if self.enabled and self.tty:
            self.bar, self.task = progress_bar("ChemNet reference statistics", n_molecules,
                                               transient=True)

    def __enter__(self) -> _ChunkProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def advance(self, n: int) -> None:
        self.done += n
        self.chunks += 1
        if self.bar is not None:
            self.bar.advance(self.task, n)
        elif self.enabled:
            notice(f"ChemNet reference statistics: {self.done:,} / {self.total:,} molecules")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _checksum(key: str, path: Path) -> str:
    """A cache entry's checksum: its key, its name and the SHA-256 of its bytes."""
    return digest("qlatent-fcd-cache", key, path.name, file_digest(path))


def _load_verified(path: Path, key: str) -> Statistics | None:
    """The statistics cached at ``path`` for ``key``, or None (absent, or announced and
    removed when it is damaged or does not match its checksum)."""
    if not path.is_file():
        return None
    sidecar = path.with_name(path.name + ".sha256")
    why = None
    try:
        if not sidecar.is_file():
            why = "has no checksum file"
        elif sidecar.read_text().strip() != _checksum(key, path):
            why = "does not match its checksum (edited, damaged or of another request)"
        else:
            return _load_statistics(path)
    except (OSError, KeyError, ValueError) as exc:
        why = f"is unreadable ({type(exc).__name__}: {str(exc)[:100]})"
    notice(f"the FCD cache entry {path} {why}; computing it again")
    path.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    return None


def _load_statistics(path: Path) -> Statistics:
    with np.load(path, allow_pickle=False) as f:
        stats = Statistics(int(f["count"]), f["total"], f["outer"])
    d = stats.total.shape[0] if stats.total.ndim == 1 else -1
    if stats.count < 1 or stats.outer.shape != (d, d):
        raise ValueError(f"count {stats.count}, total {list(stats.total.shape)}, outer "
                         f"{list(stats.outer.shape)}")
    return stats


def _save_statistics(path: Path, stats: Statistics) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, count=stats.count, total=stats.total, outer=stats.outer)

    atomic_write(path, write)


def _save_verified(path: Path, stats: Statistics, key: str) -> None:
    _save_statistics(path, stats)
    atomic_write_text(path.with_name(path.name + ".sha256"), _checksum(key, path) + "\n")


def shipped_statistics(key: str) -> Statistics | None:
    """The shipped reference statistics if ``key`` is theirs (None otherwise, or if none ship).

    Raises:
        ValueError: the shipped ``.npz`` does not match the SHA-256 its ``.json`` records, or
            holds arrays of the wrong shape (a damaged installation: reinstall qlatent).
    """
    meta_path = SHIPPED_REFERENCE.with_suffix(".json")
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("key") != key:
        return None
    path = SHIPPED_REFERENCE.with_suffix(".npz")
    if not path.is_file() or file_digest(path) != meta.get("sha256"):
        raise ValueError(f"{path} does not match the SHA-256 in {meta_path}: the installed "
                         "qlatent is damaged; reinstall it")
    with np.load(path, allow_pickle=False) as f:
        count, mean, cov = int(f["count"]), f["mean"].astype(np.float64), f["covariance"]
    cov = cov.astype(np.float64)
    if count < 2 or mean.ndim != 1 or cov.shape != (mean.shape[0], mean.shape[0]):
        raise ValueError(f"{path} holds count {count}, mean {list(mean.shape)}, covariance "
                         f"{list(cov.shape)}; expected count >= 2, [d] and [d, d]")
    # back to sufficient statistics: Σφ = n μ, Σφφᵀ = (n − 1) Σ + n μμᵀ
    return Statistics(count, count * mean, (count - 1) * cov + count * np.outer(mean, mean))


def write_shipped_reference(path: str | Path, stats: Statistics, *, key: str,
                            provenance: dict | None = None) -> Path:
    """Write ``stats`` as shipped reference files ``path.npz`` and ``path.json``.

    The ``.npz`` holds ``count`` (int64), ``mean`` float64[d] and ``covariance`` float64[d, d]
    (no pickles); the ``.json`` holds ``key`` (:func:`reference_key` of the SMILES list),
    the ``.npz``'s SHA-256, ``count`` and ``provenance``'s fields.
    """
    path = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, count=np.int64(stats.count), mean=stats.mean,
                     covariance=stats.covariance)

    npz = atomic_write(path.with_suffix(".npz"), write)
    meta = {"key": key, "sha256": file_digest(npz), "count": int(stats.count),
            "format_version": FORMAT_VERSION, "pad_length": _PAD_LENGTH,
            **dict(provenance or {})}
    atomic_write_json(path.with_suffix(".json"), meta)
    return npz


def fcd(smiles: Sequence[str], reference: Sequence[str]) -> float:
    """FCD between two SMILES lists (both need >= 2 molecules). Lower is better."""
    a = smiles_statistics(smiles)
    b = smiles_statistics(reference)
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


def fcd_to_reference(smiles: Sequence[str], reference: Sequence[str], *,
                     device: str = "cpu") -> float:
    """FCD of ``smiles`` against the cached statistics of ``reference`` (e.g. the train split).

    Numerator/denominator do not apply; both sides' statistics are over all molecules given.
    Pass valid molecules only (ChemNet reads any string, but an empty one is meaningless).
    ``device``: where ChemNet runs (``chemnet_activations``).
    """
    a = smiles_statistics(smiles, device=device)
    b = reference_statistics(reference, device=device)
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


def heldout_fcd(test: Sequence[str], train: Sequence[str], *, n: int = 10_000,
                rng: RngLike = 0) -> dict[str, float]:
    """FCD of ``n`` held-out molecules (drawn from ``test`` without replacement) against the
    cached statistics of ``train``: the floor a generator indistinguishable from the data would
    reach with this reference and sample size. The result is cached as JSON, keyed by the
    drawn molecules and the reference.

    Args:
        test: held-out SMILES (e.g. the QM9 test split); ``min(n, len(test))`` are used.
        train: the reference SMILES (e.g. the training split).
        n: molecules drawn (>= 2).
        rng: the draw's randomness (``qlatent._random.as_generator``).

    Returns:
        ``{"fcd": value, "n": molecules used}``.
    """
    n = check_int("n", n, minimum=2)
    test, train = list(test), list(train)
    if len(test) < 2:
        raise ValueError(f"test must hold at least 2 molecules, got {len(test)}")
    pick = sorted(as_generator(rng).permutation(len(test))[: min(n, len(test))].tolist())
    sample = [test[i] for i in pick]
    key = digest("heldout-fcd", 2, chemnet_digest(), _PAD_LENGTH, sample, train)
    path = cache_dir("fcd") / f"heldout-{key[:24]}.json"
    if path.is_file():
        try:
            cached = json.loads(path.read_text())
            check = cached.pop("checksum", None)
            if (set(cached) == {"fcd", "n"} and cached["n"] == len(sample)
                    and isinstance(cached["fcd"], float)
                    and check == digest("qlatent-fcd-heldout", key, cached)):
                return cached
            notice(f"the FCD cache entry {path} does not match its checksum (edited, damaged "
                   "or of another request); computing it again")
        except (OSError, ValueError, AttributeError):
            notice(f"the FCD cache entry {path} is unreadable; computing it again")
    out = {"fcd": fcd_to_reference(sample, train), "n": len(sample)}
    atomic_write_json(path, {**out, "checksum": digest("qlatent-fcd-heldout", key, out)})
    return out
