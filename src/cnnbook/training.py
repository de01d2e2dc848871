"""Evaluation shared by the chapters that train a classifier (chapters 1 and 2)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def accuracy(model: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """Share of inputs whose highest score is the label.

    ``x`` is cast to float32 and ``y`` to int64; numpy arrays are accepted. The model's
    mode is left as it is: call ``model.eval()`` first for a model with dropout or batch
    norm.

    Parameters
    ----------
    model
        Classifier returning ``(N, K)`` scores.
    x, y
        Inputs ``(N, ...)`` and labels ``(N,)``.
    """
    tx = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    ty = y if isinstance(y, torch.Tensor) else torch.from_numpy(np.asarray(y))
    if tx.shape[0] != ty.shape[0]:
        raise ValueError(f"mismatched dims: {tx.shape[0]} inputs for {ty.shape[0]} labels")
    with torch.no_grad():
        predictions = model(tx.float()).argmax(dim=1)
    return int((predictions == ty.long()).sum()) / tx.shape[0]  # exact count over count
