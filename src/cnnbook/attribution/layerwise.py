"""DeconvNet written out layer by layer, as Zeiler & Fergus describe it (chapter 2).

- :func:`layer_forward` and :func:`layer_backward`: one layer's two passes, CS231n style,
  with the cache (a max-pool's :class:`Switches`, a ReLU's output) between them;
- :func:`layerwise_attribute`: the whole network walked forward then backward.

Chapter 2 shows this code and checks :func:`cnnbook.attribution.attribute` against it.
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbook.attribution.maps import Target, _check_input, _targets
from cnnbook.attribution.rules import Rule, RuleName, _rule


class Switches(NamedTuple):
    """A max-pool's cache: where each window's maximum was, and the pool's input shape."""

    indices: Tensor  # (N, C, H', W'): flat index into each channel's H x W map
    shape: torch.Size  # (N, C, H, W)


#: What :func:`layer_backward` needs from the forward pass: a ReLU's output, a
#: max-pool's :class:`Switches`, or any other layer's input shape.
LayerCache: TypeAlias = Tensor | Switches | torch.Size


def layer_forward(layer: nn.Module, a: Tensor) -> tuple[Tensor, LayerCache]:
    """One layer's forward pass, and the cache its backward pass needs.

    CS231n style: the max-pool records its *switches* (where each window's
    maximum was), a ReLU its output, every other layer its input's shape.
    Chapter 2.

    Parameters
    ----------
    layer
        ``Conv2d``, ``ReLU``, ``MaxPool2d``, ``Flatten``, ``Linear`` or
        ``Identity``.
    a
        The layer's input.

    Returns
    -------
    out, cache
        The layer's output and what :func:`layer_backward` needs.
    """
    if isinstance(layer, nn.MaxPool2d):
        out, switches = F.max_pool2d(
            a, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
            ceil_mode=layer.ceil_mode, return_indices=True,
        )  # fmt: skip
        return out, Switches(switches, a.shape)
    if isinstance(layer, nn.ReLU):
        out = torch.relu(a)
        return out, out
    if isinstance(layer, nn.Conv2d | nn.Linear | nn.Flatten | nn.Identity):
        return layer(a), a.shape
    raise ValueError(f"layer_forward does not handle {type(layer).__name__}")


def layer_backward(
    layer: nn.Module,
    g: Tensor,
    cache: LayerCache,
    rule: Rule,
) -> Tensor:
    """Send the signal ``g`` at a layer's output back to its input (chapter 2).

    Only the ReLU looks at ``rule``; every other layer does what
    backpropagation does. ``cache`` is what :func:`layer_forward` returned
    for this layer; a cache of another kind of layer is refused.
    """
    match layer, cache:
        case nn.ReLU(), Tensor():  # the cache is the ReLU's output
            if rule.backward_mask:
                g = torch.relu(g)  # DeconvNet: rectify the signal
            if rule.forward_mask:
                g = g * (cache > 0)  # gradient: only where the unit was on
            return g
        case nn.MaxPool2d(), Switches(indices, shape):  # unpool through them
            out = torch.zeros(*shape[:2], shape[2] * shape[3], dtype=g.dtype)
            out.scatter_add_(2, indices.flatten(2), g.flatten(2))
            return out.reshape(shape)
        case nn.Conv2d(), torch.Size():  # filter with the flipped filters
            padding, extra = _transpose_padding(layer, cache, g.shape)
            return F.conv_transpose2d(
                g, layer.weight, None, layer.stride, padding, extra,
                layer.groups, layer.dilation,
            )  # fmt: skip
        case nn.Linear(), torch.Size():
            return g @ layer.weight
        case nn.Flatten() | nn.Identity(), torch.Size():
            return g.reshape(cache)
    raise ValueError(
        f"layer_backward does not handle {type(layer).__name__} "
        f"with a cache of type {type(cache).__name__}"
    )


def layerwise_attribute(model: nn.Sequential, x: Tensor, target: Target, rule: RuleName) -> Tensor:
    """The three rules written out layer by layer, as Zeiler & Fergus describe DeconvNet.

    A forward pass records what the backward pass needs (:func:`layer_forward`); the
    backward pass then walks the layers in reverse (:func:`layer_backward`): a linear
    layer multiplies by ``W^T``, a max-pool *unpools* through its switches, a
    convolution applies the *transposed* (flipped) filters, and a ReLU applies
    ``rule``. Chapter 2 shows this code and checks :func:`attribute` against it.

    Parameters
    ----------
    model
        ``nn.Sequential`` of ``Conv2d``, ``ReLU``, ``MaxPool2d``, ``Flatten``,
        ``Linear`` (and ``Identity``) layers, ending in ``(N, K)`` scores.
    x
        Input batch ``(N, C, H, W)``.
    target, rule
        As in :func:`attribute`.

    Returns
    -------
    torch.Tensor
        The map, same shape as ``x``.
    """
    r = _rule(rule)
    a, caches = _check_input(x).detach(), list[LayerCache]()
    with torch.no_grad():
        for layer in model:  # forward, keeping what each backward step needs
            a, cache = layer_forward(layer, a)
            caches.append(cache)
        if a.ndim != 2:
            shape = tuple(a.shape)
            raise ValueError(f"model must return (N, K) scores, got {shape}")
        t = _targets(target, a.shape[0], a.shape[1])
        g = F.one_hot(t, a.shape[1]).to(a.dtype)  # d score / d scores
        for layer, cache in zip(reversed(model), reversed(caches), strict=True):
            g = layer_backward(layer, g, cache, r)
    return g


def _transpose_padding(
    conv: nn.Conv2d, in_shape: torch.Size, out_shape: torch.Size
) -> tuple[tuple[int, ...], list[int]]:
    """The convolution's padding, and the rows/columns it dropped that its transpose restores."""
    if isinstance(conv.padding, str):
        raise ValueError("layer_backward needs numeric convolution padding")
    pad = []
    for d in range(2):
        span = (out_shape[2 + d] - 1) * conv.stride[d] - 2 * conv.padding[d]
        span += conv.dilation[d] * (conv.kernel_size[d] - 1) + 1
        pad.append(in_shape[2 + d] - span)
    return conv.padding, pad
