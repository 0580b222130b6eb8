"""`latents.validate` checks a request without building anything, with get()'s messages."""

import pytest

from qlatent import latents


@pytest.mark.parametrize("name", latents.names())
def test_every_registered_latent_validates_its_defaults(name):
    if name == "bank":
        latents.validate(name, bank="any-key")
    else:
        latents.validate(name, dim=4)


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"name": "gausian", "dim": 16}, ValueError, "gausian"),
    ({"name": "quantum", "dim": 16, "circuit": "hair"}, ValueError, "circuit"),
    ({"name": "quantum", "dim": 16, "trnsmission": 0.9}, TypeError, "trnsmission"),
    ({"name": "quantum", "dim": 16, "transmission": 2.0}, ValueError, "transmission"),
    ({"name": "quantum", "dim": 16, "n_photons": 17}, ValueError, "n_photons"),
    ({"name": "quantum", "dim": 16, "n_samples": 0}, ValueError, "n_samples"),
    ({"name": "gaussian", "dim": 0}, ValueError, "dim"),
    ({"name": "gaussian", "dim": 16, "normalize": "centre"}, ValueError, "normalize"),
    ({"name": "bernoulli", "dim": 16, "p": 1.5}, ValueError, "p must"),
    ({"name": "photonic", "dim": 16, "indistinguishability": 0.9}, ValueError, "photonic"),
])
def test_bad_requests_raise_naming_the_argument(kwargs, error, words):
    with pytest.raises(error, match=words):
        latents.validate(**kwargs)
    # get() refuses the same request (validate is not stricter than building)
    with pytest.raises((ValueError, TypeError)):
        latents.get(**{**kwargs, "n_samples": 10} if kwargs["name"] in ("quantum", "photonic")
                    and "n_samples" not in kwargs else kwargs)
