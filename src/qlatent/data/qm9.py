"""QM9 as dense molecular graphs, read from the ``qm9pack`` package's data files.

Notation: N molecules; n = 9 atom slots (QM9 has at most 9 heavy atoms); a atom types
(index 0 is padding, "no atom"); b bond types (index 0 is "no bond"). A molecule is

* ``X`` (int8[n]): atom type index per slot, padding slots 0;
* ``A`` (int8[n, n]): bond type index per pair, symmetric, zero diagonal.

Hydrogens are implicit (RDKit recomputes them from valence on decoding). Atom types are
``(symbol, formal charge)`` pairs: by default C, N, O, F (the paper's, MolGAN's); with
``charged=True`` also N+, O-, C-, N-, which appear in 443 zwitterions of QM9. Bond types are none,
single, double, triple, aromatic; with ``kekulize=True`` molecules are stored in a Kekulé form and
the aromatic channel stays empty (RDKit re-perceives aromaticity on decoding).

Molecules that cannot be encoded (an atom outside the vocabulary, more than n heavy atoms, an
unparsable SMILES) are counted per reason and reported in ``QM9Graphs.report``; they are never
dropped silently.

Source: Ramakrishnan et al., "Quantum chemistry structures and properties of 134 kilo molecules",
Sci. Data 1, 140022 (2014), as packaged by ``qm9pack`` (130,831 molecules with SMILES).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qlatent._chem import qm9pack_data_files, rdkit_chem
from qlatent._io import atomic_write, cache_dir, digest, file_digest, notice
from qlatent._random import check_generator
from qlatent._validation import check_choice, check_device, check_float, check_int

__all__ = [
    "GraphSpec",
    "QM9Graphs",
    "qm9_spec",
    "encode_smiles",
    "graph_to_mol",
    "graphs_to_smiles",
    "read_qm9_smiles",
]

#: Bumped whenever the processed format or the encoding changes (part of the cache key).
FORMAT_VERSION = 1

_NEUTRAL_ATOMS: tuple[tuple[str, int], ...] = (("C", 0), ("N", 0), ("O", 0), ("F", 0))
_CHARGED_ATOMS: tuple[tuple[str, int], ...] = (("N", 1), ("O", -1), ("C", -1), ("N", -1))
BOND_NAMES: tuple[str, ...] = ("none", "single", "double", "triple", "aromatic")
SPLITS: tuple[str, ...] = ("train", "test", "all")


@dataclass(frozen=True)
class GraphSpec:
    """Shape and vocabulary of a dense molecular graph.

    Attributes:
        n_atoms: number of atom slots n.
        atom_types: ``(symbol, formal_charge)`` for atom type indices 1..a-1 (index 0 = padding).
        bond_types: names of bond type indices 0..b-1 (index 0 = no bond).
        kekulize: whether the data were stored in a Kekulé form (aromatic channel unused).
    """

    n_atoms: int = 9
    atom_types: tuple[tuple[str, int], ...] = _NEUTRAL_ATOMS
    bond_types: tuple[str, ...] = BOND_NAMES
    kekulize: bool = True

    @property
    def n_atom_types(self) -> int:
        """a: number of node classes, padding included."""
        return len(self.atom_types) + 1

    @property
    def n_bond_types(self) -> int:
        """b: number of edge classes, "no bond" included."""
        return len(self.bond_types)

    @property
    def atom_labels(self) -> tuple[str, ...]:
        """Readable labels, e.g. ``("pad", "C", "N", "O", "F")``."""
        return ("pad",) + tuple(s + ("" if q == 0 else ("+" if q > 0 else "-") * abs(q))
                                for s, q in self.atom_types)


def qm9_spec(*, charged: bool = False, kekulize: bool = True) -> GraphSpec:
    """The QM9 graph spec: 9 slots, atoms [pad, C, N, O, F] (+ charged ones), 5 bond types."""
    atoms = _NEUTRAL_ATOMS + (_CHARGED_ATOMS if charged else ())
    return GraphSpec(n_atoms=9, atom_types=atoms, bond_types=BOND_NAMES, kekulize=bool(kekulize))


def _check_spec(spec: GraphSpec) -> GraphSpec:
    if not isinstance(spec, GraphSpec):
        raise TypeError(f"spec must be a GraphSpec, got {type(spec).__name__}")
    return spec


# --------------------------------------------------------------------------- encoding


def _rdkit_bond_types(chem) -> list:
    bt = chem.BondType
    return [None, bt.SINGLE, bt.DOUBLE, bt.TRIPLE, bt.AROMATIC]


def encode_smiles(smiles: str, spec: GraphSpec) -> tuple[np.ndarray, np.ndarray] | str:
    """Encode one SMILES as ``(X int8[n], A int8[n, n])``, or return the reason it cannot be.

    Atoms keep the order of the SMILES string (RDKit's parse order). The reason strings are
    ``"unparsable"``, ``"too many atoms"``, ``"atom <label>"`` (outside the vocabulary) and
    ``"bond <type>"``.
    """
    chem = rdkit_chem()
    _check_spec(spec)
    mol = chem.MolFromSmiles(smiles)
    if mol is None:
        return "unparsable"
    if spec.kekulize:
        try:
            chem.Kekulize(mol, clearAromaticFlags=True)
        except Exception:  # noqa: BLE001 - RDKit raises its own exception types
            return "kekulize"
    n = mol.GetNumAtoms()
    if n > spec.n_atoms or n == 0:
        return "too many atoms" if n else "empty"
    atom_index = {t: i + 1 for i, t in enumerate(spec.atom_types)}
    x = np.zeros(spec.n_atoms, dtype=np.int8)
    for atom in mol.GetAtoms():
        key = (atom.GetSymbol(), atom.GetFormalCharge())
        k = atom_index.get(key)
        if k is None or atom.GetNumRadicalElectrons():
            return f"atom {key[0]}{key[1]:+d}" if key[1] else f"atom {key[0]}"
        x[atom.GetIdx()] = k
    bond_index = {t: i for i, t in enumerate(_rdkit_bond_types(chem)) if t is not None}
    a = np.zeros((spec.n_atoms, spec.n_atoms), dtype=np.int8)
    for bond in mol.GetBonds():
        k = bond_index.get(bond.GetBondType())
        if k is None:
            return f"bond {bond.GetBondType()}"
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        a[i, j] = a[j, i] = k
    return x, a


def _canonical(chem, mol) -> str:
    return chem.MolToSmiles(mol, isomericSmiles=False, canonical=True)


def canonical_smiles(smiles: str) -> str | None:
    """Canonical, non-isomeric RDKit SMILES of ``smiles``, or ``None`` if it does not parse."""
    chem = rdkit_chem()
    mol = chem.MolFromSmiles(smiles)
    return None if mol is None else _canonical(chem, mol)


def graph_to_mol(x: np.ndarray, a: np.ndarray, spec: GraphSpec):
    """Build a sanitised RDKit molecule from one argmax graph, or ``None`` if it is not one.

    Args:
        x (int[n]): atom type indices (0 = padding).
        a (int[n, n]): bond type indices (0 = no bond); only the upper triangle is read.
        spec: the graph spec.

    Returns:
        ``rdkit.Chem.Mol`` (possibly several fragments) or ``None`` when there is no atom or RDKit
        cannot sanitise it (impossible valence, unkekulisable aromatic system). Bonds to padding
        slots have no atom to attach to and are ignored. An aromatic system that RDKit cannot
        kekulise is retried with one hydrogen on a single aromatic nitrogen (the pyrrole-type
        [nH] the implicit-hydrogen encoding cannot store); nothing else is repaired.
    """
    chem = rdkit_chem()
    x = np.asarray(x)
    a = np.asarray(a)
    atoms = [i for i in range(spec.n_atoms) if x[i] != 0]
    if not atoms:
        return None
    where = {slot: k for k, slot in enumerate(atoms)}
    bond_types = _rdkit_bond_types(chem)
    mol = chem.RWMol()
    for slot in atoms:
        symbol, charge = spec.atom_types[int(x[slot]) - 1]
        atom = chem.Atom(symbol)
        atom.SetFormalCharge(charge)
        mol.AddAtom(atom)
    aromatic_atoms = set()
    for ii, i in enumerate(atoms):
        for j in atoms[ii + 1:]:
            k = int(a[i, j])
            if k:
                mol.AddBond(where[i], where[j], bond_types[k])
                if k == 4:
                    aromatic_atoms.update((where[i], where[j]))
    for k in aromatic_atoms:
        mol.GetAtomWithIdx(k).SetIsAromatic(True)
    for bond in mol.GetBonds():
        if bond.GetBondType() == chem.BondType.AROMATIC:
            bond.SetIsAromatic(True)
    out = _sanitized(chem, mol)
    if out is not None or not aromatic_atoms:
        return out
    for k in sorted(aromatic_atoms):
        atom = mol.GetAtomWithIdx(k)
        if atom.GetSymbol() == "N" and atom.GetFormalCharge() == 0 and atom.GetDegree() == 2:
            trial = chem.RWMol(mol)
            trial.GetAtomWithIdx(k).SetNumExplicitHs(1)
            out = _sanitized(chem, trial)
            if out is not None:
                return out
    return None


def _sanitized(chem, mol):
    mol = chem.Mol(mol)
    try:
        chem.SanitizeMol(mol)
    except Exception:  # noqa: BLE001 - RDKit raises several exception types
        return None
    return mol


def graphs_to_smiles(x: np.ndarray, a: np.ndarray, spec: GraphSpec) -> list[str]:
    """Decode argmax graphs to SMILES, exactly as decoded.

    Args:
        x (int[B, n]): atom type indices.
        a (int[B, n, n]): bond type indices.
        spec: the graph spec.

    Returns:
        One canonical, non-isomeric SMILES per graph; fragments are kept (joined by ``"."``);
        the empty string where the graph is not a molecule (no atom, or not sanitisable).
    """
    chem = rdkit_chem()
    x = np.asarray(x)
    a = np.asarray(a)
    if x.ndim != 2 or x.shape[1] != spec.n_atoms:
        raise ValueError(f"x must have shape [B, {spec.n_atoms}], got {list(x.shape)}")
    if a.shape != (x.shape[0], spec.n_atoms, spec.n_atoms):
        raise ValueError(f"a must have shape [{x.shape[0]}, {spec.n_atoms}, {spec.n_atoms}], "
                         f"got {list(a.shape)}")
    out = []
    for xi, ai in zip(x, a, strict=True):
        mol = graph_to_mol(xi, ai, spec)
        out.append("" if mol is None else _canonical(chem, mol))
    return out


# --------------------------------------------------------------------------- reading


def read_qm9_smiles(files: Sequence[Path] | None = None) -> list[str]:
    """All SMILES of qm9pack's QM9 files (130,831), in file order; only that column is parsed."""
    files = qm9pack_data_files() if files is None else [Path(f) for f in files]
    csv.field_size_limit(1 << 30)
    out: list[str] = []
    for path in files:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            if "SMILES" not in header:
                raise ValueError(f"{path} has no SMILES column (columns: {header[:6]}...)")
            col = header.index("SMILES")
            out.extend(row[col] for row in reader)
    return out


def _encode_chunk(args: tuple[list[str], GraphSpec]) -> tuple[np.ndarray, np.ndarray,
                                                                list[str], list[str]]:
    """Worker: encode a chunk; returns X, A, canonical SMILES ("" if failed), reasons."""
    smiles, spec = args
    chem = rdkit_chem()
    n = len(smiles)
    xs = np.zeros((n, spec.n_atoms), dtype=np.int8)
    adj = np.zeros((n, spec.n_atoms, spec.n_atoms), dtype=np.int8)
    canon, reasons = [], []
    for i, s in enumerate(smiles):
        enc = encode_smiles(s, spec)
        if isinstance(enc, str):
            canon.append("")
            reasons.append(enc)
            continue
        xs[i], adj[i] = enc
        mol = chem.MolFromSmiles(s)
        canon.append(_canonical(chem, mol))
        reasons.append("")
    return xs, adj, canon, reasons


def _process(smiles: list[str], spec: GraphSpec, workers: int) -> dict:
    chunks = max(1, workers) * 4
    size = -(-len(smiles) // chunks)
    parts = [(smiles[k:k + size], spec) for k in range(0, len(smiles), size)]
    start, results = time.perf_counter(), []

    def report(result: tuple) -> None:  # a plain line per chunk: a terminal or a pipe alike
        results.append(result)
        done = sum(len(r[2]) for r in results)
        notice(f"processing QM9: {done:,} / {len(smiles):,} molecules "
               f"({time.perf_counter() - start:.0f} s)")

    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(_encode_chunk, parts):
                report(result)
    else:
        for part in parts:
            report(_encode_chunk(part))
    xs = np.concatenate([r[0] for r in results])
    adj = np.concatenate([r[1] for r in results])
    canon = [c for r in results for c in r[2]]
    reasons = [c for r in results for c in r[3]]
    return {"x": xs, "a": adj, "canonical": canon, "reasons": reasons}


# --------------------------------------------------------------------------- dataset


@dataclass
class QM9Report:
    """What processing did: counts per outcome, so nothing is dropped silently."""

    n_source: int
    n_encoded: int
    unencodable: dict[str, int] = field(default_factory=dict)
    n_train: int = 0
    n_test: int = 0
    cache_file: str = ""
    seconds: float = 0.0
    from_cache: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class QM9Graphs:
    """QM9 molecules as dense graphs, with a deterministic train/test split and a cache.

    Args:
        charged: add the charged atom types N+, O-, C-, N- (otherwise molecules with a formal
            charge are counted as unencodable).
        kekulize: store Kekulé structures (no aromatic bonds in the data).
        test_fraction: fraction of the encodable molecules held out as the test split.
        split_seed: seed of the split permutation.
        permutation_p: probability that ``sample`` randomly permutes a real graph's atom slots.
            ``to(device)`` moves the graphs to a GPU, where ``sample`` then draws, permutes and
            one-hot encodes (from a ``torch.Generator`` on that device).
        workers: processes used for the (cold) processing; 0 means ``min(2, cpu count)``.
        files: QM9 CSV files to read (default: qm9pack's).

    Attributes:
        spec (GraphSpec): shapes and vocabularies.
        report (QM9Report): counts of encoded and unencodable molecules, timing, cache file.
        device (torch.device): where the graphs are and ``sample`` works (``to``).
    """

    def __init__(self, *, charged: bool = False, kekulize: bool = True,
                 test_fraction: float = 0.1, split_seed: int = 0, permutation_p: float = 0.3,
                 workers: int = 0, files: Sequence[str | os.PathLike] | None = None) -> None:
        start = time.perf_counter()
        self.spec = qm9_spec(charged=bool(charged), kekulize=bool(kekulize))
        self.test_fraction = check_float("test_fraction", test_fraction, minimum=0.0,
                                         maximum=0.5)
        self.split_seed = check_int("split_seed", split_seed, minimum=0)
        self.permutation_p = check_float("permutation_p", permutation_p, minimum=0.0,
                                         maximum=1.0)
        workers = check_int("workers", workers, minimum=0)
        workers = workers or min(2, os.cpu_count() or 1)
        paths = qm9pack_data_files() if files is None else [Path(f) for f in files]
        key = digest("qm9", FORMAT_VERSION, [file_digest(p) for p in paths],
                     self.spec.atom_types, self.spec.bond_types, self.spec.kekulize,
                     self.test_fraction, self.split_seed)
        path = cache_dir("qm9") / f"qm9-{key[:20]}.npz"
        from_cache = path.is_file()
        if from_cache:
            try:
                arrays = self._load(path)
            except Exception as exc:  # noqa: BLE001 - a corrupt cache entry is rebuilt, not trusted
                notice(f"the processed QM9 cache {path} is corrupt ({type(exc).__name__}: "
                       f"{str(exc)[:200]}); rebuilding it")
                from_cache = False
        if not from_cache:
            notice(f"processing QM9 once ({workers} worker(s); cached after in {path})")
            arrays = self._build(paths, workers)
            atomic_write(path, lambda tmp: _save_npz(tmp, arrays))
        self._x = torch.from_numpy(arrays["x"].astype(np.int64))
        self._a = torch.from_numpy(arrays["a"].astype(np.int64))
        self._split = {"train": arrays["train"], "test": arrays["test"]}
        self._smiles_all = arrays["smiles"]
        meta = arrays["meta"]
        self.report = QM9Report(n_source=meta["n_source"], n_encoded=meta["n_encoded"],
                                unencodable=meta["unencodable"], n_train=len(arrays["train"]),
                                n_test=len(arrays["test"]), cache_file=str(path),
                                seconds=time.perf_counter() - start, from_cache=from_cache)
        self._train_index = torch.from_numpy(arrays["train"].astype(np.int64))

    # -- building and caching

    def _build(self, paths: list[Path], workers: int) -> dict:
        smiles = read_qm9_smiles(paths)
        done = _process(smiles, self.spec, workers)
        ok = np.array([r == "" for r in done["reasons"]])
        keep = np.flatnonzero(ok)
        unencodable = dict(sorted(Counter(r for r in done["reasons"] if r).items()))
        rng = np.random.default_rng(self.split_seed)
        order = rng.permutation(len(keep))
        n_test = int(round(self.test_fraction * len(keep)))
        test = np.sort(order[:n_test])
        train = np.sort(order[n_test:])
        canon = [done["canonical"][i] for i in keep]
        return {
            "x": done["x"][keep], "a": done["a"][keep],
            "train": train.astype(np.int32), "test": test.astype(np.int32),
            "smiles": canon,
            "source_index": keep.astype(np.int32),
            "meta": {"n_source": len(smiles), "n_encoded": int(len(keep)),
                     "unencodable": unencodable},
        }

    @staticmethod
    def _load(path: Path) -> dict:
        with np.load(path, allow_pickle=False) as f:
            out = {k: f[k] for k in ("x", "a", "train", "test", "source_index")}
            out["smiles"] = bytes(f["smiles"]).decode().split("\n")
            out["meta"] = json.loads(bytes(f["meta"]).decode())
        if len(out["smiles"]) != len(out["x"]):
            raise ValueError(f"corrupt QM9 cache {path}")
        return out

    # -- public API

    def __len__(self) -> int:
        return len(self._smiles_all)

    @property
    def device(self) -> torch.device:
        """Where the graphs are kept and ``sample`` draws (``to``); the CPU at first."""
        return self._x.device

    def to(self, device: str | torch.device) -> QM9Graphs:
        """Keep the graphs on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:k"``), so that
        ``sample`` draws, permutes and one-hot encodes there; returns ``self`` (moved in place,
        like ``nn.Module.to``: the many cells of a pack share one instance and one copy).
        ``graphs`` and ``smiles`` still return host arrays and lists."""
        device = torch.device(check_device(device))
        if device != self.device:
            self._x, self._a = self._x.to(device), self._a.to(device)
            self._train_index = self._train_index.to(device)
        return self

    def graphs(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """The dense graphs of a split: ``(X int8[N, n], A int8[N, n, n])``."""
        index = self._index(split).to(self.device)
        return (self._x[index].cpu().numpy().astype(np.int8),
                self._a[index].cpu().numpy().astype(np.int8))

    def smiles(self, split: str = "train") -> list[str]:
        """Canonical non-isomeric RDKit SMILES of the encodable molecules of ``split``."""
        index = self._index(split)
        return [self._smiles_all[i] for i in index.tolist()]

    def _index(self, split: str) -> torch.Tensor:
        check_choice("split", split, SPLITS)
        if split == "all":
            return torch.arange(len(self))
        return torch.from_numpy(self._split[split].astype(np.int64))

    def sample(self, n: int, *, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` training graphs (with replacement) as one-hot float tensors.

        Each drawn graph has its atom slots randomly permuted with probability
        ``permutation_p`` (the same permutation on nodes and on both edge axes). Everything
        happens on ``self.device``; ``generator`` must live there too.

        Returns:
            ``(edges float32[n, n_atoms, n_atoms, b], nodes float32[n, n_atoms, a])`` on
            ``self.device``.
        """
        n = check_int("n", n, minimum=1)
        check_generator(generator)
        device = self.device
        if generator is not None and generator.device.type != device.type:
            raise ValueError(f"generator must be on the graphs' device ({device}), got one on "
                             f"{generator.device}; move the data with to(device) or draw "
                             "from a generator there")
        pick = self._train_index[torch.randint(len(self._train_index), (n,),
                                               generator=generator, device=device)]
        x = self._x[pick]
        a = self._a[pick]
        if self.permutation_p > 0:
            m = self.spec.n_atoms
            perm = torch.argsort(torch.rand(n, m, generator=generator, device=device), dim=1)
            keep = torch.rand(n, generator=generator, device=device) >= self.permutation_p
            perm[keep] = torch.arange(m, device=device)
            x = torch.gather(x, 1, perm)
            a = torch.gather(a, 1, perm[:, :, None].expand(n, m, m))
            a = torch.gather(a, 2, perm[:, None, :].expand(n, m, m))
        edges = torch.nn.functional.one_hot(a, self.spec.n_bond_types).float()
        nodes = torch.nn.functional.one_hot(x, self.spec.n_atom_types).float()
        return edges, nodes

    def __repr__(self) -> str:
        r = self.report
        return (f"QM9Graphs(train={r.n_train}, test={r.n_test}, unencodable="
                f"{sum(r.unencodable.values())}, atoms={self.spec.atom_labels}, "
                f"kekulize={self.spec.kekulize})")


def _save_npz(tmp: Path, arrays: dict) -> None:
    smiles = np.frombuffer("\n".join(arrays["smiles"]).encode(), dtype=np.uint8)
    meta = np.frombuffer(json.dumps(arrays["meta"]).encode(), dtype=np.uint8)
    with open(tmp, "wb") as handle:
        np.savez(handle, x=arrays["x"], a=arrays["a"], train=arrays["train"],
                 test=arrays["test"], source_index=arrays["source_index"], smiles=smiles,
                 meta=meta)


def round_trip(smiles: Sequence[str], spec: GraphSpec) -> dict:
    """Encode → decode → canonical SMILES for each of ``smiles``; count the outcomes.

    Returns:
        ``{"n": len(smiles), "unencodable": count, "identical": count, "different": count,
        "examples": [(original, decoded), ...] (up to 10 differences)}``; "identical" compares
        canonical non-isomeric SMILES.
    """
    chem = rdkit_chem()
    out = {"n": len(smiles), "unencodable": 0, "identical": 0, "different": 0, "examples": []}
    for s in smiles:
        enc = encode_smiles(s, spec)
        if isinstance(enc, str):
            out["unencodable"] += 1
            continue
        mol = graph_to_mol(enc[0], enc[1], spec)
        decoded = "" if mol is None else _canonical(chem, mol)
        if decoded == _canonical(chem, chem.MolFromSmiles(s)):
            out["identical"] += 1
        else:
            out["different"] += 1
            if len(out["examples"]) < 10:
                out["examples"].append((s, decoded))
    return out

