"""The shared bit-vector checker: what it accepts unchanged, and its one-line messages."""

import numpy as np
import pytest
import torch

from qlatent._validation import check_bits, check_bits_tensor


def test_check_bits_tensor_keeps_dtype_and_values():
    t = torch.tensor([[0, 1, 1], [1, 0, 0]], dtype=torch.int32)
    out = check_bits_tensor("bits", t, width=3)
    assert out is t
    from_list = check_bits_tensor("bits", [[0.0, 1.0]], width=2)
    assert from_list.dtype == torch.float64 and from_list.tolist() == [[0.0, 1.0]]
    assert check_bits_tensor("bits", np.array([[True, False]])).dtype == torch.bool
    assert check_bits_tensor("bits", torch.zeros(0, 4)).shape == (0, 4)
    # the numpy checker and this one agree on what a bit array is
    x = np.random.default_rng(0).integers(0, 2, size=(5, 4))
    assert np.array_equal(check_bits("bits", x, width=4),
                          check_bits_tensor("bits", x, width=4).numpy())


def test_check_bits_tensor_messages():
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 4\), got \(2, 3\)$"):
        check_bits_tensor("x", torch.zeros(2, 3), width=4)
    with pytest.raises(ValueError, match=r"^x must have shape \(B, n\), got \(4,\)$"):
        check_bits_tensor("x", torch.zeros(4))
    with pytest.raises(ValueError, match=r"^data must have shape \(B, 2\) with B >= 1, got "
                                         r"\(0, 2\)$"):
        check_bits_tensor("data", np.zeros((0, 2)), width=2, min_rows=1)
    with pytest.raises(ValueError, match="^x must hold only 0/1 values, got 0.5$"):
        check_bits_tensor("x", [[0.0, 0.5]])
    with pytest.raises(ValueError, match="^x must hold only 0/1 values, got -1$"):
        check_bits_tensor("x", [[0, -1]])
    with pytest.raises(TypeError, match=r"^x must be a real 0/1 array \(B, 2\), got dtype "
                                        "torch.complex64$"):
        check_bits_tensor("x", torch.zeros(1, 2, dtype=torch.complex64), width=2)
    with pytest.raises(TypeError, match=r"^x must be a real 0/1 array \(B, n\), got list$"):
        check_bits_tensor("x", [["a", "b"]])


@pytest.mark.parametrize("value", [np.zeros((2, 3)), np.zeros((0, 4)), np.full((1, 4), 2),
                                   np.full((1, 4), 0.5), np.zeros(4)])
def test_numpy_and_torch_checkers_say_the_same(value):
    with pytest.raises(ValueError) as numpy_error:
        check_bits("bits", value, width=4 if value.ndim == 2 else None)
    with pytest.raises(ValueError) as torch_error:
        check_bits_tensor("bits", value, width=4 if value.ndim == 2 else None, min_rows=1)
    assert str(numpy_error.value) == str(torch_error.value)
