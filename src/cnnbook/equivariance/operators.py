"""Linear layers as numpy functions and matrices, and their parameter counts (chapter 1).

- :func:`circular_correlate`: what a convolution layer computes, with circular padding;
- :func:`circulant`, :func:`locally_connected_matrix`, :func:`shift_matrix`: the
  matrices of a convolution, of a locally connected layer and of the shift;
- :func:`shift_commutant`: every matrix that commutes with the shift (the converse of
  the chapter's theorem);
- :func:`layer_parameter_counts`: convolution, locally connected and dense layers compared.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import null_space


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


def layer_parameter_counts(
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
