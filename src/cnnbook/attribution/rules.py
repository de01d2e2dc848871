"""The three backward rules of chapter 2 and the mechanism that applies them at every ReLU.

- :class:`Rule` and :data:`RULES`: which of the two masks each rule applies at a ReLU;
- :func:`relu_rule`: the function mode that routes every ReLU call through an autograd
  function whose backward applies the rule's masks;
- :func:`_check_every_relu_followed_the_rule`: the search of the autograd graph for a
  ReLU the mode could not reach. Its docstring says which ReLUs those are, and why; the
  rest of the package refers to it.

Chapter 2 shows :data:`RULES` and uses the mode through :func:`cnnbook.attribution.attribute`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.graph import Node
from torch.overrides import TorchFunctionMode

#: The names of the three rules.
RuleName = Literal["gradient", "deconvnet", "guided"]


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
    block has closed. Some ReLUs are out of the mode's reach
    (:func:`_check_every_relu_followed_the_rule` says which); unlike :func:`attribute`,
    this block does not check for them. Used by :func:`attribute` and
    :func:`project_unit` (chapter 2).

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
