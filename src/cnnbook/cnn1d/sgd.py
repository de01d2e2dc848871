"""Chapter 3's training demonstration: plain SGD with the hand-derived gradients.

:func:`train_sgd` steps the numpy network with :func:`cnnbook.cnn1d.cost_and_gradients`;
:func:`train_sgd_torch` makes the same steps on the torch twin with ``torch.optim.SGD``
and autograd, the oracle; both take the same :func:`minibatches`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from cnnbook.cnn1d.network import cost_and_gradients
from cnnbook.cnn1d.spec import PARAM_NAMES, Params, Spec, check_params, count_parameters
from cnnbook.cnn1d.twin import TorchTwin


@dataclass(frozen=True)
class TrainingRun:
    """What a run of plain SGD leaves behind (chapter 3's training demonstration).

    Attributes
    ----------
    params
        Final parameters.
    losses
        ``(steps,)`` mean cost per example of each mini-batch, just before its step.
    trajectory
        ``(steps + 1, n_params)``: every parameter, flattened in the order of
        :data:`PARAM_NAMES`, before each step and after the last one.
    """

    params: Params
    losses: np.ndarray
    trajectory: np.ndarray


def flatten(params: Mapping[str, np.ndarray]) -> np.ndarray:
    """All parameters in one vector, in the order of :data:`PARAM_NAMES` (chapter 3)."""
    return np.concatenate(
        [np.asarray(params[name], np.float64).reshape(-1) for name in PARAM_NAMES]
    )


def minibatches(n: int, batch_size: int, epochs: int, seed: int = 0) -> list[np.ndarray]:
    """Index arrays of shuffled mini-batches, epoch after epoch (a trailing rest is dropped).

    Both trainers of chapter 3 take the same list, so that they see the same examples at
    every step.
    """
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [1, n={n}], got {batch_size}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    rng = np.random.default_rng(seed)
    per_epoch = n // batch_size
    return [
        batch
        for _ in range(epochs)
        for batch in rng.permutation(n)[: per_epoch * batch_size].reshape(per_epoch, batch_size)
    ]


def train_sgd(
    spec: Spec,
    params: Mapping[str, npt.ArrayLike],
    x: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    batches: list[np.ndarray],
) -> TrainingRun:
    """Plain SGD on the summed cost with the hand-derived gradients (chapter 3).

    Each step is ``theta <- theta - lr * dCost_batch/dtheta``; the cost and its
    gradients come from one pass of :func:`~cnnbook.cnn1d.cost_and_gradients`.
    """
    current = check_params(spec, params)
    n_params = count_parameters(spec)["total"]
    losses = np.empty(len(batches))
    trajectory = np.empty((len(batches) + 1, n_params))
    for step, batch in enumerate(batches):
        trajectory[step] = flatten(current)
        loss, grads = cost_and_gradients(spec, current, x[batch], y[batch])
        losses[step] = loss / batch.size
        current = {k: current[k] - lr * grads[k] for k in PARAM_NAMES}
    trajectory[-1] = flatten(current)
    return TrainingRun(current, losses, trajectory)


def train_sgd_torch(
    twin: TorchTwin, x: np.ndarray, y: np.ndarray, *, lr: float, batches: list[np.ndarray]
) -> TrainingRun:
    """The same training on the torch twin with ``torch.optim.SGD`` and autograd (the oracle).

    The twin is trained in place.
    """
    optimiser = torch.optim.SGD(twin.parameters(), lr=lr)
    xt, yt = (
        torch.from_numpy(np.asarray(x, np.float64)),
        torch.from_numpy(np.asarray(y, np.float64)),
    )
    losses = np.empty(len(batches))
    trajectory = np.empty((len(batches) + 1, count_parameters(twin.spec)["total"]))
    for step, batch in enumerate(batches):
        trajectory[step] = flatten(twin.params())
        index = torch.from_numpy(batch)
        optimiser.zero_grad()
        loss = twin.cost(xt[index], yt[index])
        loss.backward()
        optimiser.step()
        losses[step] = loss.item() / batch.size
    trajectory[-1] = flatten(twin.params())
    return TrainingRun(twin.params(), losses, trajectory)
