"""Diversity diagnostics of finished QM9 cells: is a low "# valid & unique" the metric, the
decoding or the generator?

For each cell directory (with checkpoint.pt and config.json) it rebuilds the generator, draws
10,000 latents and reports

* the strict counts (qlatent.metrics.molecules: one connected sanitisable molecule);
* lenient counts as older MolGAN code makes them: every sanitisable SMILES, fragments included
  ("C.CCO" counts), and the largest fragment of each;
* the strict counts when each bond and atom type is *sampled* from the generator's softmax
  (Gumbel-max) instead of taken by argmax;
* how the distinct valid molecules grow with the number of samples (1k, 2k, 5k, 10k) and the
  share of the five most frequent molecules (mode collapse).

Run:  .venv/bin/python results/table2_bf16/diagnose.py CELL_DIR [CELL_DIR ...] > out.json
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import torch
from rdkit import Chem, RDLogger

from qlatent.data.qm9 import graphs_to_smiles
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.task_qm9 import (
    build_networks,
    generate_smiles,
    load_data,
    model_params,
    task_params,
)
from qlatent.latents import get
from qlatent.metrics.molecules import canonical_valid, evaluate_molecules

RDLogger.DisableLog("rdApp.*")
N = 10_000


def gumbel_max_smiles(G, latent, n, seed, spec):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        edge_logits, node_logits = G.logits(latent.sample(n, generator=gen))

        def sample(logits):
            u = torch.rand(logits.shape, generator=gen).clamp(1e-20, 1 - 1e-7)
            return (logits - torch.log(-torch.log(u))).argmax(-1)

        bonds, x = sample(edge_logits), sample(node_logits)
    a = torch.zeros(n, G.n_atoms, G.n_atoms, dtype=torch.long)
    a[:, G._rows, G._cols] = bonds
    a[:, G._cols, G._rows] = bonds
    return graphs_to_smiles(x.numpy(), a.numpy(), spec)


def lenient(smiles, train):
    whole, largest = set(), set()
    for s in smiles:
        mol = Chem.MolFromSmiles(s) if s else None
        if mol is None:
            continue
        whole.add(Chem.MolToSmiles(mol))
        frags = Chem.GetMolFrags(mol, asMols=True)
        largest.add(Chem.MolToSmiles(max(frags, key=lambda f: f.GetNumAtoms())))
    return {"unique_with_fragments": len(whole), "novel_with_fragments": len(whole - train),
            "unique_largest_fragment": len(largest)}


def diagnose(cell_dir: Path) -> dict:
    tables = json.loads((cell_dir / "config.json").read_text())
    per_cell = ("seed", "device", "progress")  # set by the runner, not by the config
    config = ExperimentConfig.from_dict(
        {**{k: v for k, v in tables.items() if k not in ("cell", "seeds")},
         "train": {k: v for k, v in tables["train"].items() if k not in per_cell}})
    cell = tables["cell"]
    p = task_params(config.task_params)
    data = load_data(p)
    train = set(data.smiles("train"))
    state = torch.load(cell_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    G, _ = build_networks(model_params(config.model), cell["latent_dim"], data.spec, 0)
    G.load_state_dict(state["generator"])
    G.eval()
    latent = get(cell["latent"], dim=cell["latent_dim"], seed=int(tables["seeds"]["latent"]),
                 **dict(config.latent_params.get(cell["latent"], {})))
    seed = 12345
    smiles = generate_smiles(G, latent, N, seed, data.spec)
    strict = evaluate_molecules(smiles, train=train)
    canon = [c for c in canonical_valid(smiles) if c]
    counts = collections.Counter(canon)
    sampled = evaluate_molecules(gumbel_max_smiles(G, latent, N, seed, data.spec), train=train)
    return {
        "cell": cell_dir.as_posix(), "step": state["step"], "n_samples": N,
        "strict": {k: strict[k] for k in ("validity", "n_valid_unique", "n_novel",
                                          "uniqueness")},
        "lenient": lenient(smiles, train),
        "gumbel_max_decoding": {k: sampled[k] for k in ("validity", "n_valid_unique",
                                                        "n_novel")},
        "distinct_valid_by_samples": {n: len(set(c for c in canonical_valid(smiles[:n]) if c))
                                      for n in (1000, 2000, 5000, 10_000)},
        "top5_share_of_valid": sum(v for _, v in counts.most_common(5)) / max(1, len(canon)),
        "top5": counts.most_common(5),
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps([diagnose(Path(d)) for d in sys.argv[1:]], indent=1))
