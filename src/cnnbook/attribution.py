"""Chapter 2: gradient saliency, DeconvNet and guided backpropagation, behind one function.

The three rules send a class score (or one hidden activation) back to the input through
the same transposed filters and the same max-pool switches; they differ only at the
ReLUs, by which of two masks they apply to the backward signal there:

============  ==========================  ==============================
rule          forward mask ``[a > 0]``    backward mask ``[g > 0]``
============  ==========================  ==============================
gradient      yes                         no
deconvnet     no                          yes
guided        yes                         yes
============  ==========================  ==============================

:func:`attribute` applies the rule to *every* ReLU the model applies -- ``nn.ReLU``
modules, in place or not, and the functional calls ``F.relu``, ``torch.relu``,
``Tensor.relu`` and their in-place variants, with their arguments given by position or
by keyword -- with one mechanism: a :class:`~torch.overrides.TorchFunctionMode`, active
during the forward pass only, that routes each ReLU through an autograd function whose
backward applies the rule's masks. Nothing is attached to the model, so nothing can be
left behind. A ReLU the mode cannot reach (one run in another thread, or inside
TorchScript) is found in the autograd graph afterwards, and refused.

The module also holds the sanity checks of the chapter (rank correlation, mask
localisation and the object's outline, cascading randomisation, class and unit
sensitivity), and a layer-by-layer DeconvNet written as Zeiler & Fergus describe it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeAlias

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.graph import Node
from torch.overrides import TorchFunctionMode

#: The names of the three rules.
RuleName = Literal["gradient", "deconvnet", "guided"]

#: A class index for the whole batch, or one per example.
Target: TypeAlias = int | Sequence[int] | np.ndarray | Tensor


@dataclass(frozen=True)
class Rule:
    """What a backward rule does to the signal ``g`` arriving at a ReLU's output.

    Attributes
    ----------
    forward_mask
        Zero ``g`` where the ReLU's forward input was not positive (the true derivative).
    backward_mask
        Zero ``g`` where ``g`` itself is negative (rectify the backward signal).
    """

    forward_mask: bool
    backward_mask: bool


#: The three rules of chapter 2; they differ only at the ReLU.
RULES: dict[RuleName, Rule] = {
    "gradient": Rule(forward_mask=True, backward_mask=False),
    "deconvnet": Rule(forward_mask=False, backward_mask=True),
    "guided": Rule(forward_mask=True, backward_mask=True),
}


def _rule(name: str) -> Rule:
    if not isinstance(name, str) or name not in RULES:
        raise ValueError(f"unknown rule {name!r}; expected one of {tuple(RULES)}")
    return RULES[name]


class _RuleReLU(torch.autograd.Function):
    """ReLU forward (in place if asked), the rule's masks backward.

    The output is saved for every rule, although DeconvNet never reads it: torch's own
    ReLU saves it too, so a block run under ``torch.utils.checkpoint`` -- recomputed
    during the backward pass with torch's ReLU, outside the mode -- saves the same
    tensors as the forward pass did, which is what the checkpoint checks.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, rule: Rule, inplace: bool) -> Tensor:
        if inplace:
            ctx.mark_dirty(a)
            out = torch.relu_(a)
        else:
            out = torch.relu(a)
        ctx.rule = rule
        ctx.save_for_backward(out)  # out > 0 exactly where a > 0
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, None, None]:
        rule: Rule = ctx.rule
        if rule.forward_mask:
            (out,) = ctx.saved_tensors
            # torch's own ReLU backward: g where out > 0, else 0 (one kernel)
            g = torch.ops.aten.threshold_backward(g, out, 0)
            return (g.relu_() if rule.backward_mask else g), None, None
        return (torch.relu(g) if rule.backward_mask else g), None, None


#: Every function that applies a ReLU, with the names of its parameters, in order.
#: ``F.relu_`` is ``torch.relu_``; ``nn.ReLU`` calls ``F.relu``.
_RELU_CALLS: dict[Callable[..., Any], tuple[str, ...]] = {
    F.relu: ("input", "inplace"),
    torch.relu: ("input",),
    torch.relu_: ("input",),
    torch.Tensor.relu: ("input",),
    torch.Tensor.relu_: ("input",),
}

#: The calls that always work in place.
_INPLACE_CALLS = (torch.relu_, torch.Tensor.relu_)


def _relu_arguments(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Tensor, bool] | None:
    """The input and the in-place flag of a ReLU call, however its arguments are passed.

    ``None`` when ``func`` is not a ReLU, or when the arguments do not fit its
    signature (the call then goes to torch unchanged, which reports the mistake).
    """
    names = _RELU_CALLS.get(func)
    if names is None or len(args) > len(names):
        return None
    bound = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        key = "input" if key == "self" else key  # a Tensor method's first parameter
        if key not in names or key in bound:
            return None
        bound[key] = value
    a = bound.get("input")
    if not isinstance(a, Tensor):
        return None
    return a, func in _INPLACE_CALLS or bool(bound.get("inplace", False))


class _ReLURuleMode(TorchFunctionMode):
    """Route every ReLU called while active through :class:`_RuleReLU`."""

    def __init__(self, rule: Rule) -> None:
        super().__init__()
        self.rule = rule

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func in _RELU_CALLS:
            call = _relu_arguments(func, args, kwargs)
            if call is not None:
                return _RuleReLU.apply(call[0], self.rule, call[1])  # type: ignore[no-untyped-call]
        return func(*args, **kwargs)


@contextmanager
def relu_rule(rule: RuleName) -> Iterator[None]:
    """Within this block, every ReLU call records ``rule`` for its backward pass.

    Only the forward pass needs to run inside; the backward pass may run after the
    block has closed. Like every torch function mode, the block holds in the thread
    that opened it only; unlike :func:`attribute`, it does not check the graph for
    ReLUs it missed. Used by :func:`attribute` and :func:`project_unit` (chapter 2).

    Parameters
    ----------
    rule
        ``"gradient"``, ``"deconvnet"`` or ``"guided"``.
    """
    mode = _ReLURuleMode(_rule(rule))
    with mode:
        yield


def _graph_between(output: Tensor, start: Node | None) -> list[Node]:
    """The autograd nodes on some path from ``start`` to ``output``.

    Only they can change ``d output / d start``: a node reachable from ``output`` that
    does not lead back to ``start`` (say, one computing a parameter) is left out.
    """
    children: dict[Node, list[Node]] = {}
    stack = [output.grad_fn]
    while stack:  # every node the score depends on, with its inputs' nodes
        node = stack.pop()
        if node is None or node in children:
            continue
        children[node] = [child for child, _ in node.next_functions if child is not None]
        stack.extend(children[node])
    parents: dict[Node, list[Node]] = {}
    for node, kids in children.items():
        for child in kids:
            parents.setdefault(child, []).append(node)
    between: set[Node] = set()
    stack = [start]
    while stack:  # and, walking back up from the input, those that lead to it
        node = stack.pop()
        if node in between or node not in children:
            continue
        between.add(node)
        stack.extend(parents.get(node, []))
    return [node for node in children if node in between]


def _check_every_relu_followed_the_rule(output: Tensor, start: Node | None) -> None:
    """Raise if a ReLU between the input and ``output`` bypassed the function mode.

    The mode reroutes ReLUs in its own thread only and cannot see into TorchScript. A
    ReLU it missed left torch's own ``ReluBackward`` node in the graph, or is hidden
    in a TorchScript ``DifferentiableGraphBackward`` node; either way its backward
    would be the plain gradient. The graph records every operation whatever thread ran
    it, so the search does not depend on how the model spreads its work; only nodes on
    a path from the input count, since no other ReLU changes the map.
    """
    names = {node.name() for node in _graph_between(output, start)}
    if any(name.startswith("ReluBackward") for name in names):
        raise RuntimeError(
            "a ReLU between the input and the scores did not follow the rule: it ran "
            "outside the forward pass's thread (a threading.Thread or an executor), or in "
            "TorchScript, where the rule cannot reach; the map would silently be the plain "
            "gradient there. Run the model's forward pass in the calling thread."
        )
    if any("DifferentiableGraph" in name for name in names):
        raise RuntimeError(
            "the model runs TorchScript, whose ReLUs the rule cannot reach; the map "
            "would silently be the plain gradient there. Pass the eager (unscripted) model."
        )


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
    which holds in the calling thread only and does not reach into TorchScript. So after
    the forward pass, the autograd graph between ``x`` and the scores is searched. Each
    ReLU autograd recorded there left a node: the rule's own, or torch's
    ``ReluBackward`` from a ReLU the mode missed (one run in another thread, or in
    TorchScript). If the search finds the latter, or an opaque TorchScript graph, a
    ``RuntimeError`` says so (for ``"deconvnet"`` and ``"guided"``; the gradient is
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
        escaped the rule (another thread, TorchScript).
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


def strongest_units(activations: Tensor, channel: int) -> Tensor:
    """Flat index (into ``activations[i].flatten()``) of each example's strongest unit.

    Zeiler & Fergus project, for a chosen feature map, its strongest activation on each
    image; this finds it. Ties go to the first position in row-major order.

    Parameters
    ----------
    activations
        ``(N, C, H, W)`` feature maps.
    channel
        Feature map to search, ``0 <= channel < C``.

    Returns
    -------
    torch.Tensor
        ``(N,)`` int64 indices into the flattened ``(C, H, W)`` map.
    """
    if activations.ndim != 4:
        raise ValueError(f"activations must be (N, C, H, W), got {tuple(activations.shape)}")
    n, c, h, w = activations.shape
    if not 0 <= channel < c:
        raise ValueError(f"channel must be in 0..{c - 1}, got {channel}")
    position = activations[:, channel].reshape(n, h * w).argmax(dim=1)
    return channel * h * w + position


def project_unit(
    features: nn.Module, x: Tensor, channel: int, rule: RuleName = "deconvnet"
) -> Tensor:
    """Project one hidden activation back to the input (Zeiler & Fergus 2014, chapter 2).

    For each example, the strongest activation of feature map ``channel`` of
    ``features(x)`` is kept, every other activation of that layer is set to zero, and the
    result is sent back to the input under ``rule``. It is :func:`attribute` applied to
    ``features`` followed by a flatten, with that unit as the target.

    Parameters
    ----------
    features
        The network up to the layer of interest, returning ``(N, C, H, W)``.
    x
        Input batch.
    channel
        Feature map whose strongest unit is projected.
    rule
        ``"gradient"``, ``"deconvnet"`` (the paper's choice) or ``"guided"``.

    Returns
    -------
    torch.Tensor
        The projection, same shape as ``x``.
    """
    _rule(rule)
    with torch.no_grad():
        units = strongest_units(features(_check_input(x)), channel)
    return attribute(nn.Sequential(features, nn.Flatten()), x, units, rule)


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


# --- Sanity checks (Adebayo et al. 2018; Nie et al. 2018) ---


def _ranks(v: Tensor) -> Tensor:
    """Row-wise ranks ``1..M`` of an ``(N, M)`` tensor, ties sharing their mean rank."""
    n, m = v.shape
    s, order = v.sort(dim=1, stable=True)
    starts = torch.ones(n, m, dtype=torch.bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    group = starts.cumsum(dim=1) - 1  # index of each sorted entry's run of ties
    position = torch.arange(1, m + 1, dtype=torch.float64).expand(n, m)
    total = torch.zeros(n, m, dtype=torch.float64).scatter_add_(1, group, position)
    count = torch.zeros(n, m, dtype=torch.float64).scatter_add_(1, group, torch.ones_like(position))
    mean = (total / count.clamp(min=1)).gather(1, group)  # each run's mean rank
    return torch.empty_like(mean).scatter_(1, order, mean)


def _unit_ranks(v: Tensor, keep: Tensor | None = None) -> Tensor:
    """Each row's ranks, centred and scaled to unit length: ``rho(a, b) = (ua * ub).sum(1)``.

    ``v`` is ``(N, M)`` float64. Only the entries where ``keep`` is true are ranked
    (among themselves); the others get 0. A row without a ranking (constant, or holding
    a NaN) is NaN.
    """
    undefined = v.isnan().any(dim=1, keepdim=True)
    v = v.nan_to_num(0.0)
    if keep is None:
        r = _ranks(v)
        r = r - (v.shape[1] + 1) / 2
    else:
        # Left-out entries rank above every kept one, so the kept ones rank 1..k among
        # themselves; centring on (k + 1) / 2 and zeroing the rest leaves only them.
        r = _ranks(torch.where(keep, v, torch.inf))
        centre = (keep.sum(dim=1, keepdim=True) + 1).to(torch.float64) / 2
        r = torch.where(keep, r - centre, 0.0)
    r = r / torch.linalg.vector_norm(r, dim=1, keepdim=True)  # 0 / 0 = NaN if constant
    return torch.where(undefined, torch.nan, r)


def rank_correlation(a: Tensor, b: Tensor, where: Tensor | None = None) -> Tensor:
    """Spearman rank correlation between ``a[i]`` and ``b[i]`` for each example ``i``.

    Ties get their average rank (as ``scipy.stats.spearmanr``). A constant map has no
    ranking: its correlation is NaN (silently), and so is that of a map holding a NaN.
    Chapter 2 compares attribution maps with it, as Adebayo et al. (2018) do.

    Parameters
    ----------
    a, b
        Tensors of the same shape ``(N, ...)``; each example is flattened.
    where
        Optional boolean tensor of the same shape: correlate each example over the
        entries where it is true only (ranked among themselves).

    Returns
    -------
    torch.Tensor
        ``(N,)`` float64 correlations in ``[-1, 1]``.
    """
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(
            f"a and b must have the same shape (N, ...), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if where is not None and (where.shape != a.shape or where.dtype != torch.bool):
        raise ValueError(f"where must be a boolean tensor of shape {tuple(a.shape)}")
    n = a.shape[0]
    keep = None if where is None else where.reshape(n, -1)
    ua = _unit_ranks(a.detach().reshape(n, -1).to(torch.float64), keep)
    ub = _unit_ranks(b.detach().reshape(n, -1).to(torch.float64), keep)
    return (ua * ub).sum(dim=1)


def localisation(attributions: Tensor, masks: Tensor) -> Tensor:
    """Share of each map's positive attribution that falls inside the object mask.

    ``sum(max(A, 0) * mask) / sum(max(A, 0))``, summed over channels and pixels; NaN for
    a map with no positive value. Chance level is the mask's share of the image.
    Chapter 2 scores the three rules with it.

    Parameters
    ----------
    attributions
        ``(N, C, H, W)`` maps.
    masks
        ``(N, H, W)`` or ``(N, 1, H, W)`` boolean object masks.

    Returns
    -------
    torch.Tensor
        ``(N,)`` shares in ``[0, 1]``.
    """
    if attributions.ndim != 4:
        raise ValueError(f"attributions must be (N, C, H, W), got {tuple(attributions.shape)}")
    m = masks[:, None] if masks.ndim == 3 else masks
    n, _, h, w = attributions.shape
    if m.ndim != 4 or m.shape[0] != n or m.shape[1] != 1 or m.shape[2:] != (h, w):
        raise ValueError(f"masks must be (N, H, W) = ({n}, {h}, {w}), got {tuple(masks.shape)}")
    pos = torch.relu(attributions.detach()).to(torch.float64)
    inside = (pos * m.to(torch.float64)).sum(dim=(1, 2, 3))
    return inside / pos.sum(dim=(1, 2, 3))


def outline(masks: Tensor, width: int = 1) -> Tensor:
    """The band of pixels at most ``width`` pixels from an object's boundary (chapter 2).

    A pixel is in the band when its ``(2 width + 1)``-square neighbourhood holds both
    object and background (pixels beyond the image's border count as background), so
    the band straddles the boundary: ``width`` pixels inside, ``width`` outside. Scored
    with :func:`localisation`, it asks whether a map follows the object's edges.

    Parameters
    ----------
    masks
        ``(N, H, W)`` boolean object masks.
    width
        Half-width of the band, in pixels (``>= 1``).

    Returns
    -------
    torch.Tensor
        ``(N, H, W)`` boolean band.
    """
    if masks.ndim != 3 or masks.dtype != torch.bool:
        raise ValueError(f"masks must be boolean (N, H, W), got {masks.dtype} {tuple(masks.shape)}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    m = masks[:, None].to(torch.float64)
    k = 2 * width + 1
    any_object = F.max_pool2d(m, k, 1, width)  # padding counts as -inf: no object
    padded = F.pad(1.0 - m, (width,) * 4, value=1.0)  # beyond the border: background
    any_background = F.max_pool2d(padded, k, 1)
    return ((any_object > 0) & (any_background > 0))[:, 0]


def _parametrised_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Layers owning parameters directly, in the order ``named_modules`` lists them."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if any(True for _ in m.parameters(recurse=False)) and hasattr(m, "reset_parameters")
    ]


@dataclass(frozen=True)
class Cascade:
    """Outcome of :func:`cascading_randomization`.

    Attributes
    ----------
    layers
        Names of the layers, top first: step ``s`` has re-initialised ``layers[:s]``.
    correlation
        For each rule, an ``(S + 1, N)`` array: the rank correlation between each
        example's map from the trained model and from the model at step ``s``
        (row 0 compares the trained model with itself).
    maps
        For each rule, an ``(S + 1, N, ...)`` array of the maps themselves.
    """

    layers: list[str]
    correlation: dict[RuleName, np.ndarray]
    maps: dict[RuleName, np.ndarray]


def cascading_randomization(
    model: nn.Module,
    x: Tensor,
    target: Target,
    rules: Sequence[RuleName] = tuple(RULES),
    seed: int = 0,
    absolute: bool = True,
) -> Cascade:
    """Model-parameter randomisation test, cascading from the top (Adebayo et al. 2018).

    A copy of ``model`` has its layers re-initialised (``reset_parameters``) one at a
    time, from the output layer down to the first; after each step the maps of every
    rule are recomputed and compared with the trained model's maps by rank correlation.
    A map that explains the model should decorrelate as its weights are destroyed.
    ``model`` itself is not touched, and the global random state is left as it was.
    Used by chapter 2.

    Parameters
    ----------
    model
        Trained classifier.
    x, target
        As in :func:`attribute`.
    rules
        Rules to test.
    seed
        Seed of the re-initialisation.
    absolute
        Correlate ``|map|`` (Adebayo et al.'s main variant) rather than the signed map.

    Returns
    -------
    Cascade
    """
    for rule in rules:
        _rule(rule)
    clone = copy.deepcopy(model)
    layers = list(reversed(_parametrised_layers(clone)))
    if not layers:
        raise ValueError("model has no layer with parameters to randomise")
    maps: dict[RuleName, list[Tensor]] = {
        rule: [attribute(clone, x, target, rule)] for rule in rules
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _, layer in layers:
            with torch.no_grad():
                layer.reset_parameters()  # type: ignore[operator]
            for rule in rules:
                maps[rule].append(attribute(clone, x, target, rule))
    correlation = {}
    n = x.shape[0]
    for rule, steps in maps.items():
        u = [
            _unit_ranks((m.abs() if absolute else m).reshape(n, -1).to(torch.float64))
            for m in steps
        ]
        correlation[rule] = np.stack([(u[0] * v).sum(dim=1).numpy() for v in u])
    return Cascade(
        layers=[name for name, _ in layers],
        correlation=correlation,
        maps={rule: torch.stack(steps).numpy() for rule, steps in maps.items()},
    )


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


def pairwise_rank_correlation(
    maps: Tensor, absolute: bool = True, within_support: bool = False
) -> Tensor:
    """Rank correlation between every pair of an example's maps (chapter 2).

    Parameters
    ----------
    maps
        ``(K, N, ...)``: ``K`` maps of each of ``N`` examples (from :func:`class_maps`
        or :func:`unit_maps`). A map holding NaN gives NaN correlations.
    absolute
        Correlate ``|map|`` rather than the signed map.
    within_support
        Correlate an example's maps only over the entries where at least one of its
        ``K`` maps is non-zero. A hidden unit's projection is zero outside its receptive
        field; counted there, the zeros that all the projections of one place share
        would make any two of them look alike.

    Returns
    -------
    torch.Tensor
        ``(N, K, K)`` float64: entry ``[i, j, k]`` correlates maps ``j`` and ``k`` of
        example ``i`` (1 on the diagonal where a map has a ranking).
    """
    if maps.ndim < 2:
        raise ValueError(f"maps must be (K, N, ...), got {tuple(maps.shape)}")
    k, n = maps.shape[:2]
    m = maps.detach().abs() if absolute else maps.detach()
    m = m.reshape(k, n, -1).to(torch.float64)
    keep = ((m != 0) & ~m.isnan()).any(dim=0) if within_support else None
    u = torch.stack([_unit_ranks(m[i], keep) for i in range(k)], dim=1)  # (N, K, M)
    return torch.einsum("nim,njm->nij", u, u)


def class_correlation(model: nn.Module, x: Tensor, rule: RuleName, absolute: bool = True) -> Tensor:
    """Rank correlation between the maps of every pair of target classes (Nie et al. 2018).

    A map that explains a *decision* should change with the class it explains; a map
    that only recovers the image will not. Used by chapter 2; to correlate both the
    signed maps and their magnitudes, compute :func:`class_maps` once and pass them to
    :func:`pairwise_rank_correlation` twice.

    Parameters
    ----------
    model
        Classifier with ``K`` outputs.
    x
        Input batch.
    rule
        As in :func:`attribute`.
    absolute
        Correlate ``|map|`` rather than the signed map.

    Returns
    -------
    torch.Tensor
        ``(N, K, K)``: entry ``[i, j, k]`` correlates example ``i``'s maps for classes
        ``j`` and ``k`` (1 on the diagonal).
    """
    return pairwise_rank_correlation(class_maps(model, x, rule), absolute)


def unit_maps(features: nn.Module, x: Tensor, rule: RuleName, units: int = 8) -> Tensor:
    """Projections of several units of one layer, all at the same place (chapter 2).

    For each example, the place (row, column) where the layer's strongest activation
    lies is found, and the ``units`` channels most active there are projected back to
    the input under ``rule``, one at a time, as :func:`project_unit` does. The maps
    differ only in which unit is projected, so comparing them
    (:func:`pairwise_rank_correlation`) measures how much a map depends on the unit
    (Mahendran & Vedaldi 2016). A unit that is not active there (activation 0) has no
    projection: its map is NaN.

    Parameters
    ----------
    features
        The network up to the layer of interest, returning ``(N, C, H, W)``.
    x
        Input batch.
    rule
        As in :func:`attribute`.
    units
        Number of channels projected, ``1 <= units <= C``.

    Returns
    -------
    torch.Tensor
        ``(units, N, ...)``: entry ``[j, i]`` projects example ``i``'s ``j``-th most
        active channel at its place (NaN where that unit is not active).
    """
    _rule(rule)
    with torch.no_grad():
        act = features(_check_input(x))
    if act.ndim != 4:
        raise ValueError(f"features must return (N, C, H, W), got {tuple(act.shape)}")
    n, c, h, w = act.shape
    if not 1 <= units <= c:
        raise ValueError(f"units must be in 1..{c}, got {units}")
    place = act.amax(dim=1).reshape(n, h * w).argmax(dim=1)  # (N,)
    at_place = act.reshape(n, c, h * w)[torch.arange(n), :, place]  # (N, C)
    value, channel = at_place.sort(dim=1, descending=True, stable=True)
    net = nn.Sequential(features, nn.Flatten())
    maps = []
    for j in range(units):
        m = attribute(net, x, channel[:, j] * h * w + place, rule)
        inactive = (value[:, j] <= 0).reshape(n, *([1] * (m.ndim - 1)))
        maps.append(torch.where(inactive, torch.nan, m))
    return torch.stack(maps)
