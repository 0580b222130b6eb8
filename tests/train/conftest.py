import pytest
import torch

from qlatent.latents import get
from qlatent.models import MLP


class Cloud:
    """Real data: N(0, I) in two dimensions."""

    def sample(self, n, *, generator):
        return torch.randn(n, 2, generator=generator)


@pytest.fixture
def small_gan():
    """A factory of (G, D, latent, data): 8-wide MLPs, a Gaussian latent of 4, a 2-D cloud."""

    def make():
        g = torch.Generator().manual_seed(0)
        return (MLP(4, 2, hidden=(8,), generator=g), MLP(2, 1, hidden=(8,), generator=g),
                get("gaussian", dim=4), Cloud())

    return make
