"""What the attribution tests compare with: Captum's maps, and a network's functional twin.

Shared by ``test_attribution.py`` and ``test_attribution_relu_calls.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from captum.attr import Deconvolution, GuidedBackprop, Saliency
from torch import Tensor, nn


def captum(model: nn.Module, x: Tensor, target: object, rule: str) -> Tensor:
    """The reference implementation. Captum warns on every call that it sets hooks on
    the ReLUs; that warning is about Captum, so it is silenced here and only here."""
    x = x.detach().clone().requires_grad_()  # Captum warns if it has to set this itself
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
        if rule == "gradient":
            return Saliency(model).attribute(x, target=target, abs=False)
        method = {"deconvnet": Deconvolution, "guided": GuidedBackprop}[rule]
        return method(model).attribute(x, target=target)  # type: ignore[no-any-return]


class Functional(nn.Module):
    """A network with its ReLUs applied by a function call instead of its nn.ReLU layers."""

    def __init__(self, net: nn.Sequential, relu: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.net = net
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.net:
            x = self.relu(x) if isinstance(layer, nn.ReLU) else layer(x)
        return x
