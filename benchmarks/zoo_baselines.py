"""The classical baselines of the model zoo on bars-and-stripes 3 x 3 and cardinality 12/6.

Fits ``bernoulli_fit`` and ``made`` (64 hidden units) by exact NLL with Adam (lr 0.01, 1,000
steps, initial seed 0) and prints KL(data || model), the exact and sampled valid fraction and
qBAS on 1,000 samples for BAS; Gili et al.'s generalisation metrics on 10,000 samples for
cardinality (30 % of the 924 valid strings for training, split seed 0). Run:

    .venv/bin/python benchmarks/zoo_baselines.py

About a minute on one core.
"""

from __future__ import annotations

import time

import torch

import qlatent as ql
from qlatent.data import discrete
from qlatent.metrics import discrete as dm
from qlatent.train.likelihood import Adam, LikelihoodConfig, fit_distribution

MODELS = [("bernoulli_fit", {}), ("made", {"hidden_sizes": (64,)})]


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    bas = discrete.bars_and_stripes(3)
    index = dm.bits_to_integers(bas.states)
    for name, params in MODELS:
        model = ql.latents.get(name, dim=9, seed=0, **params)
        fit_distribution(model, bas.states, LikelihoodConfig(steps=1000, optimizer=Adam(lr=0.01),
                                                             log_every=1000), seed=0,
                         weights=bas.probs)
        q = model.output_distribution()[1].detach().numpy()[index]
        x = model.sample_counts(1000, generator=torch.Generator().manual_seed(1)).numpy()
        print(f"{name:14s} BAS 3x3: KL {dm.kl_divergence(bas.probs, q):.4f}  "
              f"chi exact {q.sum():.4f}  chi(1000) {dm.valid_fraction(x, bas.states):.4f}  "
              f"qBAS(1000) {dm.qbas_score(x, 3):.4f}  [{time.perf_counter() - start:.0f} s]")
    card = discrete.cardinality(12, 6, train_fraction=0.3, rng=0)
    solutions = discrete.solutions(card)
    for name, params in MODELS:
        model = ql.latents.get(name, dim=12, seed=0, **params)
        fit_distribution(model, card.data, LikelihoodConfig(steps=1000, optimizer=Adam(lr=0.01),
                                                            batch_size=None, log_every=1000),
                         seed=0)
        x = model.sample_counts(10_000, generator=torch.Generator().manual_seed(1)).numpy()
        scores = dm.generalization_metrics(x, card.data, solutions)
        print(f"{name:14s} cardinality 12/6, 30 %: "
              + "  ".join(f"{k} {v:.4f}" for k, v in scores.items())
              + f"  [{time.perf_counter() - start:.0f} s]")


if __name__ == "__main__":
    main()
