"""How far a map is from commuting with a shift or another transformation (chapter 1).

- :func:`equivariance_residual`, :func:`equivariance_error`: ``f(T_s x) - T'_{s/S} f(x)``
  for a layer of total stride ``S``, and its relative L2 norm;
- :func:`invariance_error`: ``g(T_s x) - g(x)``, for pooled features and classifiers;
- :func:`transform_error`: the same for any pair of maps (rotations, rescalings).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from cnnbook.equivariance.shifts import (
    Array,
    IntOrInts,
    PaddingMode,
    _as_tuple,
    _shifts_and_axes,
    check_padding_mode,
    fractional_shift,
    shift,
)


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
