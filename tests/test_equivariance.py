"""cnnbook.equivariance: shifts, error measures and layers, against independent oracles.

The oracles are torch's own operations (``torch.roll``, ``F.pad``, ``nn.Conv1d``/``Conv2d``,
``F.avg_pool2d``), scipy (``scipy.linalg.circulant``, ``scipy.ndimage.correlate1d``),
brute-force loops written from the definitions, and closed-form results (a shifted cosine).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnbook import equivariance as E
from cnnbook import layers as L
from cnnbook import models as M
from cnnbook.data import place_patterns, wavelet

FAST = settings(deadline=None, max_examples=25)


def _torch_circular_conv1d(x: np.ndarray, w: np.ndarray, stride: int = 1) -> np.ndarray:
    """Oracle: torch's circular cross-correlation with a centred kernel."""
    k = w.size
    t = F.pad(torch.from_numpy(x)[None, None], ((k - 1) // 2, k // 2), mode="circular")
    return F.conv1d(t, torch.from_numpy(w)[None, None], stride=stride)[0, 0].numpy()


# --- shift -----------------------------------------------------------------------------


def _shifts_up_to(n: int) -> st.SearchStrategy[int]:
    """Every shift the functions accept for a signal of length ``n``: ``-n <= s <= n``."""
    return st.integers(-n, n)


@FAST
@given(n=st.integers(1, 40), data=st.data(), as_tensor=st.booleans())
def test_circular_shift_matches_torch_roll(n: int, data: st.DataObject, as_tensor: bool) -> None:
    s = data.draw(_shifts_up_to(n), label="s")
    x = np.arange(n, dtype=float)
    expected = torch.roll(torch.from_numpy(x), s).numpy()
    out = E.shift(torch.from_numpy(x) if as_tensor else x, s)
    assert isinstance(out, torch.Tensor) == as_tensor
    np.testing.assert_array_equal(np.asarray(out), expected)


@FAST
@given(n=st.integers(1, 40), data=st.data(), as_tensor=st.booleans())
def test_zero_shift_is_a_padded_slice(n: int, data: st.DataObject, as_tensor: bool) -> None:
    s = data.draw(_shifts_up_to(n), label="s")
    x = np.arange(1, n + 1, dtype=float)
    padded = F.pad(torch.from_numpy(x), (max(s, 0), max(-s, 0)))  # oracle: pad, then crop
    expected = padded[max(-s, 0) : max(-s, 0) + n].numpy()
    out = E.shift(torch.from_numpy(x) if as_tensor else x, s, "zeros")
    assert isinstance(out, torch.Tensor) == as_tensor
    np.testing.assert_array_equal(np.asarray(out), expected)


@FAST
@given(h=st.integers(1, 12), w=st.integers(1, 12), data=st.data(), mode=st.sampled_from(E.MODES))
def test_2d_shift_matches_torch(h: int, w: int, data: st.DataObject, mode: E.PaddingMode) -> None:
    dy = data.draw(_shifts_up_to(h), label="dy")
    dx = data.draw(_shifts_up_to(w), label="dx")
    x = torch.arange(1, 2 * h * w + 1, dtype=torch.float64).reshape(2, h, w)
    if mode == "circular":
        expected = torch.roll(x, (dy, dx), dims=(1, 2))
    else:
        padded = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
        expected = padded[:, max(-dy, 0) : max(-dy, 0) + h, max(-dx, 0) : max(-dx, 0) + w]
    torch.testing.assert_close(E.shift2d(x, (dy, dx), mode), expected, rtol=0, atol=0)
    np.testing.assert_array_equal(E.shift2d(x.numpy(), (dy, dx), mode), expected.numpy())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: E.shift(np.zeros(4), 5), "larger than"),
        (lambda: E.shift(np.zeros(4), -5, "zeros"), "larger than"),
        (lambda: E.shift(np.zeros(4), 1, "reflect"), "unknown padding mode"),
        (lambda: E.shift(np.zeros((4, 4)), (1, 2), axis=-1), "mismatched dims"),
        (lambda: E.shift(np.zeros(4), 1, axis=1), "does not exist"),
        (lambda: E.shift(np.zeros((4, 4)), (1, 1), axis=(0, -2)), "repeated axis"),
        (lambda: E.shift(np.zeros(4), 1.5), "must be integers"),
        (lambda: E.shift2d(np.zeros(4), (1, 1)), "at least 2 dimensions"),
        (lambda: E.shift(torch.zeros(3, 3), (1, 4), axis=(0, 1)), "larger than"),
    ],
)
def test_shift_bad_input(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- fractional shift --------------------------------------------------------------------


@FAST
@given(n=st.integers(2, 40), s=st.integers(-40, 40), seed=st.integers(0, 99))
def test_fractional_shift_by_an_integer_is_the_circular_shift(n: int, s: int, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal((3, n))
    np.testing.assert_allclose(E.fractional_shift(x, float(s)), np.roll(x, s, axis=-1), atol=1e-12)
    t = E.fractional_shift(torch.from_numpy(x), float(s))
    np.testing.assert_allclose(t.numpy(), np.roll(x, s, axis=-1), atol=1e-12)


@FAST
@given(n=st.integers(8, 64), s=st.floats(-20, 20), data=st.data())
def test_fractional_shift_of_a_cosine_is_a_phase_change(n: int, s: float, data) -> None:
    m = data.draw(st.integers(0, (n - 1) // 2))  # strictly below Nyquist
    i = np.arange(n)
    x = np.cos(2 * np.pi * m * i / n + 0.3)
    expected = np.cos(2 * np.pi * m * (i - s) / n + 0.3)  # closed form of x(t - s)
    np.testing.assert_allclose(E.fractional_shift(x, s), expected, atol=1e-10)


def test_fractional_shift_keeps_dtype_and_rejects_nan() -> None:
    x32 = torch.randn(16, dtype=torch.float32)
    assert E.fractional_shift(x32, 0.5).dtype == torch.float32
    with pytest.raises(ValueError, match="finite"):
        E.fractional_shift(np.zeros(8), float("nan"))


# --- equivariance and invariance measures -------------------------------------------------


@settings(deadline=None, max_examples=40)
@given(n=st.integers(8, 64), k=st.integers(0, 3), s=st.integers(0, 63), seed=st.integers(0, 99))
def test_circular_convolution_is_equivariant(n: int, k: int, s: int, seed: int) -> None:
    s %= n
    k = 2 * k + 1
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(k)
    conv = lambda v: _torch_circular_conv1d(v, w)  # noqa: E731
    # The oracle shifts with numpy's own roll, not with the shift under test.
    residual = conv(np.roll(x, s)) - np.roll(conv(x), s)
    assert np.linalg.norm(residual) <= 1e-12 * np.linalg.norm(conv(x))
    assert E.equivariance_error(conv, x, s) <= 1e-12
    assert E.equivariance_error(lambda v: E.circular_correlate(v, w), x, s) <= 1e-12


@FAST
@given(
    n=st.integers(2, 24),
    stride=st.sampled_from([1, 2]),
    data=st.data(),
    seed=st.integers(0, 99),
    as_tensor=st.booleans(),
)
def test_equivariance_measures_against_roll_and_norms(
    n: int, stride: int, data: st.DataObject, seed: int, as_tensor: bool
) -> None:
    """The residual and the L2 relative errors, computed here with torch.roll and norms."""
    n *= stride
    s = stride * data.draw(st.integers(-(n // stride), n // stride), label="s / stride")
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((2, n)))
    weight = torch.from_numpy(rng.standard_normal((n // stride, n)))
    f = lambda v: torch.as_tensor(v) @ weight.T  # noqa: E731  (a dense layer: not equivariant)
    fx = f(x)
    expected = f(torch.roll(x, s, -1)) - torch.roll(fx, s // stride, -1)
    arg = x if as_tensor else x.numpy()
    residual = E.equivariance_residual(f, arg, s, stride=stride)
    torch.testing.assert_close(residual, expected, rtol=0, atol=1e-12)
    error = E.equivariance_error(f, arg, s, stride=stride)
    assert error == pytest.approx(float(expected.norm() / fx.norm()), rel=1e-12)
    g = lambda v: torch.as_tensor(v)[..., :1] * 2.0  # noqa: E731
    gap = g(torch.roll(x, s, -1)) - g(x)
    inv = E.invariance_error(g, arg, s)
    assert inv == pytest.approx(float(gap.norm() / g(x).norm()), rel=1e-12)


@FAST
@given(n=st.integers(16, 64), k=st.integers(1, 3), s=st.integers(1, 63), seed=st.integers(0, 99))
def test_locally_connected_and_dense_layers_are_not_equivariant(
    n: int, k: int, s: int, seed: int
) -> None:
    s = 1 + (s - 1) % (n - 1)  # a shift that is not the identity
    torch.manual_seed(seed)
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((1, 1, n)))
    local = L.LocallyConnected1d(1, 1, n, 2 * k + 1).double()
    dense = nn.Linear(n, n).double()
    with torch.no_grad():
        assert E.equivariance_error(local, x, s) > 0.2
        assert E.equivariance_error(dense, x, s) > 0.2


@FAST
@given(
    stride=st.integers(2, 4),
    m=st.integers(4, 12),
    q=st.integers(-3, 3),
    seed=st.integers(0, 99),
)
def test_strided_layers_are_exact_for_multiples_of_the_stride(
    stride: int, m: int, q: int, seed: int
) -> None:
    n = stride * m
    s = stride * q
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(3)
    conv = lambda v: _torch_circular_conv1d(v, w, stride)  # noqa: E731
    pool = lambda v: F.max_pool1d(torch.from_numpy(v)[None], stride)[0].numpy()  # noqa: E731
    assert E.equivariance_error(conv, x, s, stride=stride) <= 1e-12
    assert E.equivariance_error(pool, x, s, stride=stride) == 0.0
    # a shift by less than the stride is generally not representable on the output grid
    assert E.equivariance_error(pool, x, 1, stride=stride) > 1e-3


@FAST
@given(m=st.integers(4, 16), s=st.integers(-31, 31), seed=st.integers(0, 99))
def test_ideal_lowpass_then_subsample_is_equivariant_to_any_shift(
    m: int, s: int, seed: int
) -> None:
    n = 2 * m

    def lowpass_subsample(v: np.ndarray) -> np.ndarray:  # keep frequencies below n/4, take evens
        spectrum = np.fft.rfft(v)
        spectrum[(m + 1) // 2 :] = 0
        return np.fft.irfft(spectrum, n)[::2]

    x = np.random.default_rng(seed).standard_normal(n)
    assert E.equivariance_error(lowpass_subsample, x, s % n, stride=2) <= 1e-10


@FAST
@given(depth=st.integers(1, 4), half=st.integers(1, 3), n=st.integers(40, 80), s=st.integers(1, 79))
def test_zero_padding_errs_only_within_the_receptive_radius_of_a_border(
    depth: int, half: int, n: int, s: int
) -> None:
    s %= n
    torch.manual_seed(s)
    net = M.fully_convolutional(1, 1, 4, depth, 1, 2 * half + 1, "zeros").double()
    x = torch.from_numpy(np.random.default_rng(n).standard_normal((1, 1, n)))
    with torch.no_grad():
        residual = E.equivariance_residual(net, x, s)[0, 0].abs().numpy()
    zone = E.border_zone(n, s, depth * half)
    assert residual[~zone].max(initial=0.0) <= 1e-12


def _zone_by_windows(n: int, s: int, radius: int) -> np.ndarray:
    """Oracle: output ``i`` is safe when its window and that of ``(i - s) mod n`` see
    the same inputs, none of them padding."""
    zone = np.zeros(n, dtype=bool)
    for i in range(n):
        before = (i - s) % n
        for d in range(-radius, radius + 1):
            inside = 0 <= i + d < n and 0 <= before + d < n
            if not inside or (i + d - s) % n != before + d:
                zone[i] = True
    return zone


@given(n=st.integers(1, 40), data=st.data(), radius=st.integers(0, 25))
def test_border_zone_is_where_windows_meet_padding_or_the_seam(
    n: int, data: st.DataObject, radius: int
) -> None:
    s = data.draw(st.integers(-n, n))
    np.testing.assert_array_equal(E.border_zone(n, s, radius), _zone_by_windows(n, s, radius))


@FAST
@given(h=st.integers(8, 20), w=st.integers(8, 20), data=st.data())
def test_zero_padded_2d_cnn_errs_only_in_the_border_zone(
    h: int, w: int, data: st.DataObject
) -> None:
    move = (data.draw(st.integers(0, h)), data.draw(st.integers(0, w)))
    torch.manual_seed(h * w)
    net = M.fully_convolutional(2, 1, 3, 2, 1, 3, "zeros").double()
    x = torch.from_numpy(np.random.default_rng(h).standard_normal((1, 1, h, w)))
    with torch.no_grad():
        residual = E.equivariance_residual(net, x, move, axis=(-2, -1))[0, 0].abs().numpy()
    zone = E.border_zone((h, w), move, 2)
    np.testing.assert_array_equal(
        zone, _zone_by_windows(h, move[0], 2)[:, None] | _zone_by_windows(w, move[1], 2)
    )
    assert residual[~zone].max(initial=0.0) <= 1e-12


def test_border_zone_bad_input() -> None:
    with pytest.raises(ValueError, match="mismatched dims"):
        E.border_zone((4, 4), 1, 1)
    with pytest.raises(ValueError, match="radius"):
        E.border_zone(4, 1, -1)


def test_deep_circular_cnn_and_global_pooling() -> None:
    torch.manual_seed(0)
    net = M.fully_convolutional(1, 1, 6, 5, 3, 5, "circular").double()
    pooled = nn.Sequential(net, nn.AdaptiveAvgPool1d(1))
    x = torch.randn(2, 1, 50, dtype=torch.float64)
    with torch.no_grad():
        assert E.equivariance_error(net, x, 17) <= 1e-12
        assert E.invariance_error(pooled, x, 17) <= 1e-12
        dense_sum = nn.Sequential(nn.Linear(50, 50).double(), nn.AdaptiveAvgPool1d(1))
        assert E.invariance_error(dense_sum, x, 17) > 1e-3


def test_two_dimensional_equivariance_of_a_conv2d() -> None:
    torch.manual_seed(0)
    net = M.fully_convolutional(2, 1, 4, 3, 2, 3, "circular").double()
    x = torch.randn(1, 1, 20, 24, dtype=torch.float64)
    with torch.no_grad():
        assert E.equivariance_error(net, x, (5, -7), axis=(-2, -1)) <= 1e-12
        zero = M.fully_convolutional(2, 1, 4, 3, 2, 3, "zeros").double()
        assert E.equivariance_error(zero, x, (5, -7), axis=(-2, -1)) > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"s": 20}, "larger than"),
        ({"s": 1, "mode": "mirror"}, "unknown padding mode"),
        ({"s": (1, 1)}, "mismatched dims"),
        ({"s": 2, "stride": 3}, "mismatched dims"),
        ({"s": 2, "stride": (2, 2)}, "mismatched dims"),
        ({"s": 1, "stride": 2, "mode": "zeros"}, "no counterpart"),
        ({"s": 2, "stride": 0}, "positive"),
    ],
)
def test_equivariance_error_bad_input(kwargs: dict, message: str) -> None:
    half = lambda v: v[..., ::2]  # noqa: E731
    with pytest.raises(ValueError, match=message):
        E.equivariance_error(half, np.zeros(16), **kwargs)


def test_equivariance_error_rejects_shape_changes() -> None:
    with pytest.raises(ValueError, match="output shape"):
        E.equivariance_error(lambda v: v[: 1 + int(np.argmax(v))], np.arange(6.0), 2)
    with pytest.raises(ValueError, match="lacks axes"):
        E.equivariance_error(
            lambda v: v.sum(axis=(-2, -1)), np.ones((2, 3, 4)), (1, 1), axis=(0, 1)
        )


def test_errors_are_absolute_when_the_reference_is_zero() -> None:
    x = np.arange(1.0, 7.0)
    first_minus_one = lambda v: v[:1] - 1.0  # noqa: E731  (0 at x, -1 + x[-2] = 4 at T_2 x)
    assert E.invariance_error(first_minus_one, x, 2) == pytest.approx(4.0)
    assert E.invariance_error(lambda v: 0.0 * v, x, 2) == 0.0
    assert E.equivariance_error(lambda v: 0.0 * v, torch.from_numpy(x), 3) == 0.0
    # f(t_in x) - t_out f(x) = 2 - 1 - 0 at each of 3 samples: the norm sqrt(3)
    assert E.transform_error(lambda v: v - 1.0, np.ones(3), lambda v: 2 * v, lambda v: v) == (
        pytest.approx(np.sqrt(3.0))
    )


@FAST
@given(m=st.integers(3, 12), harmonic=st.integers(0, 2), data=st.data())
def test_fractional_reference_of_a_subsampled_cosine(
    m: int, harmonic: int, data: st.DataObject
) -> None:
    """Taking every other sample of cos(2 pi f i / n) with f < n / 4 gives a cosine on the
    output grid, and shifting the input by s shifts that cosine by exactly s / 2 samples:
    cos(2 pi f (2 j - s) / n) = cos(2 pi f (j - s / 2) / (n / 2)). Closed form, any s."""
    n = 4 * m
    s = data.draw(st.integers(-n, n - 2), label="s")
    f = harmonic * (m - 1) // 2  # 0 <= f < n / 4
    i = np.arange(n)
    x = np.cos(2 * np.pi * f * i / n + 0.4)
    half = lambda v: v[..., ::2]  # noqa: E731
    expected = np.cos(2 * np.pi * f * (2 * i[: n // 2] - s) / n + 0.4) - np.cos(
        2 * np.pi * f * (i[: n // 2] - s / 2) / (n / 2) + 0.4
    )
    residual = E.equivariance_residual(half, x, s, stride=2)
    np.testing.assert_allclose(residual, expected, atol=1e-10)
    assert np.abs(residual).max() <= 1e-10
    # The reference moved by s / 2, not by a neighbouring half sample; unless the shift is
    # a whole number of the cosine's periods (f s / n an integer), which moves nothing.
    if s % 2 and f > 0 and (f * s) % n:
        moved = E.equivariance_residual(half, x, s + 2, stride=2)
        assert np.abs(moved).max() <= 1e-10
        assert np.abs(half(E.shift(x, s)) - half(x)).max() > 1e-3


def test_invariance_error_of_a_sum_and_a_first_sample() -> None:
    x = np.random.default_rng(0).standard_normal(12)
    assert E.invariance_error(np.sum, x, 5) <= 1e-12
    first = lambda v: v[:1]  # noqa: E731
    expected = abs(x[-5] - x[0]) / abs(x[0])  # by hand: the first sample becomes x[-5]
    assert E.invariance_error(first, x, 5) == pytest.approx(expected)


def test_transform_error_rotation_and_scale() -> None:
    rng = np.random.default_rng(0)
    image = rng.standard_normal((16, 16))
    g = np.exp(-(np.arange(-2, 3)[:, None] ** 2 + np.arange(-2, 3)[None] ** 2) / 2)
    iso = lambda v: E.circular_correlate(v, g)  # noqa: E731
    sobel = lambda v: E.circular_correlate(v, np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]]))  # noqa: E731
    assert E.transform_error(iso, image, np.rot90, np.rot90) <= 1e-12
    rot180 = lambda v: np.rot90(v, 2)  # noqa: E731
    # the Sobel kernel is odd under a half turn, so f(R x) = -R f(x) exactly: error 2
    assert E.transform_error(sobel, image, rot180, rot180) == pytest.approx(2.0)
    assert E.transform_error(iso, image, E.downsample_mean, E.downsample_mean) > 1e-3
    with pytest.raises(ValueError, match="mismatched dims"):
        E.transform_error(iso, image, lambda v: v, E.downsample_mean)


# --- linear layers as functions and matrices -------------------------------------------


@FAST
@given(n=st.integers(5, 30), k=st.integers(0, 2), seed=st.integers(0, 99))
def test_circular_correlate_1d_matches_torch_and_a_loop(n: int, k: int, seed: int) -> None:
    k = 2 * k + 1
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, n)), rng.standard_normal(k)
    c = (k - 1) // 2
    loop = np.array(
        [[sum(w[j] * row[(i + j - c) % n] for j in range(k)) for i in range(n)] for row in x]
    )
    np.testing.assert_allclose(E.circular_correlate(x, w), loop, atol=1e-12)
    np.testing.assert_allclose(
        E.circular_correlate(x[0], w), _torch_circular_conv1d(x[0], w), atol=1e-12
    )


@FAST
@given(h=st.integers(5, 16), w=st.integers(5, 16), seed=st.integers(0, 99))
def test_circular_correlate_2d_matches_torch_conv2d(h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, kern = rng.standard_normal((h, w)), rng.standard_normal((3, 5))
    t = F.pad(torch.from_numpy(x)[None, None], (2, 2, 1, 1), mode="circular")
    expected = F.conv2d(t, torch.from_numpy(kern)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(E.circular_correlate(x, kern), expected, atol=1e-12)


@pytest.mark.parametrize(
    ("x", "w", "message"),
    [
        (np.zeros(8), np.zeros(4), "odd"),
        (np.zeros(3), np.zeros(5), "larger"),
        (np.zeros(8), np.zeros((3, 3)), "mismatched dims"),
    ],
)
def test_circular_correlate_bad_input(x: np.ndarray, w: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        E.circular_correlate(x, w)


@FAST
@given(n=st.integers(3, 20), k=st.integers(0, 1), seed=st.integers(0, 99))
def test_circulant_matches_scipy_and_torch(n: int, k: int, seed: int) -> None:
    k = 2 * k + 1
    rng = np.random.default_rng(seed)
    w, x = rng.standard_normal(k), rng.standard_normal(n)
    first_row = np.zeros(n)
    first_row[(np.arange(k) - (k - 1) // 2) % n] = w
    np.testing.assert_allclose(E.circulant(w, n), scipy.linalg.circulant(first_row).T)
    np.testing.assert_allclose(E.circulant(w, n) @ x, _torch_circular_conv1d(x, w), atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_shift_matrix_is_the_roll(n: int) -> None:
    x = np.arange(n, dtype=float)
    for s in range(-n, n + 1):
        np.testing.assert_array_equal(E.shift_matrix(n, s) @ x, np.roll(x, s))
    with pytest.raises(ValueError, match="positive"):
        E.shift_matrix(0)


@pytest.mark.parametrize("n", [2, 5, 8])
def test_the_shift_commutant_is_the_circulants(n: int) -> None:
    basis = E.shift_commutant(n)
    p = E.shift_matrix(n, 1)
    assert basis.shape == (n, n, n)  # n-dimensional, like the kernels of length n
    gram = np.einsum("aij,bij->ab", basis, basis)
    np.testing.assert_allclose(gram, np.eye(n), atol=1e-12)  # a basis
    for a in basis:
        np.testing.assert_allclose(a @ p, p @ a, atol=1e-12)
        np.testing.assert_allclose(a, scipy.linalg.circulant(a[:, 0]), atol=1e-12)


@FAST
@given(n=st.integers(3, 16), k=st.integers(0, 1), seed=st.integers(0, 99))
def test_locally_connected_matrix_and_module_agree_with_a_loop(n: int, k: int, seed: int) -> None:
    k = 2 * k + 1
    rng = np.random.default_rng(seed)
    weights, x = rng.standard_normal((n, k)), rng.standard_normal(n)
    c = (k - 1) // 2
    loop = np.array([sum(weights[i, j] * x[(i + j - c) % n] for j in range(k)) for i in range(n)])
    np.testing.assert_allclose(E.locally_connected_matrix(weights) @ x, loop, atol=1e-12)
    module = L.LocallyConnected1d(1, 1, n, k, bias=False).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weights)[:, None, None, :])
        out = module(torch.from_numpy(x)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(out, loop, atol=1e-12)


@pytest.mark.parametrize("padding_mode", ["circular", "zeros"])
def test_tied_locally_connected_layer_is_a_conv1d(padding_mode: str) -> None:
    torch.manual_seed(0)
    conv = nn.Conv1d(3, 2, 5, padding="same", padding_mode=padding_mode).double()
    local = L.LocallyConnected1d(3, 2, 20, 5, padding_mode).double()
    with torch.no_grad():
        local.weight.copy_(conv.weight.expand(20, -1, -1, -1))
        local.bias.copy_(conv.bias[:, None].expand(-1, 20))
        x = torch.randn(4, 3, 20, dtype=torch.float64)
        torch.testing.assert_close(local(x), conv(x))
    with pytest.raises(ValueError, match="mismatched dims"):
        local(torch.zeros(1, 3, 21, dtype=torch.float64))
    with pytest.raises(ValueError, match="odd"):
        L.LocallyConnected1d(1, 1, 10, 4)
    with pytest.raises(ValueError, match="padding mode"):
        L.LocallyConnected1d(1, 1, 10, 3, "reflect")  # type: ignore[arg-type]


def _numel(module: nn.Module) -> int:
    """Oracle: torch's own count of a module's parameters."""
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("n", "k", "c_in", "c_out"), [(10, 3, 1, 1), (16, 5, 2, 3), (7, 7, 3, 1)])
def test_layer_parameter_counts_match_torch_modules(n: int, k: int, c_in: int, c_out: int) -> None:
    counts = E.layer_parameter_counts((n,), (k,), c_in, c_out)
    assert counts["convolution"] == _numel(nn.Conv1d(c_in, c_out, k))
    assert counts["locally connected"] == _numel(L.LocallyConnected1d(c_in, c_out, n, k))
    assert counts["dense"] == _numel(nn.Linear(c_in * n, c_out * n))
    counts2 = E.layer_parameter_counts((n, n + 1), (k, 3), c_in, c_out, bias=False)
    assert counts2["convolution"] == _numel(nn.Conv2d(c_in, c_out, (k, 3), bias=False))
    size = n * (n + 1)
    assert counts2["dense"] == _numel(nn.Linear(c_in * size, c_out * size, bias=False))
    module = nn.Sequential(nn.Conv1d(c_in, c_out, k), nn.Linear(n, 2))
    module[1].bias.requires_grad_(False)  # a frozen parameter is not counted
    assert M.count_trainable(module) == _numel(module) - 2
    with pytest.raises(ValueError, match="mismatched dims"):
        E.layer_parameter_counts((n,), (k, k))


def test_downsample_mean_matches_avg_pool2d() -> None:
    x = np.random.default_rng(0).standard_normal((2, 12, 18))
    expected = F.avg_pool2d(torch.from_numpy(x), 3).numpy()
    np.testing.assert_allclose(E.downsample_mean(x, 3), expected, atol=1e-12)
    with pytest.raises(ValueError, match="does not divide"):
        E.downsample_mean(x, 5)


def test_lifting_p4_turns_rotations_into_rotations_and_channel_shifts() -> None:
    rng = np.random.default_rng(0)
    image, kernel = rng.standard_normal((17, 17)), rng.standard_normal((5, 5))
    out, out_rot = E.lifting_p4(image, kernel), E.lifting_p4(np.rot90(image), kernel)
    for r in range(4):  # oracle: the maps computed one by one, rotated with numpy
        np.testing.assert_allclose(out_rot[r], np.rot90(out[(r - 1) % 4]), atol=1e-12)
    # a plain convolution is not rotation-equivariant with this kernel
    assert np.abs(out_rot[0] - np.rot90(out[0])).max() > 1e-3
    with pytest.raises(ValueError, match="mismatched dims"):
        E.lifting_p4(image, np.zeros(3))


def test_match_template_is_the_correlation_coefficient() -> None:
    rng = np.random.default_rng(0)
    image = rng.standard_normal((20, 24))
    template = image[5:10, 7:10].copy()
    score = E.match_template(image, template)
    for i, j in [(7, 8), (0, 0), (19, 23), (11, 3)]:
        rows, cols = np.arange(i - 2, i + 3) % 20, np.arange(j - 1, j + 2) % 24
        window = image[np.ix_(rows, cols)]
        oracle = np.corrcoef(window.ravel(), template.ravel())[0, 1]
        assert score[i, j] == pytest.approx(oracle, abs=1e-10)
    assert np.unravel_index(np.argmax(score), score.shape) == (7, 8)
    assert score.max() == pytest.approx(1.0)
    moved = E.match_template(E.shift2d(image, (4, -9)), template)
    np.testing.assert_allclose(moved, E.shift2d(score, (4, -9)), atol=1e-10)
    with pytest.raises(ValueError, match="constant"):
        E.match_template(image, np.ones((3, 3)))


def test_detect_peaks_against_a_loop() -> None:
    rng = np.random.default_rng(1)
    response = rng.standard_normal((15, 17))
    found = {tuple(p) for p in E.detect_peaks(response, 1.0, 5)}
    expected = set()
    for i in range(15):
        for j in range(17):
            rows, cols = np.arange(i - 2, i + 3) % 15, np.arange(j - 2, j + 3) % 17
            if response[i, j] > 1.0 and response[i, j] >= response[np.ix_(rows, cols)].max():
                expected.add((i, j))
    assert found == expected
    assert expected  # the example has detections
    with pytest.raises(ValueError, match="odd"):
        E.detect_peaks(response, 0.0, 4)


# --- torch layers and models -----------------------------------------------------------


@pytest.mark.parametrize("taps", [1, 2, 3, 4, 5])
def test_binomial_filter_is_repeated_averaging(taps: int) -> None:
    expected = np.array([1.0])
    for _ in range(taps - 1):
        expected = np.convolve(expected, [0.5, 0.5])
    np.testing.assert_allclose(L.binomial_filter(taps), expected)


@pytest.mark.parametrize(("stride", "taps"), [(1, 3), (2, 3), (2, 5), (3, 1)])
def test_blurpool_is_a_wrapped_filter_then_subsampling(stride: int, taps: int) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 24))
    blurred = scipy.ndimage.correlate1d(x, L.binomial_filter(taps), axis=-1, mode="wrap")
    out = L.BlurPool1d(stride, taps)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, blurred[..., ::stride], atol=1e-12)
    with pytest.raises(ValueError, match="mismatched dims"):
        L.BlurPool1d()(torch.zeros(3, 8))


def test_circular_max_pool_is_the_max_of_neighbours() -> None:
    x = np.random.default_rng(0).standard_normal((1, 2, 11))
    out = L.CircularMaxPool1d(3)(torch.from_numpy(x)).numpy()
    expected = np.maximum(np.maximum(x, np.roll(x, -1, -1)), np.roll(x, -2, -1))
    np.testing.assert_array_equal(out, expected)


@settings(deadline=None, max_examples=10)
@given(q=st.integers(-5, 5), r=st.integers(1, 3), seed=st.integers(0, 99))
def test_strided_cnn_exact_for_multiples_of_its_total_stride(q: int, r: int, seed: int) -> None:
    torch.manual_seed(seed)
    plain = M.strided_cnn1d(4, 2, 5, antialias=False).double()
    blurred = M.strided_cnn1d(4, 2, 5, antialias=True).double()
    blurred.load_state_dict(plain.state_dict())  # same weights, same places
    x = torch.randn(1, 1, 48, dtype=torch.float64)
    with torch.no_grad():
        assert plain(x).shape == (1, 4, 12) == blurred(x).shape
        for net in (plain, blurred):
            assert E.equivariance_error(net, x, 4 * q, stride=4) <= 1e-12
            assert E.equivariance_error(net, x, 4 * q + r, stride=4) > 1e-4


def test_global_pool_classifier_is_invariant_only_with_circular_padding() -> None:
    torch.manual_seed(0)
    circ = M.global_pool_classifier(3, 4, 3, 5, "circular").double()
    zero = M.global_pool_classifier(3, 4, 3, 5, "zeros").double()
    x = torch.randn(5, 1, 30, dtype=torch.float64)
    with torch.no_grad():
        assert circ(x).shape == (5, 3)
        assert E.invariance_error(circ, x, 11) <= 1e-12
        assert E.invariance_error(zero, x, 11) > 1e-4
    with pytest.raises(ValueError, match="dim"):
        M.fully_convolutional(dim=3)


def test_locally_connected_classifier_with_tied_weights_is_the_cnn() -> None:
    torch.manual_seed(0)
    cnn = M.global_pool_classifier(3, 4, 2, 5, "zeros").double()
    local = M.locally_connected_classifier(20, 3, 4, 2, 5, "zeros").double()
    convs = [m for m in cnn.modules() if isinstance(m, nn.Conv1d)]
    locals_ = [m for m in local.modules() if isinstance(m, L.LocallyConnected1d)]
    assert len(convs) == len(locals_) == 2
    with torch.no_grad():
        for conv, lc in zip(convs, locals_, strict=True):
            lc.weight.copy_(conv.weight.expand(20, -1, -1, -1))
            lc.bias.copy_(conv.bias[:, None].expand(-1, 20))
        x = torch.randn(6, 1, 20, dtype=torch.float64)
        torch.testing.assert_close(local(x), cnn(x))
    assert _numel(local) == 20 * (4 * 5 + 4) + 20 * (3 * 4 * 5 + 3)
    with pytest.raises(ValueError, match="depth"):
        M.locally_connected_classifier(20, depth=0)


# --- chapter 1's procedural data ---------------------------------------------------------


@pytest.mark.parametrize(("length", "cycles"), [(8, 1.0), (12, 1.5), (20, 3.0)])
def test_wavelet_is_a_unit_zero_mean_pattern(length: int, cycles: float) -> None:
    w = wavelet(length, cycles)
    assert w.shape == (length,)
    assert np.linalg.norm(w) == pytest.approx(1.0)
    assert abs(w.mean()) < 1e-12
    with pytest.raises(ValueError, match="at least 3"):
        wavelet(2, 1.0)


def test_place_patterns_puts_each_pattern_at_an_allowed_position() -> None:
    patterns = [wavelet(5, 1.0), 2 * wavelet(5, 2.0)]
    positions = [np.array([0, 3]), np.array([10])]
    x, y = place_patterns(patterns, positions, 16, 7, 0.0, np.random.default_rng(0))
    assert x.shape == (14, 1, 16)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(y, np.repeat([0, 1], 7))
    for signal, label in zip(x[:, 0], y, strict=True):
        candidates = []
        for start in positions[label]:
            expected = np.zeros(16)
            expected[start : start + 5] = patterns[label]
            candidates.append(np.allclose(signal, expected, atol=1e-6))
        assert any(candidates)
    with pytest.raises(ValueError, match="inside the signal"):
        place_patterns(
            patterns, [np.array([12]), np.array([0])], 16, 2, 0.1, np.random.default_rng(0)
        )
    with pytest.raises(ValueError, match="position sets"):
        place_patterns(patterns, positions[:1], 16, 2, 0.1, np.random.default_rng(0))


def test_measures_along_an_axis_that_is_not_the_last() -> None:
    """Fractional shifts, invariance and 2-D strides along axis -2, against numpy's roll."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 3))
    for arg in (x, torch.from_numpy(x)):
        out = E.fractional_shift(arg, 2.0, axis=-2)
        np.testing.assert_allclose(np.asarray(out), np.roll(x, 2, axis=0), atol=1e-12)
    x32 = x.astype(np.float32)
    assert E.fractional_shift(x32, 0.5, axis=0).dtype == np.float32
    first_row = lambda v: v[..., :1, :]  # noqa: E731
    expected = np.linalg.norm(x[-3] - x[0]) / np.linalg.norm(x[0])
    assert E.invariance_error(first_row, x, 3, axis=-2) == pytest.approx(expected)
    half = lambda v: v[..., ::2, :]  # noqa: E731  (stride 2 along axis -2 only)
    residual = E.equivariance_residual(half, x, 1, stride=2, axis=-2)
    np.testing.assert_allclose(
        residual, half(np.roll(x, 1, 0)) - E.fractional_shift(half(x), 0.5, axis=0), atol=1e-12
    )
    image = rng.standard_normal((8, 12))
    pool = lambda v: v[::2, ::2]  # noqa: E731
    assert E.equivariance_error(pool, image, (4, -6), stride=(2, 2), axis=(0, 1)) <= 1e-12
    assert E.equivariance_error(pool, image, (4, -6), stride=2, axis=(0, 1)) <= 1e-12
