"""Chapter 3's gradient checks: the error measure, central differences, kink clearance.

- :func:`relative_error`: the max-norm relative error of the chapter's checks;
- :func:`numerical_gradients`: central differences of the cost, parameter by parameter;
- :func:`kink_clearance`: how far every ReLU stays from switching under a step, which
  is what makes central differences of a piecewise-linear network exact to ``h^2``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from cnnbook.cnn1d.layers import avgpool_forward
from cnnbook.cnn1d.network import cost, pre_activations
from cnnbook.cnn1d.spec import PARAM_NAMES, Params, Spec, _check_x, check_params


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
