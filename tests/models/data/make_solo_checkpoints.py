"""Write solo_checkpoints.pt: state dicts and outputs of the models as they were before packs.

Run with the pre-pack model code (commit 7bb994c) importable as ``oldmodels``:

    mkdir -p /tmp/oldm/oldmodels && touch /tmp/oldm/oldmodels/__init__.py
    git show 7bb994c:src/qlatent/models/mlp.py > /tmp/oldm/oldmodels/mlp.py
    git show 7bb994c:src/qlatent/models/molgan.py \
        | sed 's/from qlatent.models.mlp import/from oldmodels.mlp import/' \
        > /tmp/oldm/oldmodels/molgan.py
    PYTHONPATH=/tmp/oldm .venv/bin/python tests/models/data/make_solo_checkpoints.py

Everything is float64 and saved as plain tensors (loads with ``weights_only=True``).
"""

from pathlib import Path

import torch
from oldmodels.mlp import MLP, LatentInjectedMLP
from oldmodels.molgan import MolGANGenerator, RGCNCritic

from qlatent.data.qm9 import qm9_spec


def main() -> None:
    spec = qm9_spec()
    g = torch.Generator().manual_seed(2024)
    models = {
        "mlp": MLP(3, 2, hidden=(4, 5), activation="tanh", generator=g),
        "injected": LatentInjectedMLP(3, 2, hidden=(4, 5), inject_output=True, generator=g),
        "generator": MolGANGenerator(4, spec=spec, hidden=(8, 16), generator=g),
        "critic": RGCNCritic(spec=spec, graph_units=(8, 4), aggregation_units=8,
                             dense_units=(8,), generator=g),
    }
    out: dict[str, dict[str, object]] = {}
    x = torch.randn(6, 3, generator=g, dtype=torch.float64)
    z = torch.randn(6, 4, generator=g, dtype=torch.float64)
    with torch.no_grad():
        for m in models.values():
            m.double()
        edges, nodes = (t.double() for t in models["generator"](z))
        outputs = {"mlp": models["mlp"](x), "injected": models["injected"](x),
                   "generator_edges": edges, "generator_nodes": nodes,
                   "critic": models["critic"]((edges, nodes))}
    for name, m in models.items():
        out[name] = dict(m.state_dict())
    torch.save({"state_dicts": out, "x": x, "z": z, "outputs": outputs},
               Path(__file__).with_name("solo_checkpoints.pt"))


if __name__ == "__main__":
    main()
