"""Shifts of signals and images, and where zero padding breaks equivariance (chapter 1).

- :func:`shift`, :func:`shift2d`: the shift ``T_s``, circular or zero-filled;
- :func:`fractional_shift`: the band-limited shift by a real number of samples, the
  reference output shift of a strided layer;
- :func:`border_zone`: the positions where a zero-padded stack may err under a shift;
- :data:`PaddingMode`, :data:`MODES`, :func:`check_padding_mode`: the two border
  treatments, shared by the shifts and the layers of :mod:`cnnbook.layers`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Literal, TypeVar, get_args

import numpy as np
import torch

#: How a shift, or a layer's "same" padding, treats the border: wrap around, or zeros.
PaddingMode = Literal["circular", "zeros"]
MODES: tuple[PaddingMode, ...] = get_args(PaddingMode)

#: A numpy array or a torch tensor; functions return the type they were given.
Array = TypeVar("Array", np.ndarray, torch.Tensor)

IntOrInts = int | Sequence[int]


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


def border_zone(shape: IntOrInts, s: IntOrInts, radius: int) -> np.ndarray:
    """Where a zero-padded stack of receptive radius ``radius`` may miss equivariance.

    Under a circular shift by ``s``, output ``i`` of a stride-1 stack whose outputs see
    the inputs within ``radius`` of them is the same before and after, unless its
    window meets an edge of the array (``i < R`` or ``i >= n - R``) or the place the
    edges moved to (``s - R <= i < s + R``, modulo ``n``). Chapter 1 checks that the
    error of a zero-padded CNN stays inside this zone, for a signal and for an image.

    Parameters
    ----------
    shape
        Length of each spatial axis, ``n`` or ``(h, w)``.
    s
        Circular shift along each axis, as given to :func:`shift`.
    radius
        Receptive radius ``R`` of the stack: ``L (k - 1) / 2`` for ``L`` layers with
        ``k``-tap kernels.

    Returns
    -------
    numpy.ndarray
        Boolean mask of ``shape``: true where an error may be, along any axis.
    """
    sizes, shifts = _as_tuple(shape, "sizes"), _as_tuple(s, "shifts")
    if len(sizes) != len(shifts):
        raise ValueError(f"mismatched dims: {len(shifts)} shift(s) for {len(sizes)} axis/axes")
    if min(sizes, default=0) < 1 or radius < 0:
        raise ValueError(f"need positive sizes and radius >= 0, got {sizes}, {radius}")
    zone = np.zeros(sizes, dtype=bool)
    for ax, (n, si) in enumerate(zip(sizes, shifts, strict=True)):
        i = np.arange(n)
        edges = (i < radius) | (i >= n - radius)
        moved_edges = (i - si + radius) % n < 2 * radius
        zone |= (edges | moved_edges).reshape([n if a == ax else 1 for a in range(len(sizes))])
    return zone
