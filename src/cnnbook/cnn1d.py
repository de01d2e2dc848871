"""Chapter 3: the 1-D CNN of question 3, its parameter count and its hand-derived gradients.

The network is ``X -> zero padding -> Conv1 + ReLU -> AVGPOOL1 -> FC1 + ReLU -> Z + sigmoid``
with one convolution channel, trained with the binary cross-entropy summed over examples.
Parameters follow the sheet's notation: ``W_C, b_C`` (Conv1, the sheet's $W^C$, $b^C$),
``W_A, b_M`` (AVGPOOL1 -> FC1, the sheet's $W^A_{ji}$, $b^M_j$; ``W_A[j, i]`` is the weight
from pooled position ``i`` to FC1 unit ``j``) and ``W_F, b_F`` (FC1 -> Z, the sheet's
$W^F$, $b^F$). The layers' outputs are ``c, a, f, z``; their pre-activations are
``c_hat, f_hat, z_hat``. Arrays are indexed from 0, the chapter's formulas from 1.

Every layer has a ``*_forward(...) -> (out, cache)`` and a ``*_backward(dout, cache)``, as in
CS231n, so that :func:`gradients` reads line for line like the chapter's derivation. The
forward and backward passes are vectorised numpy over examples and positions; their only
Python loops run over the few taps of a kernel or of a pooling window. The checks
(:func:`numerical_gradients`) loop over parameters and the trainers over SGD steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

PARAM_NAMES: tuple[str, ...] = ("W_C", "b_C", "W_A", "b_M", "W_F", "b_F")

Params = dict[str, np.ndarray]


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


class NetworkCache(NamedTuple):
    """Every layer's cache, from the input to the output unit."""

    conv: ConvCache
    relu_c: ReLUCache
    pool: PoolCache
    fc1: DenseCache
    relu_f: ReLUCache
    out: DenseCache


@dataclass(frozen=True)
class Spec:
    """Hyper-parameters of the network ``X -> Conv1 + ReLU -> AVGPOOL1 -> FC1 + ReLU -> Z``.

    ``padding`` zeros are added at *each* end of the input (``padding_right``, when given,
    overrides the number at the right end, so that padding at one end only can be
    expressed); the convolution has one channel and is a cross-correlation with stride
    ``stride``; the pooling averages windows of ``pool`` taken every ``pool_stride`` and
    drops trailing positions that do not fill a window; FC1 has ``hidden`` units (the
    sheet's Figure 1 gives 20, the default).

    Used by chapter 3. Raises ``ValueError`` when a size is out of range or a layer comes
    out empty.
    """

    length: int = 785
    padding: int = 1
    kernel: int = 2
    stride: int = 1
    pool: int = 2
    pool_stride: int = 2
    hidden: int = 20
    padding_right: int | None = None

    def __post_init__(self) -> None:
        for name in ("length", "padding", "kernel", "stride", "pool", "pool_stride", "hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"Spec.{name} must be an integer, got {value!r}")
        if self.padding_right is not None and (
            isinstance(self.padding_right, bool)
            or not isinstance(self.padding_right, int | np.integer)
        ):
            raise ValueError(f"Spec.padding_right must be an integer, got {self.padding_right!r}")
        for name in ("length", "kernel", "stride", "pool", "pool_stride", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"Spec.{name} must be >= 1, got {getattr(self, name)}")
        if self.padding < 0:
            raise ValueError(f"Spec.padding must be >= 0, got {self.padding}")
        if self.padding_right is not None and self.padding_right < 0:
            raise ValueError(f"Spec.padding_right must be >= 0, got {self.padding_right}")
        if self.conv_length < 1:
            raise ValueError(
                f"Conv1 comes out empty: padded length {self.padded_length} < kernel {self.kernel}"
            )
        if self.pooled_length < 1:
            raise ValueError(
                f"AVGPOOL1 comes out empty: conv length {self.conv_length} < window {self.pool}"
            )

    @property
    def pad_left(self) -> int:
        """Zeros added before the first sample."""
        return self.padding

    @property
    def pad_right(self) -> int:
        """Zeros added after the last sample (``padding`` unless ``padding_right`` is set)."""
        return self.padding if self.padding_right is None else self.padding_right

    @property
    def padded_length(self) -> int:
        """Length after zero padding, ``L + 2p`` (or ``L + p_left + p_right``)."""
        return self.length + self.pad_left + self.pad_right

    @property
    def conv_length(self) -> int:
        """Length of Conv1's output, ``floor((L + 2p - k) / s) + 1`` (0 when empty)."""
        span = self.padded_length - self.kernel
        return span // self.stride + 1 if span >= 0 else 0

    @property
    def pooled_length(self) -> int:
        """Length of AVGPOOL1's output ``L_P``, ``floor((L_C - w) / s_pool) + 1`` (0 when empty)."""
        span = self.conv_length - self.pool
        return span // self.pool_stride + 1 if span >= 0 else 0

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each parameter group, keyed by the sheet's names."""
        m, length_p = self.hidden, self.pooled_length
        return {
            "W_C": (self.kernel,),
            "b_C": (),
            "W_A": (m, length_p),
            "b_M": (m,),
            "W_F": (m,),
            "b_F": (),
        }


def count_parameters(spec: Spec) -> dict[str, int]:
    """Number of trainable parameters of each group and in total.

    Conv1 has ``k`` weights and one bias; pooling has none; FC1 has ``m * L_P`` weights
    and ``m`` biases; the output unit has ``m`` weights and one bias. Used by chapter 3.

    Returns
    -------
    dict
        Keys ``"W_C", "b_C", "W_A", "b_M", "W_F", "b_F", "total"``.
    """
    counts = {
        "W_C": spec.kernel,
        "b_C": 1,
        "W_A": spec.hidden * spec.pooled_length,
        "b_M": spec.hidden,
        "W_F": spec.hidden,
        "b_F": 1,
    }
    counts["total"] = sum(counts.values())
    return counts


def count_in_m(spec: Spec) -> dict[str, tuple[int, int]]:
    """Each group's count, and the total, as ``a * m + b`` in the FC1 width ``m``.

    Every count of :func:`count_parameters` is affine in ``m = spec.hidden``
    (no group has a term in ``m`` squared), so two widths fix it: ``a`` is the
    count at ``m = 2`` minus the count at ``m = 1``, and ``b`` what is left.
    The ``hidden`` of ``spec`` itself is ignored. Used by chapter 3, whose
    answer ``395 m + 4`` is ``count_in_m(Spec())["total"] == (395, 4)``.

    Returns
    -------
    dict
        Same keys as :func:`count_parameters`, each mapped to ``(a, b)``.
    """
    one = count_parameters(replace(spec, hidden=1))
    two = count_parameters(replace(spec, hidden=2))
    return {name: (two[name] - one[name], 2 * one[name] - two[name]) for name in one}


def init_params(spec: Spec, seed: int = 0) -> Params:
    """Random parameters, drawn as torch draws them by default for ``Conv1d`` and ``Linear``.

    Every weight and bias of a layer is uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``,
    with ``fan_in`` = ``k`` (Conv1), ``L_P`` (FC1) and ``m`` (Z). Used by chapter 3.

    Returns
    -------
    dict
        ``W_C (k,)``, ``b_C ()``, ``W_A (m, L_P)``, ``b_M (m,)``, ``W_F (m,)``, ``b_F ()``,
        float64.
    """
    rng = np.random.default_rng(seed)
    fan_in = {"W_C": spec.kernel, "W_A": spec.pooled_length, "W_F": spec.hidden}
    fan_in |= {"b_C": spec.kernel, "b_M": spec.pooled_length, "b_F": spec.hidden}
    params: Params = {}
    for name, shape in spec.shapes().items():
        bound = 1.0 / np.sqrt(fan_in[name])
        params[name] = rng.uniform(-bound, bound, size=shape)
    return params


# --------------------------------------------------------------------------- input checks


def _real_array(value: npt.ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{what} holds non-finite values (NaN or inf)")
    return array


def check_params(spec: Spec, params: Mapping[str, npt.ArrayLike]) -> Params:
    """Validate a params dict against ``spec`` and return it as float64 arrays.

    Raises ``ValueError`` on missing or unexpected keys, wrong shapes, and non-real or
    non-finite values. Used by chapter 3.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"params is missing keys {missing}")
    extra = sorted(set(params) - set(PARAM_NAMES))
    if extra:
        raise ValueError(f"params has unexpected keys {extra}")
    checked: Params = {}
    for name, shape in spec.shapes().items():
        array = _real_array(params[name], f"params[{name!r}]")
        if array.shape != shape:
            raise ValueError(f"params[{name!r}] has shape {array.shape}, expected {shape}")
        checked[name] = array
    return checked


def _check_x(spec: Spec, x: npt.ArrayLike) -> tuple[np.ndarray, bool]:
    """Return ``x`` as a float64 ``(N, L)`` array and whether it was a single example."""
    array = _real_array(x, "x")
    if array.ndim not in (1, 2):
        raise ValueError(f"x must be (L,) or (N, L), got shape {array.shape}")
    if array.shape[-1] != spec.length:
        raise ValueError(f"x has length {array.shape[-1]}, the Spec says {spec.length}")
    single = array.ndim == 1
    if not single and array.shape[0] == 0:
        raise ValueError("x holds no examples (N = 0)")
    return (array[None, :] if single else array), single


def _check_y(y: npt.ArrayLike, n: int, single: bool) -> np.ndarray:
    array = _real_array(y, "y")
    expected: tuple[int, ...] = () if single else (n,)
    if array.shape != expected:
        raise ValueError(f"y has shape {array.shape}, expected {expected} to match x")
    if not np.isin(array, (0.0, 1.0)).all():
        raise ValueError("y must hold labels 0 or 1 only")
    return array.reshape(n)


# --------------------------------------------------------------------------- layers


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


# --------------------------------------------------------------------------- the network


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


# --------------------------------------------------------------------------- checks


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """Relative error in the max norm, ``max |ours - reference| / max |reference|``.

    0 when both are exactly 0, infinite when only ``reference`` is. The error is measured
    relative to the largest entry of the group, so that entries that are tiny by
    cancellation do not dominate. (Chapter 1's equivariance errors are relative errors in
    the L2 norm instead: see :mod:`cnnbook.equivariance`.) Used by chapter 3 and its tests.
    """
    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, np.float64)
    if ours.shape != reference.shape:
        raise ValueError(f"shapes differ: {ours.shape} vs {reference.shape}")
    diff = float(np.max(np.abs(ours - reference), initial=0.0))
    scale = float(np.max(np.abs(reference), initial=0.0))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


def numerical_gradients(
    spec: Spec,
    params: Mapping[str, npt.ArrayLike],
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    step: float = 1e-6,
) -> Params:
    """Central differences ``(Cost(theta + h e) - Cost(theta - h e)) / 2h`` for every parameter.

    Loops over the parameters (not over positions or examples); each step evaluates the
    vectorised :func:`cost` twice. Exact up to ``O(h^2)`` only where no ReLU switches
    within the step: check :func:`kink_clearance` first. Used by chapter 3 and its tests.
    """
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive finite number, got {step}")
    checked = check_params(spec, params)
    grads: Params = {}
    for name in PARAM_NAMES:
        flat = checked[name].reshape(-1)
        grad = np.empty_like(flat)
        for i in range(flat.size):
            moved = {key: value.copy() for key, value in checked.items()}
            moved_flat = moved[name].reshape(-1)
            moved_flat[i] = flat[i] + step
            up = cost(spec, moved, x, y)
            moved_flat[i] = flat[i] - step
            down = cost(spec, moved, x, y)
            grad[i] = (up - down) / (2.0 * step)
        grads[name] = grad.reshape(checked[name].shape)
    return grads


def kink_clearance(
    spec: Spec, params: Mapping[str, npt.ArrayLike], x: npt.ArrayLike, step: float
) -> float:
    """How far every ReLU is from switching when any one parameter moves by ``±step``.

    Returns the smallest ratio ``|pre-activation| / bound`` over all Conv1 and FC1 units and
    examples, where ``bound`` is the largest change of that pre-activation that a move of one
    parameter by ``step`` can cause:

    - Conv1, ``c_hat_t``: only ``W_C`` and ``b_C`` reach it, so
      ``|d c_hat_t| <= step max(1, |x~|_max)``;
    - FC1, ``f_hat_j``: ``W_A[j]`` and ``b_M[j]`` move it by at most ``step max(1, |a|_max)``;
      a move of ``W_C`` or ``b_C`` changes each ``c_hat_t`` by at most
      ``step max(1, |x~|_max)``, hence (ReLU and averaging are 1-Lipschitz) each ``a_i`` by
      no more, and ``f_hat_j`` by at most ``|W_A[j]|_1`` times that.

    A clearance above 1 proves that no ReLU switches inside any central-difference step, so
    the cost is smooth along every probed line. Used by chapter 3 and its tests.
    """
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive finite number, got {step}")
    checked = check_params(spec, params)
    batch, _ = _check_x(spec, x)
    c_hat, f_hat = pre_activations(spec, checked, batch)
    x_scale = max(1.0, float(np.max(np.abs(batch))))
    conv_bound = step * x_scale
    a, _ = avgpool_forward(np.maximum(c_hat, 0.0), spec.pool, spec.pool_stride)
    a_scale = np.maximum(1.0, np.max(np.abs(a), axis=1, keepdims=True))  # (N, 1)
    row_l1 = np.abs(checked["W_A"]).sum(axis=1)  # (m,)
    fc_bound = step * np.maximum(a_scale, row_l1 * x_scale)  # (N, m)
    return float(min(np.min(np.abs(c_hat)) / conv_bound, np.min(np.abs(f_hat) / fc_bound)))


# --------------------------------------------------------------------------- torch twin


class TorchTwin(nn.Module):
    """The same network built from torch's own layers, in float64: the chapter's oracle.

    ``ConstantPad1d -> Conv1d(1, 1, k, stride) -> ReLU -> AvgPool1d(w, s_p) -> Linear(P, m)
    -> ReLU -> Linear(m, 1)``, then sigmoid. Used by chapter 3 and its tests.
    """

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        self.spec = spec
        self.pad = nn.ConstantPad1d((spec.pad_left, spec.pad_right), 0.0)
        self.conv = nn.Conv1d(1, 1, spec.kernel, stride=spec.stride, dtype=torch.float64)
        self.pool = nn.AvgPool1d(spec.pool, stride=spec.pool_stride)
        self.fc1 = nn.Linear(spec.pooled_length, spec.hidden, dtype=torch.float64)
        self.out = nn.Linear(spec.hidden, 1, dtype=torch.float64)

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid output ``z_hat`` ``(N,)`` of a batch ``(N, L)``."""
        c_hat = self.conv(self.pad(x[:, None, :]))
        a = self.pool(torch.relu(c_hat))[:, 0, :]
        return self.out(torch.relu(self.fc1(a)))[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output ``z = sigmoid(z_hat)`` ``(N,)`` of a batch ``(N, L)``."""
        return torch.sigmoid(self.logit(x))

    def cost(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy summed over the batch (torch's own loss)."""
        return nn.functional.binary_cross_entropy_with_logits(self.logit(x), y, reduction="sum")

    def groups(self) -> dict[str, torch.Tensor]:
        """The torch parameter behind each of the sheet's names (``W_A`` is FC1's weight)."""
        tensors = dict(self.named_parameters())
        return {
            "W_C": tensors["conv.weight"],
            "b_C": tensors["conv.bias"],
            "W_A": tensors["fc1.weight"],
            "b_M": tensors["fc1.bias"],
            "W_F": tensors["out.weight"],
            "b_F": tensors["out.bias"],
        }

    def params(self) -> Params:
        """The twin's parameters as a params dict of float64 numpy arrays."""
        shapes = self.spec.shapes()
        return {
            name: tensor.detach().numpy().reshape(shapes[name]).copy()
            for name, tensor in self.groups().items()
        }


def torch_twin(spec: Spec, params: Mapping[str, npt.ArrayLike]) -> TorchTwin:
    """A :class:`TorchTwin` of ``spec`` holding a copy of ``params`` (float64).

    Used by chapter 3 and its tests as the autograd oracle.
    """
    checked = check_params(spec, params)
    twin = TorchTwin(spec)
    with torch.no_grad():
        for name, tensor in twin.groups().items():
            tensor.copy_(torch.from_numpy(checked[name]).reshape(tensor.shape))
    return twin


def autograd_gradients(twin: TorchTwin, x: torch.Tensor, y: torch.Tensor) -> Params:
    """``dCost/dparam`` of the twin by torch autograd, as a params dict (chapter 3's oracle).

    ``x`` is ``(N, L)`` and ``y`` ``(N,)``, float64 tensors. The twin's ``.grad`` fields are
    left as they were.
    """
    groups, shapes = twin.groups(), twin.spec.shapes()
    grads = torch.autograd.grad(twin.cost(x, y), list(groups.values()))
    return {
        name: grad.numpy().reshape(shapes[name]).copy()
        for name, grad in zip(groups, grads, strict=True)
    }
