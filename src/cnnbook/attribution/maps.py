"""Attribution maps of chapter 2: :func:`attribute` and the targets it accepts.

- :func:`attribute`: ``d score / d x`` under one of the three rules, with its input and
  target checks;
- :func:`class_maps`: the maps of every class score, stacked.

Chapter 2 computes every map of a class score with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import torch
from torch import Tensor, nn

from cnnbook.attribution.rules import (
    RULES,
    RuleName,
    _check_every_relu_followed_the_rule,
    _rule,
    relu_rule,
)

#: A class index for the whole batch, or one per example.
Target: TypeAlias = int | Sequence[int] | np.ndarray | Tensor


def _targets(target: Target, n: int, k: int) -> Tensor:
    """Validate ``target`` against an ``(n, k)`` output; return ``n`` class indices.

    One index (an integer, or a tensor, array or list holding exactly one integer) is
    used for every example, as Captum does with a one-element tensor; otherwise there
    must be one index per example, in one dimension.
    """
    if isinstance(target, Tensor):
        arr = target.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(target)
        except ValueError as err:  # ragged nested sequences
            raise ValueError(f"target must be an int or {n} ints, got {target!r}") from err
    if arr.dtype.kind not in "iu":
        raise ValueError(f"target must be an int or {n} ints, got values of dtype {arr.dtype}")
    if arr.size == 1:
        arr = np.full(n, arr.item())
    if arr.shape != (n,):
        raise ValueError(
            f"target must be an int or {n} ints (one per example), got shape {arr.shape}"
        )
    if arr.min() < 0 or arr.max() >= k:
        raise ValueError(f"target out of range: classes are 0..{k - 1}, got {arr.tolist()}")
    return torch.from_numpy(arr.astype(np.int64))


def _check_input(x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise ValueError(f"x must be floating point, got dtype {x.dtype}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"x must be a non-empty batch (N, ...), got shape {tuple(x.shape)}")
    return x


def _check_autograd_available() -> None:
    """Raise inside ``torch.inference_mode()``, which no code can undo for autograd."""
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            "attribute needs autograd, which torch.inference_mode() switches off; call it "
            "outside the inference_mode block (inside torch.no_grad() is fine)"
        )


def attribute(model: nn.Module, x: Tensor, target: Target, rule: RuleName) -> Tensor:
    """``d score / d x`` with every ReLU's backward replaced by ``rule`` (chapter 2).

    ``"gradient"`` is the plain gradient (saliency, Simonyan et al. 2013),
    ``"deconvnet"`` rectifies the backward signal at each ReLU and ignores the forward
    mask (Zeiler & Fergus 2014), ``"guided"`` applies both masks (Springenberg et al.
    2015). Convolutions, pooling and every other operation keep their true derivative.

    The ReLUs that follow the rule are ``nn.ReLU`` modules and the calls ``F.relu``,
    ``F.relu_``, ``torch.relu``, ``torch.relu_``, ``Tensor.relu`` and ``Tensor.relu_``,
    in place or not, arguments by position or keyword; other activations (leaky ReLU,
    ReLU6, ``clamp``) keep their true derivative, as in Captum.

    **Agreement with Captum.** The map equals Captum's ``Saliency(abs=False)``,
    ``Deconvolution`` and ``GuidedBackprop`` on models built from ``nn.ReLU`` modules
    in which each ReLU's input feeds nothing but that ReLU -- VGG-, ResNet- and
    DenseNet-style networks, whose ReLUs follow a convolution, a batch norm or a
    residual sum; unlike Captum, functional ReLU calls follow the rule too. The two
    differ where a ReLU's input also feeds another branch, as in
    ``h = f1(x); out = f2(relu(h)) + f3(h)``. Here the rule is applied, as the papers
    define it, to the signal that passes through the ReLU, and the other branch's
    gradient joins it unchanged at ``h``. Captum hooks the ReLU's input tensor ``h``
    instead: its ``GuidedBackprop`` rectifies the *total* gradient at ``h``, the other
    branch's share included, and its ``Deconvolution`` replaces that total by the
    rectified signal from the ReLU, dropping the other branch's share.

    **What it refuses rather than get wrong.** The rule is applied by a function mode,
    which some ReLUs escape; the function that finds them,
    :func:`~cnnbook.attribution.rules._check_every_relu_followed_the_rule`, says which
    and how. After the forward pass the graph between ``x`` and the scores is searched; a
    ``RuntimeError`` reports one (for ``"deconvnet"`` and ``"guided"``; the gradient is
    right whatever runs the ReLU). A ReLU inside a custom ``autograd.Function`` follows
    that function's own backward, under every rule.
    Activation checkpointing with ``use_reentrant=False`` gives the same map as without
    it; with ``use_reentrant=True`` torch itself refuses the ``torch.autograd.grad``
    call this function makes.

    The model is run as it is (call ``model.eval()`` first if it has dropout or batch
    norm); nothing is attached to it, its parameters get no ``.grad``, and ``x`` is
    neither modified nor marked as requiring grad. It may be called inside
    ``torch.no_grad()``, not inside ``torch.inference_mode()``. No warning is emitted.

    Parameters
    ----------
    model
        Any module mapping ``x`` to class scores of shape ``(N, K)``.
    x
        Floating-point batch, typically ``(N, C, H, W)``.
    target
        One class index for the whole batch (an int, or a tensor, array or list holding
        one integer), or ``N`` indices (a sequence, numpy array or 1-D tensor of
        integers).
    rule
        ``"gradient"``, ``"deconvnet"`` or ``"guided"``.

    Returns
    -------
    torch.Tensor
        The map, same shape and dtype as ``x``: no absolute value, no channel reduction.

    Raises
    ------
    ValueError
        For an unknown rule, a bad ``x``, an output that is not ``(N, K)``, or a target
        of the wrong shape, type or range.
    RuntimeError
        Inside ``torch.inference_mode()``, or when a ReLU between ``x`` and the scores
        escaped the rule (see above).
    """
    r = _rule(rule)
    x = _check_input(x)
    _check_autograd_available()
    # A tensor made under inference mode cannot require grad; a copy of it can.
    leaf = (x.clone() if x.is_inference() else x.detach()).requires_grad_(True)
    with torch.enable_grad():
        # A fresh non-leaf copy: a model may modify its input in place.
        inp = leaf.clone()
        start = inp.grad_fn
        with relu_rule(rule):
            scores = model(inp)
        if not isinstance(scores, Tensor) or scores.ndim != 2 or scores.shape[0] != x.shape[0]:
            shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
            raise ValueError(
                f"model must return scores of shape (N, K) = ({x.shape[0]}, K), got {shape}"
            )
        t = _targets(target, scores.shape[0], scores.shape[1]).to(scores.device)
        score = scores.gather(1, t[:, None]).sum()
        if r != RULES["gradient"]:
            _check_every_relu_followed_the_rule(score, start)
        (grad,) = torch.autograd.grad(score, leaf)
    return grad


def class_maps(model: nn.Module, x: Tensor, rule: RuleName) -> Tensor:
    """The maps of every class score under ``rule``, stacked (chapter 2).

    Parameters
    ----------
    model
        Classifier with ``K`` outputs.
    x
        Input batch ``(N, ...)``.
    rule
        As in :func:`attribute`.

    Returns
    -------
    torch.Tensor
        ``(K, N, ...)``: entry ``[k]`` is ``attribute(model, x, k, rule)``.
    """
    _rule(rule)
    with torch.no_grad():
        k = model(_check_input(x)).shape[1]
    return torch.stack([attribute(model, x, c, rule) for c in range(k)])
