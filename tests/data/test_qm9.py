"""QM9 graphs: encoding, decoding, round trip, split, cache and the sampler."""

from __future__ import annotations

import csv
import importlib.util  # noqa: E402

import numpy as np
import pytest
import torch

pytest.importorskip("rdkit")
if importlib.util.find_spec("qm9pack") is None:  # its own import needs pkg_resources
    pytest.skip("qm9pack is not installed", allow_module_level=True)

from qlatent.data.qm9 import (  # noqa: E402
    QM9Graphs,
    encode_smiles,
    graph_to_mol,
    graphs_to_smiles,
    qm9_spec,
    read_qm9_smiles,
    round_trip,
)

# One worker reads QM9 once for this module (make test: --dist loadgroup).
pytestmark = [pytest.mark.chem, pytest.mark.xdist_group("qm9_data")]


@pytest.fixture(scope="module")
def all_smiles():
    return read_qm9_smiles()


@pytest.fixture(scope="module")
def subset_file(all_smiles, tmp_path_factory):
    """A small QM9-format CSV: every 50th molecule plus every charged one (2,600-odd rows)."""
    rows = [s for i, s in enumerate(all_smiles) if i % 50 == 0 or "+" in s or "-" in s]
    path = tmp_path_factory.mktemp("qm9") / "qm9_subset.csv"
    with open(path, "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["Index", "SMILES", "N_atoms"])
        for i, s in enumerate(rows):
            w.writerow([i, s, 0])
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("qm9cache")


def _graphs(subset_file, cache, **kw):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QLATENT_CACHE", str(cache))
        return QM9Graphs(files=[subset_file], workers=1, **kw)


@pytest.fixture(scope="module")
def data(subset_file, cache):
    return _graphs(subset_file, cache)


def test_reads_all_of_qm9(all_smiles):
    assert len(all_smiles) == 130_831
    assert all_smiles[:3] == ["C", "N", "O"]


@pytest.mark.parametrize("options, min_identical, max_unencodable", [
    ({"kekulize": True}, 0.999, 0.01),
    ({"kekulize": True, "charged": True}, 0.999, 0.0),
    ({"kekulize": False}, 0.97, 0.01),   # aromatic bonds lose the [nH] position (tautomers)
])
def test_round_trip_on_a_sample(all_smiles, options, min_identical, max_unencodable):
    sample = all_smiles[::97]
    r = round_trip(sample, qm9_spec(**options))
    encodable = r["n"] - r["unencodable"]
    assert r["identical"] + r["different"] == encodable
    assert r["unencodable"] <= max_unencodable * r["n"]
    assert r["identical"] >= min_identical * encodable, r["examples"]


@pytest.mark.slow
def test_round_trip_all_of_qm9(all_smiles):
    r = round_trip(all_smiles, qm9_spec(kekulize=True, charged=True))
    assert r["unencodable"] == 0
    assert r["identical"] >= 0.999 * r["n"], r["examples"]


def test_encoding_reasons_and_layout():
    spec = qm9_spec()
    x, a = encode_smiles("OC=N", spec)
    assert x.tolist() == [3, 1, 2, 0, 0, 0, 0, 0, 0]   # O, C, N, then padding
    assert a[0, 1] == a[1, 0] == 1 and a[1, 2] == a[2, 1] == 2 and a.sum() == 6
    assert encode_smiles("CCCl", spec) == "atom Cl"
    assert encode_smiles("C[NH3+]", spec) == "atom N+1"
    assert encode_smiles("CCCCCCCCCC", spec) == "too many atoms"
    assert encode_smiles("not a smiles", spec) == "unparsable"
    x, a = encode_smiles("C[NH3+]", qm9_spec(charged=True))
    assert graphs_to_smiles(x[None], a[None], qm9_spec(charged=True)) == ["C[NH3+]"]


def test_aromatic_encoding_decodes_pyrrole_nitrogen():
    spec = qm9_spec(kekulize=False)
    x, a = encode_smiles("c1cc[nH]c1", spec)
    assert (a == 4).sum() == 10                        # five aromatic bonds, both directions
    assert graphs_to_smiles(x[None], a[None], spec) == ["c1cc[nH]c1"]


def test_decoding_strictness():
    spec = qm9_spec()
    n = spec.n_atoms
    empty = np.zeros(n, np.int64), np.zeros((n, n), np.int64)
    assert graph_to_mol(*empty, spec) is None
    x = np.zeros(n, np.int64)
    a = np.zeros((n, n), np.int64)
    x[:6] = 1                                          # a carbon with five single bonds
    for j in range(1, 6):
        a[0, j] = a[j, 0] = 1
    assert graph_to_mol(x, a, spec) is None
    x2 = np.zeros(n, np.int64)
    x2[[0, 2]] = 1                                     # two unbonded carbons: fragments
    a2 = np.zeros((n, n), np.int64)
    a2[0, 1] = a2[1, 0] = 2                            # a bond to a padding slot is ignored
    assert graphs_to_smiles(x2[None], a2[None], spec) == ["C.C"]


def test_counts_split_and_cache(data, subset_file, cache):
    r = data.report
    assert r.n_source == r.n_encoded + sum(r.unencodable.values())
    assert sum(r.unencodable.values()) > 0 and all(k.startswith("atom") for k in r.unencodable)
    assert r.n_train + r.n_test == r.n_encoded == len(data)
    assert abs(r.n_test - 0.1 * r.n_encoded) <= 1
    train, test = set(data.smiles("train")), set(data.smiles("test"))
    assert len(data.smiles("all")) == len(data)
    assert not r.from_cache
    again = _graphs(subset_file, cache)
    assert again.report.from_cache
    assert again.smiles("test") == data.smiles("test")
    for s1, s2 in zip(data.graphs("train"), again.graphs("train"), strict=True):
        np.testing.assert_array_equal(s1, s2)
    other = _graphs(subset_file, cache, split_seed=1)
    assert not other.report.from_cache
    assert set(other.smiles("test")) != test
    # the stored graphs decode to the stored canonical SMILES
    x, a = data.graphs("test")
    assert graphs_to_smiles(x, a, data.spec) == data.smiles("test")
    assert train  # non-empty


def test_sample_is_one_hot_symmetric_and_deterministic(data):
    g = torch.Generator().manual_seed(3)
    edges, nodes = data.sample(64, generator=g)
    n, a, b = data.spec.n_atoms, data.spec.n_atom_types, data.spec.n_bond_types
    assert edges.shape == (64, n, n, b) and nodes.shape == (64, n, a)
    assert edges.dtype == nodes.dtype == torch.float32
    assert torch.all(edges.sum(-1) == 1) and torch.all(nodes.sum(-1) == 1)
    assert torch.equal(edges, edges.transpose(1, 2))
    assert torch.all(edges.diagonal(dim1=1, dim2=2)[:, 0] == 1)
    e2, n2 = data.sample(64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(edges, e2) and torch.equal(nodes, n2)


def test_corrupt_cache_is_rebuilt_and_says_so(data, subset_file, tmp_path, capfd):
    """A damaged processed cache is not trusted: one line on stderr names it, then it is rebuilt
    (the old code rebuilt it silently)."""
    import shutil
    from pathlib import Path

    cache = tmp_path / "cache"
    shutil.copytree(Path(data.report.cache_file).parents[1], cache)
    path = cache / "qm9" / Path(data.report.cache_file).name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    capfd.readouterr()
    rebuilt = _graphs(subset_file, cache)
    err = capfd.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"qlatent: the processed QM9 cache {path} is corrupt (")
    assert err[0].endswith("); rebuilding it")
    # then plain progress lines (a pipe here), the last with every molecule
    assert err[1].startswith("qlatent: processing QM9 once (") and str(path) in err[1]
    n = rebuilt.report.n_source
    assert err[-1].startswith(f"qlatent: processing QM9: {n:,} / {n:,} molecules (")
    assert len(err) >= 3 and all(e.startswith("qlatent: processing QM9: ") for e in err[2:])
    assert not rebuilt.report.from_cache and rebuilt.smiles("test") == data.smiles("test")
    again = _graphs(subset_file, cache)
    assert again.report.from_cache and capfd.readouterr().err == ""



@pytest.mark.parametrize("p", [0.0, 1.0])
def test_permutation_augmentation_keeps_molecules(subset_file, cache, p):
    data = _graphs(subset_file, cache, permutation_p=p)
    edges, nodes = data.sample(200, generator=torch.Generator().manual_seed(0))
    x, a = nodes.argmax(-1).numpy(), edges.argmax(-1).numpy()
    smiles = graphs_to_smiles(x, a, data.spec)
    assert set(smiles) <= set(data.smiles("train"))       # same molecules, atoms reordered
    train_x, _ = data.graphs("train")
    padded_last = (x[:, :-1] == 0) <= (x[:, 1:] == 0)     # stored graphs pad at the end
    if p == 0.0:
        assert padded_last.all()
        assert set(map(bytes, x.astype(np.int8))) <= set(map(bytes, train_x))
    else:
        assert not padded_last.all()


def test_arguments_are_validated(subset_file, cache):
    with pytest.raises(ValueError, match="permutation_p"):
        _graphs(subset_file, cache, permutation_p=1.5)
    with pytest.raises(ValueError, match="split"):
        _graphs(subset_file, cache).smiles("valid")
    with pytest.raises(ValueError, match="x must have shape"):
        graphs_to_smiles(np.zeros((2, 5)), np.zeros((2, 5, 5)), qm9_spec())


def test_to_keeps_the_graphs_where_sample_draws(subset_file, cache):
    d = _graphs(subset_file, cache)
    assert d.device == torch.device("cpu")
    before = d.sample(64, generator=torch.Generator().manual_seed(4))
    assert d.to("cpu") is d and d.to(torch.device("cpu")) is d
    after = d.sample(64, generator=torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:k'"):
        d.to("gpu")


@pytest.mark.gpu
def test_sampling_permuting_and_one_hot_on_the_gpu(subset_file, cache):
    cpu, gpu = _graphs(subset_file, cache), _graphs(subset_file, cache).to("cuda")
    assert gpu.device.type == "cuda"
    n = 20_000
    edges, nodes = gpu.sample(n, generator=torch.Generator("cuda").manual_seed(1))
    assert edges.device.type == nodes.device.type == "cuda"
    assert torch.equal(edges.sum(-1), torch.ones(edges.shape[:-1], device="cuda"))
    assert torch.equal(edges, edges.transpose(1, 2))
    ref_edges, ref_nodes = cpu.sample(n, generator=torch.Generator().manual_seed(1))
    # Another device draws other graphs, from the same distribution: each graph's share of
    # every atom and bond type (independent across graphs) has the same mean on both, within
    # 5 standard errors of the difference.
    for x, y in ((nodes.mean(1).cpu(), ref_nodes.mean(1)),
                 (edges.mean((1, 2)).cpu(), ref_edges.mean((1, 2)))):
        se = ((x.var(0) + y.var(0)) / n).sqrt() + 1e-6
        assert ((x.mean(0) - y.mean(0)).abs() <= 5 * se).all(), (x.mean(0), y.mean(0))
    with pytest.raises(ValueError, match="generator must be on the graphs' device"):
        gpu.sample(4, generator=torch.Generator().manual_seed(0))
    x, a = gpu.graphs("test")
    assert isinstance(x, np.ndarray) and x.shape[0] == len(gpu.smiles("test"))


def test_the_committed_qm9_subset_is_every_600th_molecule_of_qm9pack(all_smiles,
                                                                     qm9_every_600th):
    # tests/data/qm9_every_600th.csv stands in for read_qm9_smiles()[::600] in the task's
    # end-to-end tests (conftest.py): it must be exactly that.
    with open(qm9_every_600th, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["SMILES"] and [r[0] for r in rows[1:]] == all_smiles[::600]
