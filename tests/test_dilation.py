"""cnnbook.dilation: dilated correlation, its size, its Kronecker form, receptive fields.

The oracles are torch's own dilated and plain convolutions (``F.conv2d`` with
``dilation=D``), a four-fold loop written from the sheet's definition, a kernel
dilated by strided assignment instead of a Kronecker product, the gradient of torch
networks computed by autograd, and closed forms from the sources (Yu and Koltun's
``2^(i+2) - 1``, WaveNet's ``2^L``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnbook import dilation as dl
from cnnbook.models import count_trainable

FAST = settings(deadline=None, max_examples=60)


def _torch_dilated(kernel: np.ndarray, image: np.ndarray, dilation: int) -> np.ndarray:
    """Oracle: torch's valid dilated cross-correlation."""
    out = F.conv2d(
        torch.from_numpy(image)[None, None],
        torch.from_numpy(kernel)[None, None],
        dilation=dilation,
    )
    return out[0, 0].numpy()


def _loops(kernel: np.ndarray, image: np.ndarray, dilation: int) -> np.ndarray:
    """Oracle: the sheet's definition, one output entry and one tap at a time.

    The output index range is found by testing full overlap entry by entry, not from a
    size formula.
    """
    (f1, f2), (m, n) = kernel.shape, image.shape
    inside = [
        (i, j)
        for i in range(m)
        for j in range(n)
        if i + dilation * (f1 - 1) < m and j + dilation * (f2 - 1) < n
    ]
    rows = 1 + max(i for i, _ in inside)
    cols = 1 + max(j for _, j in inside)
    out = np.zeros((rows, cols))
    for i, j in inside:
        for a in range(f1):
            for b in range(f2):
                out[i, j] += kernel[a, b] * image[i + dilation * a, j + dilation * b]
    return out


@st.composite
def problems(draw: st.DrawFn, max_size: int = 14) -> tuple[np.ndarray, np.ndarray, int]:
    """A kernel, an image that fits it dilated, and a dilation; random values."""
    dilation = draw(st.integers(1, 4), label="D")
    f1 = draw(st.integers(1, 4), label="F1")
    f2 = draw(st.integers(1, 4), label="F2")
    m = draw(st.integers(dilation * (f1 - 1) + 1, max_size + dilation * (f1 - 1)), label="M")
    n = draw(st.integers(dilation * (f2 - 1) + 1, max_size + dilation * (f2 - 1)), label="N")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((f1, f2)), rng.standard_normal((m, n)), dilation


# --- output size (part (b)) ---------------------------------------------------------------


@FAST
@given(m=st.integers(1, 60), n=st.integers(1, 60), f=st.integers(1, 6), d=st.integers(1, 6))
def test_output_size_matches_torch(m: int, n: int, f: int, d: int) -> None:
    image = torch.zeros(1, 1, m, n, dtype=torch.float64)
    kernel = torch.zeros(1, 1, f, f, dtype=torch.float64)
    if d * (f - 1) + 1 > min(m, n):
        with pytest.raises(RuntimeError):
            F.conv2d(image, kernel, dilation=d)
        with pytest.raises(ValueError, match="does not fit"):
            dl.output_size(min(m, n), f, d)
        return
    shape = tuple(F.conv2d(image, kernel, dilation=d).shape[2:])
    ours = (dl.output_size(m, f, d), dl.output_size(n, f, d))
    assert ours == shape
    assert ours == (m - d * f + d, n - d * f + d)  # the sheet's form


def test_output_size_at_the_edge_of_fitting() -> None:
    assert dl.output_size(7, 3, 3) == 1  # the dilated kernel spans exactly 7
    with pytest.raises(ValueError, match="does not fit"):
        dl.output_size(6, 3, 3)
    assert dl.output_size(5, 1, 9) == 5  # a single tap is not widened by dilation


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 1, 1), "size"),
        ((5, 0, 1), "kernel_size"),
        ((5, 2, 0), "dilation"),
        ((5.0, 2, 1), "integer"),
    ],
)
def test_output_size_rejects_bad_arguments(args: tuple[int, int, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dl.output_size(*args)


# --- the operator (parts (b) and (c)) -----------------------------------------------------


@FAST
@given(problems())
def test_dilated_correlate_matches_torch(problem: tuple[np.ndarray, np.ndarray, int]) -> None:
    kernel, image, dilation = problem
    ours = dl.dilated_correlate(kernel, image, dilation)
    expected = _torch_dilated(kernel, image, dilation)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


@settings(deadline=None, max_examples=30)
@given(problems(max_size=8))
def test_dilated_correlate_matches_the_definition_as_loops(
    problem: tuple[np.ndarray, np.ndarray, int],
) -> None:
    kernel, image, dilation = problem
    np.testing.assert_allclose(
        dl.dilated_correlate(kernel, image, dilation),
        _loops(kernel, image, dilation),
        rtol=1e-12,
        atol=1e-12,
    )


def test_dilated_correlate_on_a_hand_example() -> None:
    # I(i, j) = 10 i + j, K = [[1, 2]]: output(i, j) = I(i, j) + 2 I(i, j + 3) = 3 I(i, j) + 6
    image = 10.0 * np.arange(4)[:, None] + np.arange(5)[None, :]
    out = dl.dilated_correlate(np.array([[1.0, 2.0]]), image, 3)
    np.testing.assert_array_equal(out, 3 * image[:, :2] + 6)


def test_dilated_correlate_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="2-D"):
        dl.dilated_correlate(np.ones(3), np.ones((4, 4)), 1)
    with pytest.raises(ValueError, match="does not fit"):
        dl.dilated_correlate(np.ones((3, 3)), np.ones((4, 9)), 2)


# --- the dilated kernel K (x) A (part (c)) ------------------------------------------------


@FAST
@given(d=st.integers(1, 6))
def test_selector_is_e1_e1_transposed(d: int) -> None:
    e1 = np.eye(d)[:, :1]
    np.testing.assert_array_equal(dl.selector(d), e1 @ e1.T)


@FAST
@given(f1=st.integers(1, 5), f2=st.integers(1, 5), d=st.integers(1, 5), seed=st.integers(0, 999))
def test_dilated_kernel_puts_taps_every_d_entries(f1: int, f2: int, d: int, seed: int) -> None:
    kernel = np.random.default_rng(seed).standard_normal((f1, f2))
    # Oracle: zeros, with the taps assigned every d entries (no Kronecker product).
    spread = np.zeros((d * (f1 - 1) + 1, d * (f2 - 1) + 1))
    spread[::d, ::d] = kernel
    np.testing.assert_array_equal(dl.dilated_kernel(kernel, d), spread)
    full = dl.dilated_kernel(kernel, d, trim=False)
    assert full.shape == (f1 * d, f2 * d)
    np.testing.assert_array_equal(full, np.kron(kernel, dl.selector(d)))
    # The untrimmed kernel is the trimmed one followed by d - 1 zero rows and columns.
    np.testing.assert_array_equal(full, np.pad(spread, ((0, d - 1), (0, d - 1))))


@FAST
@given(problems())
def test_plain_correlation_with_the_trimmed_kernel_is_the_dilated_one(
    problem: tuple[np.ndarray, np.ndarray, int],
) -> None:
    kernel, image, dilation = problem
    plain = _torch_dilated(dl.dilated_kernel(kernel, dilation), image, 1)
    expected = _torch_dilated(kernel, image, dilation)
    assert plain.shape == expected.shape
    np.testing.assert_allclose(plain, expected, rtol=1e-12, atol=1e-12)


@FAST
@given(problems())
def test_untrimmed_kernel_needs_d_minus_1_zeros_after_the_input(
    problem: tuple[np.ndarray, np.ndarray, int],
) -> None:
    kernel, image, d = problem
    full = dl.dilated_kernel(kernel, d, trim=False)
    expected = _torch_dilated(kernel, image, d)
    # Padded with d - 1 zeros at the bottom and on the right: the whole dilated output.
    padded = np.pad(image, ((0, d - 1), (0, d - 1)))
    np.testing.assert_allclose(_torch_dilated(full, padded, 1), expected, rtol=1e-12, atol=1e-12)
    # Unpadded: the dilated output without its last d - 1 rows and columns (if any is left).
    rows, cols = (expected.shape[0] - (d - 1), expected.shape[1] - (d - 1))
    if min(rows, cols) >= 1:
        cropped = _torch_dilated(full, image, 1)
        assert cropped.shape == (rows, cols)
        np.testing.assert_allclose(cropped, expected[:rows, :cols], rtol=1e-12, atol=1e-12)


def test_dilated_kernel_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="2-D"):
        dl.dilated_kernel(np.ones(3), 2)
    with pytest.raises(ValueError, match="dilation"):
        dl.dilated_kernel(np.ones((2, 2)), 0)


# --- receptive fields (part (a)) ----------------------------------------------------------


@st.composite
def stacks(draw: st.DrawFn, max_depth: int = 5) -> tuple[list[int], list[int]]:
    depth = draw(st.integers(1, max_depth), label="depth")
    kernels = draw(st.lists(st.integers(1, 4), min_size=depth, max_size=depth), label="K")
    dilations = draw(st.lists(st.integers(1, 5), min_size=depth, max_size=depth), label="D")
    return kernels, dilations


def _measured_offsets(kernels: list[int], dilations: list[int]) -> np.ndarray:
    """Oracle: the support of autograd's input gradient of one unit of a torch stack."""
    margin = 3
    width = 1 + sum(d * (k - 1) for k, d in zip(kernels, dilations, strict=True))
    net = dl.dilated_stack(kernels, dilations, ndim=1, seed=1)
    field = dl.receptive_field_map(net, (width + 2 * margin,))
    seen = np.flatnonzero(field)
    return seen - seen[0]


@FAST
@given(stacks())
def test_receptive_field_is_the_measured_gradient_support(
    stack: tuple[list[int], list[int]],
) -> None:
    kernels, dilations = stack
    offsets = _measured_offsets(kernels, dilations)
    assert offsets[-1] + 1 == dl.receptive_field(kernels, dilations)
    np.testing.assert_array_equal(dl.receptive_offsets(kernels, dilations), offsets)
    contiguous = offsets.size == offsets[-1] + 1
    assert dl.hole_free(kernels, dilations) == contiguous


@settings(deadline=None, max_examples=20)
@given(stacks(max_depth=3))
def test_two_dimensional_field_is_the_product_of_the_axes(
    stack: tuple[list[int], list[int]],
) -> None:
    kernels, dilations = stack
    width = dl.receptive_field(kernels, dilations)
    net = dl.dilated_stack(kernels, dilations, ndim=2, seed=2)
    field = dl.receptive_field_map(net, (width + 4, width + 5))
    assert dl.support_extent(field) == (width, width)
    rows, cols = np.nonzero(field)
    offsets = dl.receptive_offsets(kernels, dilations)
    seen = {(int(r), int(c)) for r, c in zip(rows - rows.min(), cols - cols.min(), strict=True)}
    assert seen == {(int(a), int(b)) for a in offsets for b in offsets}
    assert dl.coverage(field) == pytest.approx((offsets.size / width) ** 2, rel=1e-12)


@FAST
@given(stacks(max_depth=6))
def test_hole_free_does_not_depend_on_the_order_of_layers(
    stack: tuple[list[int], list[int]],
) -> None:
    kernels, dilations = stack
    offsets = dl.receptive_offsets(kernels, dilations)
    reversed_offsets = dl.receptive_offsets(kernels[::-1], dilations[::-1])
    np.testing.assert_array_equal(offsets, reversed_offsets)
    assert dl.hole_free(kernels, dilations) == (offsets.size == offsets[-1] + 1)


def test_receptive_field_single_layers_and_closed_forms() -> None:
    assert dl.receptive_field([5], [1]) == 5  # one plain K x K layer: K
    assert dl.receptive_field([3], [4]) == 9  # one dilated layer: D (K - 1) + 1
    assert dl.receptive_field([], []) == 1
    for i in range(8):  # Yu and Koltun: 3 x 3 kernels, dilations 1, 2, ..., 2^i
        assert dl.receptive_field([3] * (i + 1), [2**j for j in range(i + 1)]) == 2 ** (i + 2) - 1
    for depth in range(1, 11):  # WaveNet: kernel 2, dilations 1, 2, ..., 2^(L - 1)
        assert dl.receptive_field([2] * depth, [2**j for j in range(depth)]) == 2**depth


def test_gridding_examples() -> None:
    assert not dl.hole_free([3, 3, 3], [2, 2, 2])  # a common factor: only even offsets
    assert dl.hole_free([3, 3, 3], [1, 2, 3])
    assert dl.hole_free([3, 3, 3], [1, 2, 5])
    assert not dl.hole_free([3, 3, 3], [1, 2, 9])
    assert not dl.hole_free([3, 3], [1, 4])  # no common factor, yet a hole at 3
    assert dl.hole_free([1, 3], [7, 1])  # a 1-tap layer sees nothing new
    np.testing.assert_array_equal(dl.receptive_offsets([3, 3], [2, 2]), [0, 2, 4, 6, 8])


def test_receptive_field_rejects_bad_stacks() -> None:
    with pytest.raises(ValueError, match="one dilation per layer"):
        dl.receptive_field([3, 3], [1])
    with pytest.raises(ValueError, match="dilation"):
        dl.hole_free([3], [0])
    with pytest.raises(ValueError, match="kernel size"):
        dl.receptive_offsets([0], [1])


# --- the torch stack and the measurement --------------------------------------------------


@pytest.mark.parametrize(("ndim", "channels", "bias"), [(1, 1, False), (1, 4, True), (2, 3, True)])
def test_dilated_stack_layers_and_parameter_count(ndim: int, channels: int, bias: bool) -> None:
    kernels, dilations = [2, 3, 2], [1, 2, 4]
    net = dl.dilated_stack(kernels, dilations, ndim=ndim, channels=channels, bias=bias)
    per_layer = [channels * channels * k**ndim + channels * bias for k in kernels]
    assert count_trainable(net) == sum(per_layer)
    for layer, k, d in zip(net, kernels, dilations, strict=True):
        assert isinstance(layer, torch.nn.Conv1d if ndim == 1 else torch.nn.Conv2d)
        assert layer.dilation == (d,) * ndim
        assert layer.kernel_size == (k,) * ndim
        assert layer.weight.dtype == torch.float64
        assert bool((layer.weight >= 0.5).all())
        assert bool((layer.weight <= 1.5).all())
        assert float(layer.weight.detach().std()) > 0  # drawn, not constant
    x = torch.ones(1, channels, *(20,) * ndim, dtype=torch.float64)
    assert net(x).shape[2:] == (20 - 10 + 1,) * ndim  # a field of 1 + 1 + 4 + 4


def test_receptive_field_map_counts_paths() -> None:
    # Two layers of kernel 2, weights 1: the unit at 0 sees x0 + 2 x1 + x2 (1, 2, 1 paths).
    net = dl.dilated_stack([2, 2], [1, 1], weight_range=(1.0, 1.0))
    np.testing.assert_array_equal(dl.receptive_field_map(net, (3,)), [1.0, 2.0, 1.0])
    # With more channels the map sums the gradient over the input channels.
    net = dl.dilated_stack([1], [1], channels=2)
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[[1.0], [2.0]], [[3.0], [4.0]]]))
    np.testing.assert_array_equal(dl.receptive_field_map(net, (1,)), [3.0])


def test_support_extent_and_coverage() -> None:
    field = np.zeros((5, 6))
    field[1, 1] = field[3, 4] = 2.0
    assert dl.support_extent(field) == (3, 4)
    assert dl.coverage(field) == pytest.approx(2 / 12)
    with pytest.raises(ValueError, match="no non-zero"):
        dl.support_extent(np.zeros(3))


def test_dilated_stack_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="ndim"):
        dl.dilated_stack([3], [1], ndim=3)
    with pytest.raises(ValueError, match="channels"):
        dl.dilated_stack([3], [1], channels=0)
    with pytest.raises(ValueError, match="low <= high"):
        dl.dilated_stack([3], [1], weight_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="low <= high"):
        dl.dilated_stack([3], [1], weight_range=(2.0, 1.0))
