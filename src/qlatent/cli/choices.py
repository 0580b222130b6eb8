"""The library's names that the CLI shows in ``--help`` and lets click check, as plain tuples.

The library's own tuples live in modules that import torch (``qlatent.latents.names()``,
``qlatent.train.PRECISIONS``); the CLI starts without torch, so it keeps a copy here, and
``tests/cli/test_startup.py`` checks that each copy equals the library's (add a name to both).
"""

from __future__ import annotations

#: ``qlatent.latents.names()``: the registry's latents, in its order.
LATENT_NAMES = ("gaussian", "bernoulli", "uniform", "quantum", "photonic",
                "dirichlet_multinomial", "shuffled", "bank", "born", "bernoulli_fit", "made",
                "multinomial", "qbm", "bm", "rbm")
#: ``qlatent.train.PRECISIONS``: the training precisions.
PRECISIONS = ("fp32", "bf16")
