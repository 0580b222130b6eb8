"""Diversity diagnostics of finished QM9 cells: is a low "# valid & unique" the metric, the
decoding or the generator?

For each cell directory (``config.json`` and ``checkpoint.pt``) ``diagnose_cell`` rebuilds the
trained generator and its latent (``rebuild_cell``), draws ``n`` latents and reports

* the strict counts (``qlatent.metrics.molecules``: one connected sanitisable molecule);
* lenient counts as older MolGAN code makes them (every sanitisable SMILES, fragments
  included, and the largest fragment of each) and signs of mode collapse
  (``qlatent.metrics.molecules.diversity``);
* the strict counts when each bond and atom type is *sampled* from the generator's softmax
  (Gumbel-max) instead of taken by the argmax.

Run (JSON on stdout)::

    python -m qlatent.experiments.diagnose CELL_DIR [CELL_DIR ...] > diagnose.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qlatent._validation import check_int
from qlatent.experiments.cell import rebuild_cell
from qlatent.experiments.tasks.qm9 import generate_smiles
from qlatent.metrics.molecules import diversity, evaluate_molecules

SEED = 12345


def diagnose_cell(cell_dir: str | Path, *, n: int = 10_000, seed: int = SEED) -> dict[str, Any]:
    """The diagnostics of one finished ``qm9`` cell (see the module docstring).

    Args:
        cell_dir: a cell directory of a ``qm9`` experiment, with its checkpoint.
        n: samples drawn (each decoding draws its own ``n``, from the same latents).
        seed: seed of the draws.

    Raises:
        FileNotFoundError, ValueError: not a cell directory, no checkpoint, not a qm9 cell.
    """
    n = check_int("n", n, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    cell_dir = Path(cell_dir)
    rebuilt = rebuild_cell(cell_dir)
    if rebuilt.config.task != "qm9":
        raise ValueError(f"{cell_dir} is a cell of task {rebuilt.config.task!r}; the "
                         "diagnostics are for 'qm9' cells")
    data, G = rebuilt.built.data, rebuilt.built.generator
    train = set(data.smiles("train"))
    smiles = generate_smiles(G, rebuilt.latent, n, seed, data.spec)
    strict = evaluate_molecules(smiles, train=train)
    sampled = evaluate_molecules(generate_smiles(G, rebuilt.latent, n, seed, data.spec,
                                                 chunk=n, decoding="sample"), train=train)
    return {
        "cell": cell_dir.as_posix(), "step": rebuilt.step, "n_samples": n,
        "strict": {k: strict[k] for k in ("validity", "n_valid_unique", "n_novel",
                                          "uniqueness")},
        "gumbel_max_decoding": {k: sampled[k] for k in ("validity", "n_valid_unique",
                                                        "n_novel")},
        **diversity(smiles, train=train),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qlatent.experiments.diagnose CELL_DIR ...``: a JSON list on stdout."""
    parser = argparse.ArgumentParser(prog="python -m qlatent.experiments.diagnose",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("cells", nargs="+", type=Path, help="qm9 cell directories")
    parser.add_argument("-n", type=int, default=10_000, help="samples per decoding")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the draws")
    args = parser.parse_args(argv)
    try:
        out = [diagnose_cell(c, n=args.n, seed=args.seed) for c in args.cells]
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    sys.exit(main())
