"""Chapter 1: shifts, how far a layer is from commuting with them, and the layers compared.

Conventions used throughout (and in the chapter's proofs):

- a *shift* ``T_s`` moves content ``s`` samples towards higher indices,
  ``(T_s x)[i] = x[i - s]``, either wrapping around (``"circular"``) or filling the vacated
  samples with zeros (``"zeros"``, the spelling of torch's ``padding_mode``);
- a *convolution* is what deep-learning libraries compute, a cross-correlation with a
  kernel of odd size ``k`` centred on the output sample, ``y[i] = sum_j w[j] x[i + j - c]``
  with ``c = (k - 1) // 2``;
- a layer with total stride ``S`` maps a shift by ``s`` of its input to a shift by ``s / S``
  of its output; when ``s / S`` is not an integer the output grid cannot express it, and the
  band-limited (Fourier) shift is used as the reference.

Every shift and error function accepts numpy arrays and torch tensors alike and returns
the type it was given. Errors are relative errors in the L2 (Euclidean) norm over all
entries, ``||difference|| / ||reference||``; chapter 3's gradient checks use the max norm
(:func:`cnnbook.cnn1d.relative_error`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Literal, TypeVar, get_args

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import null_space
from scipy.ndimage import maximum_filter
from torch import nn

#: How a shift, or a layer's "same" padding, treats the border: wrap around, or zeros.
PaddingMode = Literal["circular", "zeros"]
MODES: tuple[PaddingMode, ...] = get_args(PaddingMode)

#: A numpy array or a torch tensor; functions return the type they were given.
Array = TypeVar("Array", np.ndarray, torch.Tensor)

IntOrInts = int | Sequence[int]


# ---------------------------------------------------------------------------------------
# Shift operators
# ---------------------------------------------------------------------------------------


def _as_tuple(value: IntOrInts, what: str) -> tuple[int, ...]:
    """Turn an integer or a sequence of integers into a tuple of Python ints."""
    items = value if isinstance(value, Sequence) else (value,)
    try:
        return tuple(operator.index(v) for v in items)
    except TypeError as err:
        raise ValueError(f"{what} must be integers, got {value!r}") from err


def check_padding_mode(padding_mode: str) -> None:
    """Raise unless ``padding_mode`` is one of :data:`MODES` (for shifts and layers alike)."""
    if padding_mode not in MODES:
        expected = " or ".join(repr(m) for m in MODES)
        raise ValueError(f"unknown padding mode {padding_mode!r}; expected {expected}")


def _normalise_axes(axes: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Axes as negative indices (counted from the end), checked against ``ndim``."""
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"axis {ax} does not exist in an array with {ndim} dimension(s)")
        out.append(ax - ndim if ax >= 0 else ax)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axes}")
    return tuple(out)


def _shifts_and_axes(
    x: np.ndarray | torch.Tensor, s: IntOrInts, axis: IntOrInts
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shifts = _as_tuple(s, "shifts")
    axes = _normalise_axes(_as_tuple(axis, "axes"), x.ndim)
    if len(shifts) != len(axes):
        raise ValueError(
            f"mismatched dims: {len(shifts)} shift(s) {shifts} for {len(axes)} axis/axes {axes}"
        )
    for si, ax in zip(shifts, axes, strict=True):
        n = x.shape[ax]
        if abs(si) > n:
            raise ValueError(f"shift {si} is larger than the signal length {n} along axis {ax}")
    return shifts, axes


def shift(
    x: Array,
    s: IntOrInts,
    mode: PaddingMode = "circular",
    axis: IntOrInts = -1,
) -> Array:
    """Shift ``x`` by ``s`` samples along ``axis``: ``(T_s x)[i] = x[i - s]``.

    Used by chapter 1 for every equivariance measurement. Positive ``s`` moves
    content towards higher indices. Several axes can be shifted at once by
    passing tuples.

    Parameters
    ----------
    x
        numpy array or torch tensor.
    s
        Shift in samples, one integer per axis; ``|s|`` may not exceed the axis
        length.
    mode
        ``"circular"`` wraps content around; ``"zeros"`` fills the vacated
        samples with zeros.
    axis
        Axis or axes to shift.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The shifted copy, of the same type, shape and dtype as ``x``.
    """
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
    check_padding_mode(mode)
    shifts, axes = _shifts_and_axes(x, s, axis)
    if mode == "circular":
        if isinstance(x, torch.Tensor):
            return torch.roll(x, shifts, dims=axes)
        return np.roll(x, shifts, axis=axes)
    if isinstance(x, torch.Tensor):
        out = torch.zeros_like(x)
    else:
        out = np.zeros_like(x)
    src = [slice(None)] * x.ndim
    dst = [slice(None)] * x.ndim
    for si, ax in zip(shifts, axes, strict=True):
        n = x.shape[ax]
        if si >= 0:
            src[ax], dst[ax] = slice(0, n - si), slice(si, n)
        else:
            src[ax], dst[ax] = slice(-si, n), slice(0, n + si)
    out[tuple(dst)] = x[tuple(src)]
    return out


def shift2d(x: Array, s: tuple[int, int], mode: PaddingMode = "circular") -> Array:
    """Translate an image (or a batch of images) by ``s = (rows, columns)``.

    Chapter 1 uses it on the photograph. Shifts the last two axes of ``x``.
    """
    if x.ndim < 2:
        raise ValueError(f"a 2-D shift needs at least 2 dimensions, got shape {tuple(x.shape)}")
    return shift(x, s, mode, axis=(-2, -1))


def fractional_shift(x: Array, s: float, axis: int = -1) -> Array:
    """Band-limited circular shift by a real number of samples, through the Fourier domain.

    Chapter 1 uses it as the reference output shift of a strided layer when the input
    shift is not a multiple of the stride. For integer ``s`` it equals the circular
    :func:`shift` up to rounding; for a sampled sinusoid below the Nyquist frequency it
    is exact. The Nyquist component of an even-length signal keeps only its real part.

    Parameters
    ----------
    x
        Real numpy array or torch tensor.
    s
        Shift in samples (any real number).
    axis
        Axis to shift.
    """
    if not math.isfinite(s):
        raise ValueError(f"shift must be finite, got {s}")
    (ax,) = _normalise_axes((operator.index(axis),), x.ndim)
    n = x.shape[ax]
    shape = [1] * x.ndim
    shape[ax] = n // 2 + 1
    if isinstance(x, torch.Tensor):
        freq = torch.fft.rfftfreq(n, dtype=torch.float64).reshape(shape)
        phase = torch.exp(-2j * math.pi * s * freq)
        return torch.fft.irfft(torch.fft.rfft(x, dim=ax) * phase, n=n, dim=ax).to(x.dtype)
    phase = np.exp(-2j * np.pi * s * np.fft.rfftfreq(n)).reshape(shape)
    return np.fft.irfft(np.fft.rfft(x, axis=ax) * phase, n=n, axis=ax).astype(x.dtype)


# ---------------------------------------------------------------------------------------
# Measures
# ---------------------------------------------------------------------------------------


def _norm(x: np.ndarray | torch.Tensor) -> float:
    if isinstance(x, torch.Tensor):
        return float(torch.linalg.vector_norm(x.detach()))
    return float(np.linalg.norm(np.ravel(x)))


def _relative_l2(
    difference: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor
) -> float:
    """``||difference|| / ||reference||`` in the L2 norm; the numerator if the reference is 0."""
    num, den = _norm(difference), _norm(reference)
    return num / den if den > 0 else num


def equivariance_residual(
    f: Callable[[Array], Array],
    x: Array,
    s: IntOrInts,
    *,
    mode: PaddingMode = "circular",
    stride: IntOrInts = 1,
    axis: IntOrInts = -1,
) -> Array:
    """The residual ``f(T_s x) - T'_{s/S} f(x)`` of a layer ``f`` with total stride ``S``.

    Chapter 1 plots it by position (zero padding) and reduces it to
    :func:`equivariance_error`. ``axis`` is counted from the end, so it names the same
    spatial axis of the input and of the output (a layer may add a channel axis in front).
    The output shift is ``s / S``; when that is not an integer the reference is the
    band-limited :func:`fractional_shift` (circular mode only).

    Parameters
    ----------
    f
        The layer: an array (tensor) in, an array (tensor) out.
    x
        Input.
    s
        Input shift, one integer per axis.
    mode
        Shift mode, ``"circular"`` or ``"zeros"``, used on both sides.
    stride
        Total stride of ``f`` along each axis: the output is ``S`` times shorter.
    axis
        Spatial axis or axes.
    """
    return _residual_and_output(f, x, s, mode, stride, axis)[0]


def _residual_and_output(
    f: Callable[[Array], Array],
    x: Array,
    s: IntOrInts,
    mode: PaddingMode,
    stride: IntOrInts,
    axis: IntOrInts,
) -> tuple[Array, Array]:
    """``(f(T_s x) - T'_{s/S} f(x), f(x))``, calling ``f`` twice."""
    check_padding_mode(mode)
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
    shifts, axes = _shifts_and_axes(x, s, axis)
    strides = _as_tuple(stride, "strides")
    if len(strides) == 1 and len(axes) > 1:
        strides = strides * len(axes)
    if len(strides) != len(axes):
        raise ValueError(f"mismatched dims: {len(strides)} stride(s) for {len(axes)} axis/axes")
    if any(st < 1 for st in strides):
        raise ValueError(f"strides must be positive, got {strides}")
    fx = f(x)
    ftx = f(shift(x, shifts, mode, axes))
    if tuple(fx.shape) != tuple(ftx.shape):
        raise ValueError(f"f changed its output shape under a shift: {fx.shape} vs {ftx.shape}")
    if fx.ndim < max(-ax for ax in axes):
        raise ValueError(f"mismatched dims: output of shape {tuple(fx.shape)} lacks axes {axes}")
    reference = fx
    for si, ax, st in zip(shifts, axes, strides, strict=True):
        if fx.shape[ax] * st != x.shape[ax]:
            raise ValueError(
                f"mismatched dims: output length {fx.shape[ax]} times stride {st} "
                f"differs from input length {x.shape[ax]} along axis {ax}"
            )
        if si % st == 0:
            reference = shift(reference, si // st, mode, ax)
        elif mode == "circular":
            reference = fractional_shift(reference, si / st, ax)
        else:
            raise ValueError(
                f"a zero-filled shift by {si}, not a multiple of the stride {st}, "
                "has no counterpart on the output grid"
            )
    return ftx - reference, fx


def equivariance_error(
    f: Callable[[Array], Array],
    x: Array,
    s: IntOrInts,
    *,
    mode: PaddingMode = "circular",
    stride: IntOrInts = 1,
    axis: IntOrInts = -1,
) -> float:
    """Relative equivariance error ``||f(T_s x) - T'_{s/S} f(x)|| / ||f(x)||`` (L2 norms).

    Chapter 1's main measurement: zero (up to rounding) for a layer that commutes with
    the shift. Arguments as in :func:`equivariance_residual`. When ``f(x) = 0`` the
    absolute error is returned.
    """
    residual, fx = _residual_and_output(f, x, s, mode, stride, axis)
    return _relative_l2(residual, fx)


def invariance_error(
    g: Callable[[Array], Array],
    x: Array,
    s: IntOrInts,
    *,
    mode: PaddingMode = "circular",
    axis: IntOrInts = -1,
) -> float:
    """Relative invariance error ``||g(T_s x) - g(x)|| / ||g(x)||`` (L2 norms).

    Chapter 1 applies it to globally pooled features and to classifiers.
    """
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
    gx = g(x)
    gtx = g(shift(x, s, mode, axis))
    if tuple(gx.shape) != tuple(gtx.shape):
        raise ValueError(f"g changed its output shape under a shift: {gx.shape} vs {gtx.shape}")
    return _relative_l2(gtx - gx, gx)


def transform_error(
    f: Callable[[Array], Array],
    x: Array,
    t_in: Callable[[Array], Array],
    t_out: Callable[[Array], Array],
) -> float:
    """Relative error ``||f(t_in x) - t_out f(x)|| / ||t_out f(x)||`` (L2) for any pair of maps.

    Chapter 1 uses it for rotations and rescalings, which convolution does not commute with.
    """
    reference = t_out(f(x))
    result = f(t_in(x))
    if tuple(result.shape) != tuple(reference.shape):
        raise ValueError(
            f"mismatched dims: f(t_in x) has shape {tuple(result.shape)}, "
            f"t_out f(x) has shape {tuple(reference.shape)}"
        )
    return _relative_l2(result - reference, reference)


# ---------------------------------------------------------------------------------------
# Linear layers as numpy functions and matrices
# ---------------------------------------------------------------------------------------


def _check_kernel(x: np.ndarray, w: np.ndarray) -> None:
    if w.ndim < 1 or w.ndim > x.ndim:
        raise ValueError(
            f"mismatched dims: a {w.ndim}-D kernel cannot slide over a {x.ndim}-D signal"
        )
    for k, n in zip(w.shape, x.shape[-w.ndim :], strict=True):
        if k % 2 == 0:
            raise ValueError(f"kernel sizes must be odd (centred kernels), got {w.shape}")
        if k > n:
            raise ValueError(f"kernel {w.shape} is larger than the signal {x.shape}")


def circular_correlate(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Circular cross-correlation with a centred kernel, what a conv layer computes.

    ``y[i] = sum_j w[j] x[(i + j - c) mod n]`` with ``c = (k - 1) // 2``, over the last
    ``w.ndim`` axes of ``x`` (1-D signals, images, or batches of either). Chapter 1 uses
    it for the proofs' numerical checks and for template matching on the photograph.
    Computed through the FFT.

    Parameters
    ----------
    x
        Signal, ``(..., n)`` for a 1-D kernel or ``(..., h, w)`` for a 2-D kernel.
    w
        Kernel with odd sizes, no larger than the signal.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    _check_kernel(x, w)
    axes = tuple(range(-w.ndim, 0))
    size = x.shape[-w.ndim :]
    full = np.zeros(size)
    full[tuple(slice(0, k) for k in w.shape)] = w
    full = np.roll(full, [-((k - 1) // 2) for k in w.shape], axis=axes)
    spectrum = np.conj(np.fft.fftn(full, axes=axes)) * np.fft.fftn(x, axes=axes)
    return np.fft.ifftn(spectrum, axes=axes).real


def circulant(w: np.ndarray, n: int) -> np.ndarray:
    """The ``n x n`` matrix ``C`` with ``C @ x == circular_correlate(x, w)``.

    ``C[i, j] = w[(j - i + c) mod n]`` (zero where the kernel has no tap): every row is
    the row above shifted one place to the right. Chapter 1 draws it next to the
    locally connected and dense matrices.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"mismatched dims: expected a 1-D kernel, got shape {w.shape}")
    _check_kernel(np.zeros(n), w)
    c = (w.size - 1) // 2
    row = np.zeros(n)
    row[(np.arange(w.size) - c) % n] = w
    return np.stack([np.roll(row, i) for i in range(n)])


def shift_matrix(n: int, s: int = 1) -> np.ndarray:
    """The ``n x n`` permutation matrix ``P`` of the circular shift: ``P @ x == shift(x, s)``."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    return np.roll(np.eye(n), s, axis=0)


def shift_commutant(n: int) -> np.ndarray:
    """An orthonormal basis of the matrices that commute with the circular shift.

    Chapter 1 uses it for the converse of the theorem: the basis has ``n`` elements and
    every one of them is circulant, i.e. a circular convolution.

    Returns
    -------
    numpy.ndarray
        ``(d, n, n)``: ``d`` matrices ``A`` with ``A P = P A`` spanning all of them.
    """
    p = shift_matrix(n, 1)
    eye = np.eye(n)
    # vec(A P - P A) = (P^T kron I - I kron P) vec(A), with column-major vec.
    operator_ = np.kron(p.T, eye) - np.kron(eye, p)
    basis = null_space(operator_)
    return basis.T.reshape(-1, n, n).transpose(0, 2, 1)


def locally_connected_matrix(weights: np.ndarray) -> np.ndarray:
    """The matrix of a circular locally connected layer with one kernel per position.

    ``weights`` is ``(n, k)``: position ``i`` computes ``sum_j weights[i, j] x[(i + j - c) mod n]``.
    The banded pattern of :func:`circulant`, without the tying of its rows.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(f"mismatched dims: expected (n, k) weights, got shape {weights.shape}")
    n, k = weights.shape
    _check_kernel(np.zeros(n), weights[0])
    c = (k - 1) // 2
    matrix = np.zeros((n, n))
    rows = np.repeat(np.arange(n), k)
    cols = (rows + np.tile(np.arange(k), n) - c) % n
    np.add.at(matrix, (rows, cols), weights.ravel())
    return matrix


def count_parameters(
    shape: tuple[int, ...],
    kernel: tuple[int, ...],
    in_channels: int = 1,
    out_channels: int = 1,
    bias: bool = True,
) -> dict[str, int]:
    """Parameters of a convolution, a locally connected and a dense layer, same in and out size.

    Chapter 1's efficiency comparison. The input is ``in_channels x shape`` and the output
    ``out_channels x shape`` ("same" padding, stride 1).

    Returns
    -------
    dict
        ``{"convolution": ..., "locally connected": ..., "dense": ...}``.
    """
    if len(shape) != len(kernel):
        raise ValueError(f"mismatched dims: a {len(kernel)}-D kernel for a {len(shape)}-D input")
    if min(*shape, *kernel, in_channels, out_channels) < 1:
        raise ValueError("sizes must be positive")
    positions = math.prod(shape)
    per_position = out_channels * in_channels * math.prod(kernel)
    return {
        "convolution": per_position + (out_channels if bias else 0),
        "locally connected": positions * (per_position + (out_channels if bias else 0)),
        "dense": (in_channels * positions) * (out_channels * positions)
        + (out_channels * positions if bias else 0),
    }


def downsample_mean(x: np.ndarray, factor: int = 2) -> np.ndarray:
    """Shrink an image (last two axes) by averaging ``factor x factor`` blocks.

    Chapter 1's change of scale, and the way it halves the photograph for speed.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"mismatched dims: expected an image, got shape {x.shape}")
    h, w = x.shape[-2:]
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"factor {factor} does not divide the image size {(h, w)}")
    blocks = x.reshape(*x.shape[:-2], h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(-3, -1))


def lifting_p4(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A group-convolution lifting layer for 90-degree rotations (Cohen & Welling 2016).

    Correlates ``image`` circularly with the kernel rotated by 0, 90, 180 and 270 degrees
    (``np.rot90(kernel, r)``). Rotating a square input by 90 degrees rotates every output
    map and moves map ``r`` to ``r + 1``. Used by chapter 1 to show how equivariance
    extends beyond translation.

    Returns
    -------
    numpy.ndarray
        ``(4, h, w)``.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"mismatched dims: expected a 2-D kernel, got shape {kernel.shape}")
    return np.stack([circular_correlate(image, np.rot90(kernel, r)) for r in range(4)])


def match_template(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of ``image`` with ``template`` at every position (circular).

    Entry ``[i, j]`` is the correlation coefficient between the template and the image
    window centred on ``(i, j)``, in ``[-1, 1]``. Built from circular correlations only,
    so it is itself translation-equivariant. Chapter 1 localises a patch of the photograph.
    """
    image = np.asarray(image, dtype=np.float64)
    template = np.asarray(template, dtype=np.float64)
    if image.ndim != 2 or template.ndim != 2:
        raise ValueError(
            f"mismatched dims: expected 2-D image and template, got {image.shape}, {template.shape}"
        )
    t = template - template.mean()
    t_norm = np.linalg.norm(t)
    if t_norm == 0:
        raise ValueError("the template is constant")
    m = template.size
    box = np.ones_like(template)
    window_sum = circular_correlate(image, box)
    window_sq = circular_correlate(image**2, box)
    window_var = np.maximum(window_sq - window_sum**2 / m, 0.0)
    numerator = circular_correlate(image, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = numerator / (t_norm * np.sqrt(window_var))
    return np.where(window_var > 1e-12 * m, score, 0.0)


def peak_position(response: np.ndarray) -> tuple[int, ...]:
    """Index of the largest entry of a response map (first one on ties)."""
    response = np.asarray(response)
    if response.size == 0:
        raise ValueError("empty response map")
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(response)), response.shape))


def detect_peaks(response: np.ndarray, threshold: float, size: int) -> np.ndarray:
    """Local maxima of a 2-D response map above ``threshold`` (neighbourhood ``size x size``).

    A position is a detection when its value exceeds ``threshold`` and equals the maximum
    of the ``size x size`` window centred on it (windows wrap around, like the circular
    correlations that produce the map). Chapter 1 detects the stars of the flag in the
    photograph with a template taken from one of them.

    Returns
    -------
    numpy.ndarray
        ``(k, 2)`` integer array of ``(row, column)`` detections, in row-major order.
    """
    response = np.asarray(response, dtype=np.float64)
    if response.ndim != 2:
        raise ValueError(f"mismatched dims: expected a 2-D map, got shape {response.shape}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be odd and positive, got {size}")
    local_max = maximum_filter(response, size=size, mode="wrap")
    return np.argwhere((response == local_max) & (response > threshold))


# ---------------------------------------------------------------------------------------
# Torch layers and models
# ---------------------------------------------------------------------------------------


def _pad_same(x: torch.Tensor, kernel_size: int, padding_mode: PaddingMode) -> torch.Tensor:
    left = (kernel_size - 1) // 2
    pad = (left, kernel_size - 1 - left)
    if padding_mode == "circular":
        return F.pad(x, pad, mode="circular")
    return F.pad(x, pad)


class LocallyConnected1d(nn.Module):
    """A 1-D layer with the receptive field of a convolution but its own kernel at every position.

    Local, but not shared: chapter 1 compares it with ``nn.Conv1d`` (shared) and
    ``nn.Linear`` (neither). ``y[b, o, i] = bias[o, i] + sum_{c, j} weight[i, o, c, j]
    x_pad[b, c, i + j]`` with "same" padding.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    length
        Signal length (the layer has one kernel per output position).
    kernel_size
        Odd receptive-field size.
    padding_mode
        ``"circular"`` or ``"zeros"``.
    bias
        Whether every position has its own bias.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        length: int,
        kernel_size: int,
        padding_mode: PaddingMode = "circular",
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_padding_mode(padding_mode)
        if kernel_size % 2 == 0 or kernel_size < 1:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        if kernel_size > length:
            raise ValueError(f"kernel_size {kernel_size} is larger than the length {length}")
        self.length = length
        self.kernel_size = kernel_size
        self.padding_mode = padding_mode
        bound = 1.0 / math.sqrt(in_channels * kernel_size)
        self.weight = nn.Parameter(
            torch.empty(length, out_channels, in_channels, kernel_size).uniform_(-bound, bound)
        )
        self.bias = (
            nn.Parameter(torch.empty(out_channels, length).uniform_(-bound, bound))
            if bias
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.length or x.shape[1] != self.weight.shape[2]:
            raise ValueError(
                f"mismatched dims: expected (batch, {self.weight.shape[2]}, {self.length}), "
                f"got {tuple(x.shape)}"
            )
        windows = _pad_same(x, self.kernel_size, self.padding_mode).unfold(-1, self.kernel_size, 1)
        y = torch.einsum("bcij,iocj->boi", windows, self.weight)
        return y if self.bias is None else y + self.bias


def binomial_filter(taps: int) -> np.ndarray:
    """The normalised binomial low-pass filter with ``taps`` taps (``[1, 2, 1] / 4`` for 3)."""
    if taps < 1:
        raise ValueError(f"taps must be positive, got {taps}")
    coeffs = np.array([math.comb(taps - 1, j) for j in range(taps)], dtype=np.float64)
    return coeffs / coeffs.sum()


class BlurPool1d(nn.Module):
    """Blur with a binomial filter, then subsample: anti-aliased downsampling (Zhang 2019).

    Chapter 1 swaps it in after a stride-1 max pool and measures how much shift
    consistency it restores. Circular padding; every channel is filtered alike.
    """

    filt: torch.Tensor  # the filter, a buffer (moves with the module, not trained)

    def __init__(self, stride: int = 2, taps: int = 3) -> None:
        super().__init__()
        if stride < 1:
            raise ValueError(f"stride must be positive, got {stride}")
        self.stride = stride
        self.taps = taps
        filt = torch.from_numpy(binomial_filter(taps))
        self.register_buffer("filt", filt, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            shape = "(batch, channels, length)"
            msg = f"mismatched dims: expected {shape}, got {x.shape}"
            raise ValueError(msg)
        channels = x.shape[1]
        weight = self.filt.to(x.dtype).expand(channels, 1, self.taps)
        padded = _pad_same(x, self.taps, "circular")
        return F.conv1d(padded, weight, stride=self.stride, groups=channels)


class CircularMaxPool1d(nn.Module):
    """Max over a window of ``kernel_size`` samples at every position (stride 1, circular)."""

    def __init__(self, kernel_size: int = 2) -> None:
        super().__init__()
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be positive, got {kernel_size}")
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (0, self.kernel_size - 1), mode="circular")
        return F.max_pool1d(padded, self.kernel_size, stride=1)
