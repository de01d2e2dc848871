"""cnnbook.training: accuracy against a count done by hand on a fixed linear classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnbook import attribution, equivariance
from cnnbook.training import accuracy


def _fixed_classifier() -> nn.Linear:
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(2))  # predicts the index of the larger coordinate
    return layer


def test_accuracy_counts_correct_arg_max() -> None:
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])  # predictions 0, 1, 0, 1: two right
    model = _fixed_classifier()
    assert accuracy(model, x, y) == 0.5
    assert accuracy(model, torch.from_numpy(x), torch.from_numpy(y)) == 0.5
    model.train()
    accuracy(model, x, y)
    assert model.training, "evaluation leaves the model's mode alone"
    with pytest.raises(ValueError, match="mismatched dims"):
        accuracy(model, x, y[:3])


def test_chapters_share_one_accuracy() -> None:
    assert attribution.accuracy is accuracy
    assert equivariance.accuracy is accuracy
