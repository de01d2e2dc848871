"""The layers of chapter 3's network, each a forward pass with a cache and a backward pass.

As in CS231n, every layer has ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache)``, so that :func:`cnnbook.cnn1d.gradients` reads line for line
like the chapter's derivation: zero padding, the convolution, ReLU, average pooling, a
dense layer, and the sigmoid with the binary cross-entropy. Vectorised numpy over
examples and positions; the only Python loops run over the few taps of a kernel or of
a pooling window.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class ConvCache(NamedTuple):
    """What :func:`conv_backward` needs: the windows ``x~[n, j s + i]`` of the padded input."""

    windows: np.ndarray  # (N, L_C, k)


class ReLUCache(NamedTuple):
    """What :func:`relu_backward` needs: where the pre-activation was positive."""

    mask: np.ndarray


class PoolCache(NamedTuple):
    """What :func:`avgpool_backward` needs: the input's shape and the pooling windows."""

    shape: tuple[int, ...]  # (N, L_C)
    slices: list[slice]  # slice t picks the t-th position of every window
    pool: int  # window length w


class DenseCache(NamedTuple):
    """What :func:`dense_backward` needs: the layer's input and weights."""

    v: np.ndarray  # (N, P) for FC1, (N, m) for Z
    W: np.ndarray  # (m, P) for FC1, (m,) for Z


def pad_forward(x: np.ndarray, left: int, right: int) -> np.ndarray:
    """Zero padding of ``(N, L)`` to ``(N, left + L + right)``: ``x~``."""
    x_pad = np.zeros((x.shape[0], left + x.shape[1] + right))
    x_pad[:, left : left + x.shape[1]] = x
    return x_pad


def conv_forward(
    x_pad: np.ndarray, W_C: np.ndarray, b_C: np.ndarray, stride: int
) -> tuple[np.ndarray, ConvCache]:
    """One-channel cross-correlation ``c_hat_j = sum_i W_C[i] x~[j s + i] + b_C``.

    Parameters
    ----------
    x_pad
        Padded input ``(N, L~)``.
    W_C, b_C
        Kernel ``(k,)`` and bias ``()``.
    stride
        Step ``s`` between windows.

    Returns
    -------
    c_hat, cache
        Pre-activation ``(N, L_C)`` and what :func:`conv_backward` needs.
    """
    windows = sliding_window_view(x_pad, W_C.shape[0], axis=1)[:, ::stride]  # (N, L_C, k)
    taps = _tap_slices(windows.shape[1], stride, W_C.shape[0])  # x~[j s + i] for all j
    c_hat = W_C[0] * x_pad[:, taps[0]] + b_C
    for i in range(1, W_C.shape[0]):
        c_hat += W_C[i] * x_pad[:, taps[i]]
    return c_hat, ConvCache(windows)


def conv_backward(
    delta_c: np.ndarray,
    cache: ConvCache,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of Conv1's parameters from ``delta_c = dCost/dc_hat`` (N, L_C).

    ``dW_C[i] = sum_n sum_j delta_c[n, j] x~[n, j s + i]`` is the correlation
    of the padded input with the delta (weight sharing sums over positions);
    ``db_C = sum delta_c``.
    """
    # cache.windows[n, j, i] = x~[n, j s + i], a view
    dW_C = np.einsum("nj,nji->i", delta_c, cache.windows)
    db_C = delta_c.sum()
    return dW_C, np.asarray(db_C)


def relu_forward(pre: np.ndarray) -> tuple[np.ndarray, ReLUCache]:
    """ReLU, keeping the mask ``pre > 0`` for the backward pass."""
    mask = pre > 0
    return pre * mask, ReLUCache(mask)


def relu_backward(dout: np.ndarray, cache: ReLUCache) -> np.ndarray:
    """Pass the gradient where the pre-activation was positive; 0 elsewhere (and at 0)."""
    return dout * cache.mask


def _tap_slices(length_out: int, step: int, taps: int) -> list[slice]:
    """Slice ``r`` picks the ``r``-th element of every window: ``r, r + step, ...``."""
    return [slice(r, r + step * (length_out - 1) + 1, step) for r in range(taps)]


def avgpool_forward(c: np.ndarray, pool: int, pool_stride: int) -> tuple[np.ndarray, PoolCache]:
    """Average of windows of ``pool`` taken every ``pool_stride``; a trailing rest is dropped.

    ``a_i = (1/w) sum_{t<w} c[i s_p + t]`` for ``i < L_P = floor((L_C - w)/s_p) + 1``.
    """
    length_p = (c.shape[1] - pool) // pool_stride + 1
    slices = _tap_slices(length_p, pool_stride, pool)
    a = c[:, slices[0]].copy()
    for sl in slices[1:]:
        a += c[:, sl]
    a /= pool
    return a, PoolCache(c.shape, slices, pool)


def avgpool_backward(g: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Spread ``g_i = dCost/da_i``, as ``g_i / w``, over window ``i``.

    Positions that belong to several windows collect from each; positions that
    no window covers (dropped by the floor) get 0.
    """
    d_c = np.zeros(cache.shape)
    share = g / cache.pool
    for sl in cache.slices:
        d_c[:, sl] += share
    return d_c


def dense_forward(v: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, DenseCache]:
    """Fully connected layer ``v W^T + b``; ``W`` is ``(m, P)`` (FC1) or ``(m,)`` (Z)."""
    return v @ W.T + b, DenseCache(v, W)


def dense_backward(
    dout: np.ndarray, cache: DenseCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dv, dW, db)`` of :func:`dense_forward` from ``dout``.

    ``dW = dout^T v`` (a sum over examples of outer products), ``db = sum_n dout``,
    ``dv = dout W``.
    """
    v, W = cache.v, cache.W
    dW = dout.T @ v
    db = np.asarray(dout.sum(axis=0))
    dv = dout @ W if W.ndim == 2 else np.multiply.outer(dout, W)
    return dv, dW, db


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-a))``, to full relative precision in both tails.

    Computed as ``exp(-softplus(-a))``: no overflow for any real ``a``, and no cancellation
    when ``sigmoid(a)`` is tiny.
    """
    return np.exp(-np.logaddexp(0.0, -a))


def bce_with_logits(z_hat: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed binary cross-entropy of ``z = sigmoid(z_hat)`` and its gradient in ``z_hat``.

    ``Cost = sum_n -y log z - (1 - y) log(1 - z)``, which is ``softplus(z_hat)`` for
    ``y = 0`` and ``softplus(-z_hat)`` for ``y = 1``; ``dCost/dz_hat = z - y`` (the output
    delta ``delta_z``), which is ``sigmoid(z_hat)`` for ``y = 0`` and ``-sigmoid(-z_hat)``
    for ``y = 1``. Written that way, neither takes the log of 0 nor loses digits to
    ``1 - z`` when the sigmoid saturates.
    """
    signed = np.where(y == 1.0, -z_hat, z_hat)  # the logit of the wrong answer
    cost = float(np.sum(np.logaddexp(0.0, signed)))
    delta_z = np.where(y == 1.0, -1.0, 1.0) * sigmoid(signed)
    return cost, delta_z
