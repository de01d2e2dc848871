"""cnnbook.attribution.attribute on the ways real models call ReLU: keyword arguments,
activation checkpointing, threads, TorchScript, a ReLU whose input feeds a second
branch, one-element targets, no_grad / inference_mode, and architectures written the way
torchvision writes them. Oracles: Captum where Captum is right, the same network built
from nn.ReLU modules, plain autograd, and hand-computed maps where Captum differs."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from attribution_oracles import Functional, captum
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from cnnbook.attribution import RULES, attribute, project_unit
from cnnbook.models import make_cnn

RULE_NAMES = tuple(RULES)
RECTIFYING = ("deconvnet", "guided")


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


# --- C. ReLUs the function mode cannot reach: threads, TorchScript ---


class InThread(nn.Module):
    """Runs the first layers of ``net`` in another thread, as a pipelined model might."""

    def __init__(self, net: nn.Sequential, split: int, executor: bool) -> None:
        super().__init__()
        self.head, self.tail = net[:split], net[split:]
        self.executor = executor

    def forward(self, x: Tensor) -> Tensor:
        if self.executor:
            with ThreadPoolExecutor(max_workers=1) as pool:
                h = pool.submit(self.head, x).result()
        else:
            out: dict[str, Tensor] = {}
            worker = threading.Thread(target=lambda: out.setdefault("h", self.head(x)))
            worker.start()
            worker.join()
            h = out["h"]
        return self.tail(h)


@pytest.mark.parametrize("rule", RECTIFYING)
@pytest.mark.parametrize("executor", [False, True], ids=["Thread", "ThreadPoolExecutor"])
def test_relu_in_another_thread_is_refused(executor: bool, rule: str) -> None:
    model = InThread(seeded_cnn(seed=39), 3, executor)
    before = state(model)
    with pytest.raises(RuntimeError, match="thread"):
        attribute(model, images(2, seed=40), 1, rule)
    assert_same_state(before, state(model))


@pytest.mark.parametrize("executor", [False, True], ids=["Thread", "ThreadPoolExecutor"])
def test_relu_in_another_thread_keeps_the_exact_gradient(executor: bool) -> None:
    """A ReLU outside the mode has its true derivative: the gradient rule is right there."""
    net = seeded_cnn(seed=39)
    x = images(2, seed=40)
    ours = attribute(InThread(net, 3, executor), x, 1, "gradient")
    leaf = x.clone().requires_grad_()
    assert_close(ours, torch.autograd.grad(net(leaf)[:, 1].sum(), leaf)[0])


class ThreadedScale(nn.Module):
    """A linear layer run in another thread, and a ReLU of a parameter computed there:
    neither is a ReLU between the input and the scores."""

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = net
        self.gain = nn.Parameter(torch.tensor([1.5, -0.5, 2.0]))

    def forward(self, x: Tensor) -> Tensor:
        with ThreadPoolExecutor(max_workers=1) as pool:
            gain = pool.submit(torch.relu, self.gain).result()
            scores = pool.submit(self.net[-1], self.net[:-1](x)).result()
        return scores * (gain + 1)


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_threads_off_the_relu_path_are_accepted(rule: str) -> None:
    model = ThreadedScale(seeded_cnn(seed=41))
    x = images(3, seed=42)
    with torch.no_grad():
        assert torch.relu(model.gain).tolist() == [1.5, 0.0, 2.0]  # the ReLU is active
    assert_close(attribute(model, x, [0, 1, 2], rule), captum(model, x, [0, 1, 2], rule))


@pytest.mark.parametrize("rule", RECTIFYING)
def test_torchscript_is_refused_first_call_and_later(rule: str) -> None:
    with warnings.catch_warnings():  # torch.jit.script is deprecated in recent torch
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(seeded_cnn(seed=43))
    before = state(scripted)
    for _ in range(3):  # the first call records plain nodes; later ones a fused graph
        with pytest.raises(RuntimeError, match="TorchScript"):
            attribute(scripted, images(2, seed=44), 0, rule)
    assert_same_state(before, state(scripted))


# --- D. A ReLU whose input also feeds another branch: where Captum differs ---


class Branch(nn.Module):
    """``h = W1 x``; ``score = W2 relu(h) + W3 h``: the ReLU's input feeds a second branch."""

    def __init__(self) -> None:
        super().__init__()
        self.f1 = nn.Linear(2, 3, bias=False)
        self.relu = nn.ReLU()
        self.f2 = nn.Linear(3, 1, bias=False)
        self.f3 = nn.Linear(3, 1, bias=False)
        with torch.no_grad():
            self.f1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]))
            self.f2.weight.copy_(torch.tensor([[1.0, 1.0, -1.0]]))
            self.f3.weight.copy_(torch.tensor([[-2.0, 1.0, 0.5]]))

    def forward(self, x: Tensor) -> Tensor:
        h = self.f1(x.flatten(1))
        return self.f2(self.relu(h)) + self.f3(h)


# x = (1, -1): h = W1 x = (1, -1, 1), forward mask m = (1, 0, 1). The signal reaching the
# ReLU's output is g = W2 = (1, 1, -1); the other branch brings W3 = (-2, 1, 0.5) to h.
# The rule acts on g alone, and W3 joins it unchanged at h; the map is W1^T (that sum).
W1 = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
G, M, W3 = np.array([1.0, 1.0, -1.0]), np.array([1.0, 0.0, 1.0]), np.array([-2.0, 1.0, 0.5])
BRANCH_BY_HAND = {
    "gradient": W1.T @ (G * M + W3),  # (-2, 0.5)
    "deconvnet": W1.T @ (np.maximum(G, 0) + W3),  # (0, 2.5)
    "guided": W1.T @ (np.maximum(G, 0) * M + W3),  # (0, 1.5)
}
# Captum hooks h itself: GuidedBackprop rectifies the total gradient at h; Deconvolution
# replaces that total by the rectified signal from the ReLU, losing W3.
BRANCH_CAPTUM = {
    "gradient": W1.T @ (G * M + W3),
    "deconvnet": W1.T @ np.maximum(G, 0),  # (1, 1)
    "guided": W1.T @ np.maximum(G * M + W3, 0),  # (0, 1)
}


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_relu_input_feeding_another_branch_matches_the_hand_computed_map(rule: str) -> None:
    x = torch.tensor([[1.0, -1.0]])
    by_hand = {"gradient": [-2.0, 0.5], "deconvnet": [0.0, 2.5], "guided": [0.0, 1.5]}
    assert BRANCH_BY_HAND[rule].tolist() == by_hand[rule]
    assert attribute(Branch(), x, 0, rule).tolist() == [BRANCH_BY_HAND[rule].tolist()]
    assert captum(Branch(), x, 0, rule).tolist() == [BRANCH_CAPTUM[rule].tolist()]
    if rule != "gradient":  # the documented difference is real
        assert not np.array_equal(BRANCH_CAPTUM[rule], BRANCH_BY_HAND[rule])


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


# --- Architectures written the way torchvision writes them (random weights) ---


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: one ``nn.ReLU(inplace=True)`` used twice."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self, checkpointed: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = BasicBlock(4, 4)
        self.layer2 = BasicBlock(4, 6, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 5)
        self.checkpointed = checkpointed

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        if self.checkpointed:
            x = checkpoint(self.layer1, x, use_reentrant=False)
        else:
            x = self.layer1(x)
        x = self.layer2(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class DenseLayer(nn.Module):
    """torchvision's _DenseLayer: BN, ReLU, 1x1 conv, BN, ReLU, 3x3 conv; concatenated."""

    def __init__(self, c_in: int, growth: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(c_in, 2 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(2 * growth, growth)

    def forward(self, features: list[Tensor]) -> Tensor:
        h = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(h)))


class TinyDenseNet(nn.Module):
    """Ends like torchvision's DenseNet, in ``F.relu(features, inplace=True)``, or (as
    the twin Captum can see) in an ``nn.ReLU`` module."""

    def __init__(self, functional_end: bool) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.layers = nn.ModuleList([DenseLayer(4, 3), DenseLayer(7, 3)])
        self.norm5 = nn.BatchNorm2d(10)
        self.relu5 = nn.ReLU(inplace=True)
        self.classifier = nn.Linear(10, 5)
        self.functional_end = functional_end

    def forward(self, x: Tensor) -> Tensor:
        features = [self.conv0(x)]
        for layer in self.layers:
            features.append(layer(features))
        out = self.norm5(torch.cat(features, 1))
        out = F.relu(out, inplace=True) if self.functional_end else self.relu5(out)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(torch.flatten(out, 1))


def vgg_style() -> nn.Module:
    """torchvision's VGG layout: features, adaptive average pool, classifier with dropout."""
    features = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
    )  # fmt: skip
    classifier = nn.Sequential(
        nn.Linear(6 * 2 * 2, 16), nn.ReLU(True), nn.Dropout(),
        nn.Linear(16, 16), nn.ReLU(True), nn.Dropout(), nn.Linear(16, 5),
    )  # fmt: skip
    return nn.Sequential(features, nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), classifier)


def randomised(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` with seeded weights and non-trivial batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = build()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "resnet": TinyResNet,
    "resnet checkpointed": lambda: TinyResNet(checkpointed=True),
    "vgg": vgg_style,
    "densenet": lambda: TinyDenseNet(functional_end=True),
}
#: The model Captum is run on: the same weights, every ReLU an nn.ReLU, no checkpoint.
CAPTUM_TWIN: dict[str, Callable[[], nn.Module]] = {
    "resnet": TinyResNet,
    "resnet checkpointed": TinyResNet,
    "vgg": vgg_style,
    "densenet": lambda: TinyDenseNet(functional_end=False),
}


@pytest.mark.parametrize("rule", RULE_NAMES)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_torchvision_style_architectures_match_captum(arch: str, rule: str) -> None:
    model = randomised(ARCHITECTURES[arch], seed=53)
    twin = randomised(CAPTUM_TWIN[arch], seed=53)
    x = images(3, seed=54, channels=3)
    target = [4, 0, 2]
    before = state(model)
    with torch.no_grad():
        scores = model(x.clone())
        assert torch.equal(twin(x.clone()), scores), "the twin computes the same scores"
    ours = no_warning(lambda: attribute(model, x, target, rule))
    assert_close(ours, captum(twin, x, target, rule))
    assert_same_state(before, state(model))
    with torch.no_grad():
        assert torch.equal(model(x.clone()), scores)


def test_captum_misses_the_functional_relu_that_ends_densenet() -> None:
    """Why the DenseNet oracle is the nn.ReLU twin: Captum ignores F.relu."""
    model = randomised(lambda: TinyDenseNet(functional_end=True), seed=53)
    twin = randomised(lambda: TinyDenseNet(functional_end=False), seed=53)
    x = images(3, seed=54, channels=3)
    assert max_diff(captum(model, x, 1, "guided"), captum(twin, x, 1, "guided")) > 1e-3
