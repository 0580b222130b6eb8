"""How far each trained latent moved: its exact mean occupancy at the start (the seed's
initial θ) and at the end (the cell's checkpoint), per cell, as JSON on stdout.

    .venv/bin/python results/trained_latents/theta_moves.py RUN_DIR > theta_moves.json

For every cell whose checkpoint holds a trained latent (``latent`` key): the L1 distance
between the start and end mean-occupancy vectors (photons moved between modes, a
θ-summary that needs no sampling) and the largest change of a parameter.
"""

import json
import sys
from pathlib import Path

import torch

from qlatent.experiments import rebuild_cell


def main(run_dir: str) -> None:
    out = []
    for metrics in sorted(Path(run_dir).glob("*/*/seed-*/metrics.json")):
        cell_dir = metrics.parent
        state = torch.load(cell_dir / "checkpoint.pt", weights_only=True)
        if "latent" not in state:
            continue
        start = rebuild_cell(cell_dir, weights=False).latent
        end = rebuild_cell(cell_dir).latent
        moved = max(float((a - b).detach().abs().max()) for a, b in zip(
            start.parameters(), end.parameters(), strict=True))
        shift = float((start.shift - end.shift).abs().sum())
        out.append({"cell": str(cell_dir.relative_to(run_dir)), "max_parameter_change": moved,
                    "mean_occupancy_l1_change": shift})
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
