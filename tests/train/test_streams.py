import numpy as np
import pytest
import torch

from qlatent.train import STREAMS, RandomStreams, stream_seeds
from qlatent.train.streams import moved_seed


def test_stream_seeds_are_the_spawned_children():
    # Independent re-derivation: child i of SeedSequence([seed, 0x6A17]), 63 bits.
    for seed in (0, 7, 2**40):
        children = np.random.SeedSequence([seed, 0x6A17]).spawn(4)
        expected = [int(c.generate_state(2, np.uint32).view(np.uint64)[0]) >> 1
                    for c in children]
        assert list(stream_seeds(seed).values()) == expected
    assert len(set(stream_seeds(0).values())) == 4
    assert stream_seeds(0) != stream_seeds(1)


def test_streams_are_independent():
    a, b = RandomStreams(3), RandomStreams(3)
    torch.rand(1000, generator=a.latent)  # drawing much from one stream ...
    for name in ("data", "epsilon", "noise"):  # ... leaves the others where they were
        assert torch.equal(torch.rand(5, generator=getattr(a, name)),
                           torch.rand(5, generator=getattr(b, name)))
    draws = [torch.rand(5, generator=getattr(RandomStreams(3), n)) for n in STREAMS]
    assert all(not torch.equal(draws[i], draws[j]) for i in range(4) for j in range(i))


def test_state_round_trip_continues_identically():
    a = RandomStreams(9)
    for name in STREAMS:
        torch.rand(17, generator=getattr(a, name))
    state = {k: v.clone() for k, v in a.get_state().items()}
    expected = {n: torch.rand(4, generator=getattr(a, n)) for n in STREAMS}
    b = RandomStreams(1)
    b.set_state(state)
    assert all(torch.equal(torch.rand(4, generator=getattr(b, n)), expected[n])
               for n in STREAMS)


def test_old_states_without_noise_and_incomplete_states():
    a = RandomStreams(2)
    torch.rand(3, generator=a.latent)
    old = {k: v for k, v in a.get_state().items() if k != "noise"}
    b = RandomStreams(2)
    b.set_state(old)  # noise keeps its freshly seeded state
    assert torch.equal(torch.rand(3, generator=b.latent), torch.rand(3, generator=a.latent))
    assert torch.equal(torch.rand(3, generator=b.noise), torch.rand(3, generator=a.noise))
    with pytest.raises(ValueError, match="lack stream.*epsilon"):
        b.set_state({"latent": old["latent"], "data": old["data"]})


def test_devices_and_bad_seed():
    s = RandomStreams(0, device="cpu", data_device=torch.device("cpu"))
    assert s.device == s.data_device == torch.device("cpu")
    assert all(getattr(s, n).device == torch.device("cpu") for n in STREAMS)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        RandomStreams(-3)


def test_a_state_from_another_kind_of_device_seeds_the_stream_from_its_digest():
    # A checkpoint written on a GPU (Philox states, 16 bytes) resumed on a CPU: the other
    # streams are restored, the moved one is seeded from the state's digest, deterministically.
    a = RandomStreams(0)
    torch.rand(5, generator=a.latent)
    states = a.get_state()
    philox = torch.arange(16, dtype=torch.uint8)
    states["epsilon"] = philox
    b, c = RandomStreams(0), RandomStreams(0)
    assert b.set_state(states) == ["epsilon"] and c.set_state(states) == ["epsilon"]
    assert torch.equal(torch.rand(4, generator=b.latent), torch.rand(4, generator=a.latent))
    assert torch.equal(torch.rand(4, generator=b.epsilon), torch.rand(4, generator=c.epsilon))
    d = RandomStreams(0)
    d.set_state(states)
    assert torch.equal(torch.rand(4, generator=d.epsilon),
                       torch.rand(4, generator=torch.Generator().manual_seed(moved_seed(philox))))
    assert moved_seed(philox) != moved_seed(torch.zeros(16, dtype=torch.uint8))
