"""cnnbook.attribution.attribute on the ways real models call ReLU: keyword arguments,
activation checkpointing, threads, TorchScript, a ReLU whose input feeds a second
branch, one-element targets, no_grad / inference_mode, and architectures written the way
torchvision writes them. Oracles: Captum where Captum is right, the same network built
from nn.ReLU modules, plain autograd, and hand-computed maps where Captum differs."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import Deconvolution, GuidedBackprop, Saliency
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from cnnbook.attribution import RULES, attribute, make_cnn, project_unit

RULE_NAMES = tuple(RULES)
RECTIFYING = ("deconvnet", "guided")


def captum(model: nn.Module, x: Tensor, target: object, rule: str) -> Tensor:
    """Captum's map; its warning that it hooks the ReLUs is silenced here only."""
    x = x.detach().clone().requires_grad_()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
        if rule == "gradient":
            return Saliency(model).attribute(x, target=target, abs=False)
        method = {"deconvnet": Deconvolution, "guided": GuidedBackprop}[rule]
        return method(model).attribute(x, target=target)


def max_diff(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max())


def assert_close(a: Tensor, b: Tensor) -> None:
    """Equal to float32 rounding, relative to the map's scale."""
    scale = float(b.abs().max()) or 1.0
    assert max_diff(a, b) <= 1e-5 * scale, max_diff(a, b)


def no_warning(fn: Callable[[], Tensor]) -> Tensor:
    """Run ``fn`` with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


def seeded_cnn(seed: int, inplace: bool = False) -> nn.Sequential:
    torch.manual_seed(seed)
    model = make_cnn(3, widths=(4, 6), hidden=8, image_size=(8, 8)).eval()
    for layer in model:
        if isinstance(layer, nn.ReLU):
            layer.inplace = inplace
    return model


def images(n: int, seed: int, channels: int = 1, side: int = 8) -> Tensor:
    return torch.randn(n, channels, side, side, generator=torch.Generator().manual_seed(seed))


def state(model: nn.Module) -> dict[str, object]:
    """What a call must leave as it was, even when it raises."""
    return {
        "params": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": [p.grad for p in model.parameters()],
        "hooks": [
            len(getattr(m, name))
            for m in model.modules()
            for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks")
        ],
        "global hooks": [
            len(nn.modules.module._global_forward_hooks),
            len(nn.modules.module._global_forward_pre_hooks),
            len(nn.modules.module._global_backward_hooks),
        ],
        "modes": torch._C._len_torch_function_stack(),
    }


def assert_same_state(before: dict[str, object], after: dict[str, object]) -> None:
    for key in ("grads", "hooks", "global hooks", "modes"):
        assert after[key] == before[key], key
    assert all(g is None for g in after["grads"])  # type: ignore[attr-defined]
    for k, v in before["params"].items():  # type: ignore[attr-defined]
        assert torch.equal(after["params"][k], v), k  # type: ignore[index]


# --- A. Every ReLU entry point, arguments by position or by keyword ---


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


KEYWORD_CALLS: dict[str, Callable[[Tensor], Tensor]] = {
    "torch.relu(input=h)": lambda h: torch.relu(input=h),
    "torch.relu_(input=h)": lambda h: torch.relu_(input=h),
    "F.relu_(input=h)": lambda h: F.relu_(input=h),
    "F.relu(input=h)": lambda h: F.relu(input=h),
    "F.relu(input=h, inplace=True)": lambda h: F.relu(input=h, inplace=True),
    "F.relu(h, inplace=True)": lambda h: F.relu(h, inplace=True),
    "F.relu(h, True)": lambda h: F.relu(h, True),
    "Tensor.relu(h)": lambda h: Tensor.relu(h),
    "h.relu_()": lambda h: h.relu_(),
}


@pytest.mark.parametrize("rule", RULE_NAMES)
@pytest.mark.parametrize("call", KEYWORD_CALLS)
def test_relu_calls_with_keywords_follow_the_rule(call: str, rule: str) -> None:
    net = seeded_cnn(seed=31)
    model = Functional(seeded_cnn(seed=31), KEYWORD_CALLS[call])
    x = images(3, seed=32)
    with torch.no_grad():
        assert torch.equal(model(x), net(x)), "the functional twin computes the same scores"
    ours = no_warning(lambda: attribute(model, x, 2, rule))
    # Oracle: Captum on the same network built from nn.ReLU modules.
    assert_close(ours, captum(net, x, 2, rule))


def test_a_wrong_relu_call_still_fails_as_torch_fails() -> None:
    """The mode reads the arguments; a call torch refuses is handed to torch unchanged."""
    h = torch.randn(3)
    with pytest.raises(TypeError) as plain:
        torch.relu(h, inplace=True)  # type: ignore[call-arg]
    model = Functional(seeded_cnn(seed=33), lambda h: torch.relu(h, inplace=True))  # type: ignore[call-arg]
    with pytest.raises(TypeError) as ours:
        attribute(model, images(1, seed=34), 0, "guided")
    assert str(ours.value) == str(plain.value)
    assert torch._C._len_torch_function_stack() == 0


# --- B. Activation checkpointing ---


class Checkpointed(nn.Module):
    """``net`` with its first ``split`` layers run under activation checkpointing."""

    def __init__(self, net: nn.Sequential, split: int, reentrant: bool) -> None:
        super().__init__()
        self.head, self.tail = net[:split], net[split:]
        self.reentrant = reentrant

    def forward(self, x: Tensor) -> Tensor:
        h = checkpoint(self.head, x, use_reentrant=self.reentrant)
        return self.tail(h)


@pytest.mark.parametrize("rule", RULE_NAMES)
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("split", [2, 6, 9])
def test_non_reentrant_checkpointing_gives_the_same_map(
    split: int, inplace: bool, rule: str
) -> None:
    net = seeded_cnn(seed=35, inplace=inplace)
    model = Checkpointed(net, split, reentrant=False)
    x = images(4, seed=36)
    target = [0, 1, 2, 1]
    ours = no_warning(lambda: attribute(model, x, target, rule))
    reference = captum(seeded_cnn(seed=35), x, target, rule)  # no checkpoint, no in-place
    assert_close(ours, reference)
    assert_close(ours, attribute(net, x, target, rule))  # our own map without checkpointing
    assert_close(captum(model, x, target, rule), reference)  # Captum is unaffected by it


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_reentrant_checkpointing_is_refused_by_torch_not_mapped_wrongly(rule: str) -> None:
    """Reentrant checkpointing cannot serve ``torch.autograd.grad``; torch says so."""
    model = Checkpointed(seeded_cnn(seed=37), 6, reentrant=True)
    before = state(model)
    with pytest.raises(RuntimeError, match="use_reentrant=True"):
        attribute(model, images(2, seed=38), 0, rule)
    assert_same_state(before, state(model))


# --- E. Targets: what Captum accepts for one output per example ---


@pytest.mark.parametrize(
    ("target", "captum_target"),
    [
        (torch.tensor([0]), torch.tensor([0])),
        (torch.tensor([[2]]), torch.tensor([[2]])),
        (torch.tensor(1), torch.tensor(1)),
        (torch.tensor([1], dtype=torch.int32), 1),
        ([1], 1),  # Captum wants a list of N; one index is the same as the int
        (np.array([2]), 2),
        (np.array([2, 0, 1, 1]), [2, 0, 1, 1]),
        (torch.tensor([2, 0, 1, 1]), torch.tensor([2, 0, 1, 1])),
    ],
    ids=repr,
)
def test_one_element_targets_are_accepted(target: object, captum_target: object) -> None:
    model = seeded_cnn(seed=45)
    x = images(4, seed=46)
    assert_close(attribute(model, x, target, "guided"), captum(model, x, captum_target, "guided"))


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (torch.tensor([-1]), "out of range"),
        ([-1], "out of range"),
        (torch.tensor([3]), "out of range"),
        (torch.tensor([0, 1, 2, 3]), "out of range"),
        (torch.tensor([0.0]), "dtype"),
        ([0.0], "dtype"),
        (torch.tensor([True]), "dtype"),
        ([True], "dtype"),
        (np.array([True, False, True, False]), "dtype"),
        ([0, 1], "shape"),
        (torch.tensor([0, 1]), "shape"),
        (torch.zeros(4, 1, dtype=torch.long), "shape"),
        ([[0], [1, 2], [0], [1]], "target"),
    ],
    ids=repr,
)
def test_bad_targets_are_still_refused(target: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        attribute(seeded_cnn(seed=45), images(4, seed=46), target, "deconvnet")


# --- F. no_grad and inference_mode ---


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_no_grad_gives_the_same_map(rule: str) -> None:
    model, x = seeded_cnn(seed=47), images(3, seed=48)
    outside = attribute(model, x, [0, 1, 2], rule)
    with torch.no_grad():
        inside = attribute(model, x, [0, 1, 2], rule)
        projected = project_unit(model[:3], x, 1, rule)
    assert torch.equal(inside, outside)
    assert torch.equal(projected, project_unit(model[:3], x, 1, rule))
    assert_close(outside, captum(model, x, [0, 1, 2], rule))


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_inference_mode_is_named_in_the_error(rule: str) -> None:
    model = seeded_cnn(seed=49)
    before = state(model)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        attribute(model, images(2, seed=50), 0, rule)
    assert_same_state(before, state(model))


def test_a_tensor_made_under_inference_mode_can_be_explained_outside_it() -> None:
    model, x = seeded_cnn(seed=51), images(2, seed=52)
    with torch.inference_mode():
        frozen = x.clone()
    assert frozen.is_inference()
    assert torch.equal(attribute(model, frozen, 1, "guided"), attribute(model, x, 1, "guided"))
