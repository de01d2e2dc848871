"""Chapter 3's network end to end: outputs, cost and the hand-derived gradients.

:func:`forward`, :func:`cost`, :func:`gradients` and :func:`cost_and_gradients` chain
the layers of :mod:`cnnbook.cnn1d.layers`; :func:`pre_activations` gives the inputs of
the two ReLUs, which the gradient checks keep away from their kinks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from cnnbook.cnn1d.layers import (
    ConvCache,
    DenseCache,
    PoolCache,
    ReLUCache,
    avgpool_backward,
    avgpool_forward,
    bce_with_logits,
    conv_backward,
    conv_forward,
    dense_backward,
    dense_forward,
    pad_forward,
    relu_backward,
    relu_forward,
    sigmoid,
)
from cnnbook.cnn1d.spec import PARAM_NAMES, Params, Spec, _check_x, _check_y, check_params


class NetworkCache(NamedTuple):
    """Every layer's cache, from the input to the output unit."""

    conv: ConvCache
    relu_c: ReLUCache
    pool: PoolCache
    fc1: DenseCache
    relu_f: ReLUCache
    out: DenseCache


def _network_forward(spec: Spec, params: Params, x: np.ndarray) -> tuple[np.ndarray, NetworkCache]:
    """Pre-sigmoid output ``z_hat`` ``(N,)`` of a batch ``x`` ``(N, L)``, with every cache."""
    x_pad = pad_forward(x, spec.pad_left, spec.pad_right)
    c_hat, conv_cache = conv_forward(x_pad, params["W_C"], params["b_C"], spec.stride)
    c, relu_c_cache = relu_forward(c_hat)
    a, pool_cache = avgpool_forward(c, spec.pool, spec.pool_stride)
    f_hat, fc1_cache = dense_forward(a, params["W_A"], params["b_M"])
    f, relu_f_cache = relu_forward(f_hat)
    z_hat, out_cache = dense_forward(f, params["W_F"], params["b_F"])
    caches = NetworkCache(conv_cache, relu_c_cache, pool_cache, fc1_cache, relu_f_cache, out_cache)
    return z_hat, caches


def _network_backward(delta_z: np.ndarray, caches: NetworkCache) -> Params:
    """All six gradients from the output delta ``delta_z = z - y``, in order."""
    d_f, dW_F, db_F = dense_backward(delta_z, caches.out)  # step 1: Z
    delta_f = relu_backward(d_f, caches.relu_f)  # step 2
    g, dW_A, db_M = dense_backward(delta_f, caches.fc1)  # step 3: g = dCost/da
    d_c = avgpool_backward(g, caches.pool)  # step 4
    delta_c = relu_backward(d_c, caches.relu_c)  # step 5
    dW_C, db_C = conv_backward(delta_c, caches.conv)  # step 6
    grads = (dW_C, db_C, dW_A, db_M, dW_F, db_F)
    return dict(zip(PARAM_NAMES, grads, strict=True))


def forward(spec: Spec, params: Mapping[str, npt.ArrayLike], x: npt.ArrayLike) -> np.ndarray:
    """Output ``z = sigmoid(a)`` of the network.

    Parameters
    ----------
    spec
        The architecture.
    params
        ``W_C, b_C, W_A, b_M, W_F, b_F`` with the shapes of :meth:`Spec.shapes`.
    x
        One example ``(L,)`` or a batch ``(N, L)``.

    Returns
    -------
    numpy.ndarray
        A 0-d array for one example, ``(N,)`` for a batch. Used by chapter 3.
    """
    checked = check_params(spec, params)
    batch, single = _check_x(spec, x)
    z_hat, _ = _network_forward(spec, checked, batch)
    z = sigmoid(z_hat)
    return z.reshape(()) if single else z


def cost(
    spec: Spec, params: Mapping[str, npt.ArrayLike], x: npt.ArrayLike, y: npt.ArrayLike
) -> float:
    """The sheet's cost: binary cross-entropy summed over the examples.

    Computed from the logit as ``softplus(z_hat) - y z_hat``, which equals
    ``-y log z - (1 - y) log(1 - z)`` and never takes the log of 0. Used by chapter 3.
    """
    checked = check_params(spec, params)
    batch, single = _check_x(spec, x)
    labels = _check_y(y, batch.shape[0], single)
    z_hat, _ = _network_forward(spec, checked, batch)
    return bce_with_logits(z_hat, labels)[0]


def gradients(
    spec: Spec, params: Mapping[str, npt.ArrayLike], x: npt.ArrayLike, y: npt.ArrayLike
) -> Params:
    """Hand-derived ``dCost/dparam`` for every parameter group (chapter 3's derivation).

    Parameters
    ----------
    spec
        The architecture.
    params
        ``W_C, b_C, W_A, b_M, W_F, b_F``.
    x, y
        One example ``(L,)`` with a scalar label, or a batch ``(N, L)`` with labels ``(N,)``;
        labels are 0 or 1.

    Returns
    -------
    dict
        Same keys and shapes as ``params``; the cost is summed over the examples.
    """
    return cost_and_gradients(spec, params, x, y)[1]


def cost_and_gradients(
    spec: Spec,
    params: Mapping[str, npt.ArrayLike],
    x: npt.ArrayLike,
    y: npt.ArrayLike,
) -> tuple[float, Params]:
    """:func:`cost` and :func:`gradients` from one forward pass (chapter 3's SGD).

    Parameters
    ----------
    spec
        The architecture.
    params
        ``W_C, b_C, W_A, b_M, W_F, b_F``.
    x, y
        One example ``(L,)`` with a scalar label, or a batch ``(N, L)`` with labels ``(N,)``;
        labels are 0 or 1.

    Returns
    -------
    cost, grads
        The summed binary cross-entropy, and a dict with the keys and shapes of ``params``.
    """
    checked = check_params(spec, params)
    batch, single = _check_x(spec, x)
    labels = _check_y(y, batch.shape[0], single)
    z_hat, caches = _network_forward(spec, checked, batch)
    total, delta_z = bce_with_logits(z_hat, labels)
    return total, _network_backward(delta_z, caches)


def pre_activations(
    spec: Spec, params: Mapping[str, npt.ArrayLike], x: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Conv1's pre-activation ``c_hat`` ``(N, L_C)`` and FC1's ``f_hat`` ``(N, m)``.

    For plots and checks: used by chapter 3 (where the ReLUs switch). A single example
    gives ``N = 1``.
    """
    checked = check_params(spec, params)
    batch, _ = _check_x(spec, x)
    x_pad = pad_forward(batch, spec.pad_left, spec.pad_right)
    c_hat, _ = conv_forward(x_pad, checked["W_C"], checked["b_C"], spec.stride)
    a, _ = avgpool_forward(np.maximum(c_hat, 0.0), spec.pool, spec.pool_stride)
    f_hat, _ = dense_forward(a, checked["W_A"], checked["b_M"])
    return c_hat, f_hat
