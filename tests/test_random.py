
import numpy as np
import pytest
import torch

from qlatent._random import seed_int, torch_generator


def test_torch_generator_is_seeded_and_independent_of_global_state():
    torch.manual_seed(123)
    a = torch.rand(5, generator=torch_generator(7))
    torch.manual_seed(456)
    b = torch.rand(5, generator=torch_generator(7))
    assert torch.equal(a, b)
    assert torch.equal(a, torch.rand(5, generator=torch.Generator().manual_seed(7)))
    assert not torch.equal(a, torch.rand(5, generator=torch_generator(8)))
    before = torch.random.get_rng_state()
    torch_generator(9)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global state is untouched


def test_torch_generator_device_and_largest_seed():
    g = torch_generator(2**64 - 1, device=torch.device("cpu"))
    assert g.device == torch.device("cpu") and g.initial_seed() == 2**64 - 1


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**64, ValueError),
                                         (1.5, TypeError), (True, TypeError), ("3", TypeError)])
def test_torch_generator_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed"):
        torch_generator(seed)


def test_seed_int_is_the_top_63_bits_of_the_first_word():
    ss = np.random.SeedSequence([7, 0x6A17])
    word = int(ss.generate_state(1, np.uint64)[0])
    assert seed_int(ss) == word >> 1
    # independent of numpy's uint64 view: the two 32-bit words, low word first
    low, high = (int(w) for w in ss.generate_state(2, np.uint32))
    assert seed_int(ss) == ((high << 32) | low) >> 1
    seeds = [seed_int(child) for child in np.random.SeedSequence(0).spawn(200)]
    assert all(0 <= s < 2**63 for s in seeds) and len(set(seeds)) == 200
    assert max(seeds) >= 2**62  # the top bit of the range is used
    with pytest.raises(TypeError, match="seed_sequence must be a numpy SeedSequence"):
        seed_int(7)
