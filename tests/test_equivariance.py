"""cnnbook.equivariance: shifts and the equivariance error, against torch as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnbook.equivariance import equivariance_error, shift


@given(n=st.integers(1, 40), s=st.integers(-40, 40))
def test_circular_shift_matches_torch_roll(n: int, s: int) -> None:
    if abs(s) > n:
        return
    x = np.arange(n, dtype=float)
    np.testing.assert_array_equal(shift(x, s), torch.roll(torch.from_numpy(x), s).numpy())


@given(n=st.integers(1, 40), s=st.integers(-40, 40))
def test_zero_shift_is_a_padded_slice(n: int, s: int) -> None:
    if abs(s) > n:
        return
    x = np.arange(1, n + 1, dtype=float)
    padded = F.pad(torch.from_numpy(x), (max(s, 0), max(-s, 0)))  # oracle: pad, then crop
    expected = padded[max(-s, 0) : max(-s, 0) + n].numpy()
    np.testing.assert_array_equal(shift(x, s, "zero"), expected)


@settings(deadline=None, max_examples=40)
@given(n=st.integers(8, 64), k=st.integers(1, 7), s=st.integers(0, 63), seed=st.integers(0, 99))
def test_circular_convolution_is_equivariant(n: int, k: int, s: int, seed: int) -> None:
    s %= n
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(k)

    def conv(v: np.ndarray) -> np.ndarray:  # torch's circular cross-correlation
        t = F.pad(torch.from_numpy(v)[None, None], (0, k - 1), mode="circular")
        return F.conv1d(t, torch.from_numpy(w)[None, None])[0, 0].numpy()

    assert equivariance_error(conv, x, s) <= 1e-12


def test_dense_layer_is_not_equivariant() -> None:
    rng = np.random.default_rng(0)
    a, x = rng.standard_normal((32, 32)), rng.standard_normal(32)
    assert equivariance_error(lambda v: a @ v, x, 5) > 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [((np.zeros(4), 5), "larger than"), ((np.zeros(4), 1, "reflect"), "unknown shift mode")],
)
def test_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shift(*args)
