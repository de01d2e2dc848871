"""Chapter 3's network built from torch's own layers: the autograd oracle.

:class:`TorchTwin` is ``ConstantPad1d -> Conv1d -> ReLU -> AvgPool1d -> Linear -> ReLU ->
Linear``; :func:`torch_twin` loads a params dict into it and
:func:`autograd_gradients` differentiates its cost with torch autograd.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy.typing as npt
import torch
from torch import nn

from cnnbook.cnn1d.spec import Params, Spec, check_params


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
