"""Chapter 1: shifts, and how far a layer is from commuting with them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MODES: tuple[str, ...] = ("circular", "zero")


def shift(x: np.ndarray, s: int, mode: str = "circular", axis: int = -1) -> np.ndarray:
    """Translate ``x`` by ``s`` samples along ``axis`` (positive ``s`` moves content right).

    ``"circular"`` wraps around; ``"zero"`` fills the vacated samples with zeros.
    """
    x = np.asarray(x)
    if mode not in MODES:
        raise ValueError(f"unknown shift mode {mode!r}; expected one of {MODES}")
    n = x.shape[axis]
    if abs(s) > n:
        raise ValueError(f"shift {s} is larger than the signal length {n}")
    if mode == "circular":
        return np.roll(x, s, axis=axis)
    out = np.zeros_like(x)
    src = [slice(None)] * x.ndim
    dst = [slice(None)] * x.ndim
    if s >= 0:
        src[axis], dst[axis] = slice(0, n - s), slice(s, n)
    else:
        src[axis], dst[axis] = slice(-s, n), slice(0, n + s)
    out[tuple(dst)] = x[tuple(src)]
    return out


def equivariance_error(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, s: int, mode: str = "circular"
) -> float:
    """Relative error ``||f(T_s x) - T_s f(x)|| / ||f(x)||`` of a length-preserving map ``f``."""
    fx = f(x)
    num = np.linalg.norm(f(shift(x, s, mode)) - shift(fx, s, mode))
    den = np.linalg.norm(fx)
    return float(num / den) if den > 0 else float(num)
