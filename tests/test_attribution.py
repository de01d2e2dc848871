"""cnnbook.attribution: the three rules against Captum, torch autograd, a hand-written
layer-by-layer DeconvNet and hand-computed maps; the model is left as it was. And
cnnbook.sanity's rank correlation, localisation and cascading randomisation against
scipy and explicit loops."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from attribution_oracles import Functional, captum
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from torch import Tensor, nn

from cnnbook.attribution import (
    RULES,
    Rule,
    attribute,
    class_maps,
    layer_backward,
    layer_forward,
    layerwise_attribute,
    project_unit,
    relu_rule,
    strongest_units,
)
from cnnbook.models import make_cnn
from cnnbook.sanity import (
    cascading_randomization,
    localisation,
    pairwise_rank_correlation,
    rank_correlation,
)

RULE_NAMES = tuple(RULES)


def assert_close(a: Tensor, b: Tensor) -> None:
    """Equal to float32 rounding, relative to the map's scale."""
    scale = float(b.abs().max()) or 1.0
    assert float((a - b).abs().max()) <= 1e-5 * scale, float((a - b).abs().max())


def seeded_cnn(seed: int = 0, inplace: bool = False, **kw: object) -> nn.Sequential:
    torch.manual_seed(seed)
    model = make_cnn(3, widths=(4, 6), hidden=8, image_size=(8, 8), **kw).eval()  # type: ignore[arg-type]
    for layer in model:
        if isinstance(layer, nn.ReLU):
            layer.inplace = inplace
    return model


class Residual(nn.Module):
    """Two branches joined by a sum, strided conv, overlapping max-pool, batch norm, avg-pool."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1)
        self.relu0 = nn.ReLU(inplace=inplace)
        self.body = nn.Sequential(
            nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=inplace),
            nn.Conv2d(4, 4, 3, padding=1),
        )  # fmt: skip
        self.relu1 = nn.ReLU(inplace=inplace)
        self.pool = nn.MaxPool2d(3, stride=2)
        self.down = nn.Conv2d(4, 6, 3, stride=2)
        self.relu2 = nn.ReLU(inplace=inplace)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4))

    def forward(self, x: Tensor) -> Tensor:
        h = self.relu0(self.stem(x))
        h = self.relu1(h + self.body(h))
        return self.head(self.relu2(self.down(self.pool(h))))


def residual(seed: int = 0, inplace: bool = False) -> Residual:
    torch.manual_seed(seed)
    model = Residual(inplace)
    with torch.no_grad():  # non-trivial running statistics for the eval-mode batch norm
        bn = model.body[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


#: The ways a model can apply a ReLU, and whether Captum sees them.
RELU_CALLS: dict[str, Callable[[Tensor], Tensor]] = {
    "F.relu": F.relu,
    "F.relu(inplace=True)": lambda h: F.relu(h, inplace=True),
    "F.relu_": F.relu_,
    "torch.relu": torch.relu,
    "torch.relu_": torch.relu_,
    "Tensor.relu": Tensor.relu,
    "Tensor.relu_": Tensor.relu_,
    "relu_ result ignored": lambda h: (h.relu_(), h)[1],
}


# --- Agreement with Captum, the reference implementation ---


@pytest.mark.parametrize("rule", RULE_NAMES)
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("build", [seeded_cnn, residual], ids=["cnn", "residual"])
def test_matches_captum(build: Callable[..., nn.Module], inplace: bool, rule: str) -> None:
    model = build(seed=1, inplace=inplace)
    channels = 1 if build is seeded_cnn else 2
    x = torch.randn(5, channels, 8, 8, generator=torch.Generator().manual_seed(2))
    target = [0, 1, 2, 1, 0]
    ours = attribute(model, x, target, rule)
    assert ours.shape == x.shape
    assert ours.dtype == x.dtype
    assert_close(ours, captum(build(seed=1, inplace=False), x, target, rule))


@settings(deadline=None, max_examples=15)
@given(
    seed=st.integers(0, 2**16),
    widths=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    side=st.sampled_from([8, 12, 16]),
    batch=st.integers(1, 4),
    inplace=st.booleans(),
)
def test_matches_captum_and_layerwise_on_random_cnns(
    seed: int, widths: list[int], side: int, batch: int, inplace: bool
) -> None:
    torch.manual_seed(seed)
    model = make_cnn(4, widths=widths, hidden=5, image_size=(side, side)).eval()
    for layer in model:
        if isinstance(layer, nn.ReLU):
            layer.inplace = inplace
    x = torch.randn(batch, 1, side, side)
    target = torch.randint(0, 4, (batch,))
    for rule in RULE_NAMES:
        ours = attribute(model, x, target, rule)
        assert_close(ours, captum(model, x, target, rule))
        assert_close(ours, layerwise_attribute(model, x, target, rule))


# --- Every ReLU follows the rule, however it is called ---


@pytest.mark.parametrize("rule", RULE_NAMES)
@pytest.mark.parametrize("call", RELU_CALLS)
def test_functional_relus_follow_the_rule(call: str, rule: str) -> None:
    net = seeded_cnn(seed=3)
    model = Functional(copy.deepcopy(net), RELU_CALLS[call])
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(model(x), net(x)), "the functional twin computes the same scores"
    # The oracle: Captum on the same network built from nn.ReLU modules.
    assert_close(attribute(model, x, 2, rule), captum(net, x, 2, rule))


def test_captum_falls_back_to_the_gradient_on_functional_relus() -> None:
    """Why the issue asks for more than hooks: Captum silently ignores F.relu."""
    net = seeded_cnn(seed=3)
    model = Functional(net, F.relu)
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    gradient = attribute(model, x, 2, "gradient")
    assert_close(captum(model, x, 2, "deconvnet"), gradient)
    assert not torch.allclose(attribute(model, x, 2, "deconvnet"), gradient)


def test_reused_relu_module_follows_the_rule_at_every_use() -> None:
    net = seeded_cnn(seed=5)
    shared = nn.ReLU(inplace=True)
    model = nn.Sequential(*[shared if isinstance(m, nn.ReLU) else m for m in net])
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    for rule in RULE_NAMES:
        assert_close(attribute(model, x, 0, rule), captum(seeded_cnn(seed=5), x, 0, rule))


# --- The in-place trap ---


def naive_deconvnet(model: nn.Module, x: Tensor, target: int) -> Tensor:
    """DeconvNet by hooks, done naively: replace the gradient at each ReLU's input with
    the rectified gradient at its output. Right for out-of-place ReLUs only."""
    handles = []

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        saved = {}
        output.register_hook(lambda g: saved.setdefault("g", g))
        inputs[0].register_hook(lambda _: torch.relu(saved["g"]))

    for m in model.modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(hook))
    try:
        leaf = x.clone().requires_grad_()
        return torch.autograd.grad(model(leaf)[:, target].sum(), leaf)[0]
    finally:
        for h in handles:
            h.remove()


def test_inplace_relu_does_not_turn_deconvnet_into_guided() -> None:
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    plain, inplace = seeded_cnn(seed=8), seeded_cnn(seed=8, inplace=True)
    deconv = attribute(plain, x, 1, "deconvnet")
    guided = attribute(plain, x, 1, "guided")
    assert not torch.allclose(deconv, guided, atol=1e-6), "the test needs the rules to differ"
    # The trap is real: the naive hook on in-place ReLUs returns guided backprop ...
    assert_close(naive_deconvnet(plain, x, 1), deconv)
    assert_close(naive_deconvnet(inplace, x, 1), guided)
    # ... and attribute is not caught by it.
    assert_close(attribute(inplace, x, 1, "deconvnet"), deconv)
    assert_close(attribute(inplace, x, 1, "guided"), guided)


# --- Hand-computed maps, and what each rule keeps ---


def tiny() -> nn.Sequential:
    """x (2) -> W1 (3x2) -> ReLU -> W2 (1x3): small enough to do by hand."""
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(2, 3, bias=False), nn.ReLU(), nn.Linear(3, 1, bias=False)
    )
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]))
        model[3].weight.copy_(torch.tensor([[1.0, 1.0, -1.0]]))
    return model


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # x = (1, -1): pre-activations W1 x = (1, -1, 1), so the forward mask is (1, 0, 1);
        # the signal reaching the ReLU is W2 = (1, 1, -1).
        ("gradient", [-1.0, -1.0]),  # W1^T (g * mask)       = W1^T (1, 0, -1)
        ("deconvnet", [1.0, 1.0]),  # W1^T max(g, 0)         = W1^T (1, 1, 0)
        ("guided", [1.0, 0.0]),  # W1^T (max(g, 0) * mask)   = W1^T (1, 0, 0)
    ],
)
def test_hand_computed_maps(rule: str, expected: list[float]) -> None:
    x = torch.tensor([[[[1.0, -1.0]]]])
    out = attribute(tiny(), x, 0, rule)
    assert out.tolist() == [[[expected]]]
    assert layerwise_attribute(tiny(), x, 0, rule).tolist() == [[[expected]]]


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_max_pool_routes_through_its_switch(rule: str) -> None:
    model = nn.Sequential(nn.MaxPool2d(2), nn.Flatten())
    x = torch.tensor([[[[0.1, 0.7], [-0.3, 0.2]]]])
    assert attribute(model, x, 0, rule).tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]]


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**16), pool=st.booleans())
def test_without_relus_the_three_rules_are_the_gradient(seed: int, pool: bool) -> None:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Conv2d(1, 3, 3, padding=1)]
    layers += [nn.MaxPool2d(2)] if pool else [nn.AvgPool2d(2)]
    layers += [nn.Conv2d(3, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 3)]
    model = nn.Sequential(*layers)
    x = torch.randn(2, 1, 8, 8)
    leaf = x.clone().requires_grad_()
    oracle = torch.autograd.grad(model(leaf)[:, 1].sum(), leaf)[0]
    for rule in RULE_NAMES:
        assert torch.equal(attribute(model, x, 1, rule), oracle)


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**16))
def test_deconvnet_without_switches_ignores_the_input(seed: int) -> None:
    """No max-pool: DeconvNet's backward pass reads nothing from the forward pass."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(36, 3),
    )  # fmt: skip
    x = torch.randn(2, 1, 10, 10)
    maps = attribute(model, x, 0, "deconvnet")
    assert torch.equal(maps[0], maps[1])
    assert not torch.equal(*attribute(model, x, 0, "gradient"))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.Conv2d(2, 3, 3, padding=1), (2, 2, 7, 7)),
        (nn.Conv2d(2, 4, (3, 2), stride=(2, 3), padding=(1, 0), dilation=(1, 2)), (2, 2, 9, 10)),
        (nn.Conv2d(4, 4, 3, stride=2, groups=2), (1, 4, 8, 8)),
        (nn.MaxPool2d(2), (2, 3, 6, 6)),
        (nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),  # overlapping windows
        (nn.Linear(5, 3), (4, 5)),
        (nn.Flatten(), (2, 3, 2, 2)),
        (nn.Identity(), (2, 3)),
        (nn.ReLU(), (2, 3, 4, 4)),
    ],
    ids=repr,
)
def test_gradient_rule_layer_by_layer_is_torch_backward(layer: nn.Module, shape: tuple) -> None:
    """Oracle: torch autograd's vector-Jacobian product of the same layer."""
    g = torch.Generator().manual_seed(23)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    a = torch.randn(shape, generator=g, dtype=torch.float64).to(torch.float32)
    out, cache = layer_forward(layer, a)
    leaf = a.clone().requires_grad_()
    expected_out = layer(leaf)
    assert torch.equal(out, expected_out.detach())
    seed = torch.randn(out.shape, generator=g)
    expected = torch.autograd.grad(expected_out, leaf, seed)[0]
    got = layer_backward(layer, seed, cache, RULES["gradient"])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_relu_backward_step_applies_the_masks() -> None:
    a = torch.tensor([-1.0, 2.0, 3.0, -4.0])
    g = torch.tensor([5.0, -6.0, 7.0, -8.0])
    _, cache = layer_forward(nn.ReLU(), a)
    table = {  # (forward mask, backward mask): expected signal, entry by entry
        (True, False): [0.0, -6.0, 7.0, 0.0],
        (False, True): [5.0, 0.0, 7.0, 0.0],
        (True, True): [0.0, 0.0, 7.0, 0.0],
        (False, False): [5.0, -6.0, 7.0, -8.0],
    }
    for (fwd, bwd), expected in table.items():
        assert layer_backward(nn.ReLU(), g, cache, Rule(fwd, bwd)).tolist() == expected


# --- Projections of one hidden unit (Zeiler & Fergus) ---


def test_strongest_units_against_a_loop() -> None:
    a = torch.randn(3, 4, 5, 6, generator=torch.Generator().manual_seed(9))
    idx = strongest_units(a, 2)
    for i in range(3):
        flat = a[i].flatten()
        best = max(range(flat.numel()), key=lambda j: float(flat[j]) if j // 30 == 2 else -1e9)
        assert int(idx[i]) == best


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_project_unit_is_a_one_hot_backward_pass(rule: str) -> None:
    net = seeded_cnn(seed=10)
    features = net[:6]  # conv, relu, pool, conv, relu, pool
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(11))
    units = strongest_units(features(x), 4)
    oracle = layerwise_attribute(nn.Sequential(*features, nn.Flatten()), x, units, rule)
    assert_close(project_unit(features, x, 4, rule), oracle)
    if rule == "gradient":  # and, for the gradient, torch's own one-hot backward pass
        leaf = x.clone().requires_grad_()
        act = features(leaf).flatten(1)
        seed = F.one_hot(units, act.shape[1]).to(act.dtype)
        assert_close(project_unit(features, x, 4, rule), torch.autograd.grad(act, leaf, seed)[0])


# --- The model and the input are left as they were; no warnings ---


def snapshot(model: nn.Module) -> dict[str, object]:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [p.grad for p in model.parameters()],
        "inplace": [getattr(m, "inplace", None) for m in model.modules()],
        "training": [m.training for m in model.modules()],
        "hooks": [
            len(getattr(m, name))
            for m in model.modules()
            for name in (
                "_forward_hooks",
                "_forward_pre_hooks",
                "_backward_hooks",
                "_backward_pre_hooks",
                "_state_dict_hooks",
            )
        ],
        "global hooks": [
            len(nn.modules.module._global_forward_hooks),
            len(nn.modules.module._global_forward_pre_hooks),
            len(nn.modules.module._global_backward_hooks),
        ],
        "modes": torch._C._len_torch_function_stack(),
    }


def assert_unchanged(model: nn.Module, before: dict[str, object], x: Tensor, out: Tensor) -> None:
    after = snapshot(model)
    for key in ("requires_grad", "grads", "inplace", "training", "hooks", "global hooks", "modes"):
        assert after[key] == before[key], key
    for k, v in before["state"].items():  # type: ignore[attr-defined]
        assert torch.equal(after["state"][k], v), k  # type: ignore[index]
    with torch.no_grad():
        assert torch.equal(model(x.clone()), out)


@pytest.mark.parametrize("build", [seeded_cnn, residual], ids=["cnn", "residual"])
def test_model_and_input_unchanged_after_a_call(build: Callable[..., nn.Module]) -> None:
    model = build(seed=12, inplace=True)
    x = torch.randn(2, 1 if build is seeded_cnn else 2, 8, 8)
    x_copy = x.clone()
    with torch.no_grad():
        out = model(x.clone())
    before = snapshot(model)
    for rule in RULE_NAMES:
        attribute(model, x, 1, rule)
    assert_unchanged(model, before, x, out)
    assert torch.equal(x, x_copy)
    assert not x.requires_grad
    assert x.grad is None


def test_model_unchanged_after_a_bad_target() -> None:
    model = seeded_cnn(seed=13, inplace=True)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        out = model(x.clone())
    before = snapshot(model)
    with pytest.raises(ValueError, match="out of range"):
        attribute(model, x, 3, "deconvnet")
    assert_unchanged(model, before, x, out)


class Failing(nn.Module):
    """Applies a ReLU, then fails inside the forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        self.relu(x)
        raise RuntimeError("forward failed")


def test_mode_is_closed_when_the_forward_pass_raises() -> None:
    model = Failing()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="forward failed"):
        attribute(model, torch.randn(1, 1, 2, 2), 0, "guided")
    assert snapshot(model) == before
    assert torch._C._len_torch_function_stack() == 0
    assert torch.relu(torch.tensor([-1.0])).tolist() == [0.0]


@pytest.mark.parametrize("call", RELU_CALLS)
def test_no_warning_is_emitted(call: str) -> None:
    model = Functional(seeded_cnn(seed=14), RELU_CALLS[call])
    x = torch.randn(2, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for rule in RULE_NAMES:
            attribute(model, x, [0, 2], rule)
            project_unit(model.net[:3], x, 1, rule)


def test_relu_rule_is_only_a_forward_context() -> None:
    model = seeded_cnn(seed=15)
    leaf = torch.randn(2, 1, 8, 8).requires_grad_()
    with relu_rule("guided"):
        scores = model(leaf)
    (grad,) = torch.autograd.grad(scores[:, 0].sum(), leaf)
    assert_close(grad, captum(model, leaf.detach(), 0, "guided"))


# --- Bad input ---


@pytest.mark.parametrize("rule", ["Gradient", "saliency", "", None, 1])
def test_unknown_rule(rule: object) -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        attribute(seeded_cnn(), torch.randn(1, 1, 8, 8), 0, rule)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (3, "out of range"),
        (-1, "out of range"),
        ([0, 1, 3], "out of range"),
        ([0, 1], "shape"),
        ([[0], [1], [2]], "shape"),
        (torch.zeros(3, 1, dtype=torch.long), "shape"),
        (1.0, "dtype"),
        ([0.0, 1.0, 2.0], "dtype"),
        (torch.tensor([0.0, 1.0, 2.0]), "dtype"),
        (True, "dtype"),
        ("0", "dtype"),
        (None, "dtype"),
        ([[0], [1, 2]], "target"),
    ],
)
def test_bad_target(target: object, match: str) -> None:
    model = seeded_cnn()
    with pytest.raises(ValueError, match=match):
        attribute(model, torch.randn(3, 1, 8, 8), target, "gradient")


@pytest.mark.parametrize(
    "target",
    [2, np.int64(2), torch.tensor(2), [2, 0, 1], np.array([2, 0, 1]), torch.tensor([2, 0, 1])],
)
def test_good_targets(target: object) -> None:
    model = seeded_cnn()
    x = torch.randn(3, 1, 8, 8)
    expected = torch.as_tensor(np.broadcast_to(np.asarray(target), (3,)).copy())
    assert_close(attribute(model, x, target, "guided"), captum(model, x, expected, "guided"))


@pytest.mark.parametrize(
    "x",
    [
        torch.zeros(2, 1, 8, 8, dtype=torch.long),
        torch.zeros(8),
        torch.zeros(0, 1, 8, 8),
        np.zeros((1, 1, 8, 8)),
    ],
)
def test_bad_input(x: object) -> None:
    with pytest.raises(ValueError, match="x must"):
        attribute(seeded_cnn(), x, 0, "gradient")  # type: ignore[arg-type]


def test_output_must_be_scores() -> None:
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        attribute(nn.Conv2d(1, 1, 3), torch.randn(2, 1, 8, 8), 0, "gradient")


def test_layerwise_rejects_unknown_layers() -> None:
    with pytest.raises(ValueError, match="Tanh"):
        layerwise_attribute(
            nn.Sequential(nn.Tanh(), nn.Flatten()), torch.randn(1, 1, 2, 2), 0, "guided"
        )


# --- Sanity-check metrics ---


@settings(deadline=None, max_examples=40)
@given(
    a=st.lists(st.integers(-3, 3), min_size=3, max_size=30),
    b=st.lists(st.integers(-3, 3), min_size=3, max_size=30),
)
def test_rank_correlation_matches_scipy(a: list[int], b: list[int]) -> None:
    n = min(len(a), len(b))
    x, y = np.array(a[:n], float), np.array(b[:n], float)
    ours = float(rank_correlation(torch.tensor(x)[None], torch.tensor(y)[None])[0])
    if x.std() == 0 or y.std() == 0:
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_rank_correlation_is_per_example() -> None:
    g = torch.Generator().manual_seed(16)
    a, b = torch.randn(4, 2, 3, 3, generator=g), torch.randn(4, 2, 3, 3, generator=g)
    ours = rank_correlation(a, b)
    for i in range(4):
        assert float(ours[i]) == pytest.approx(spearmanr(a[i].flatten(), b[i].flatten()).statistic)
    with pytest.raises(ValueError, match="same shape"):
        rank_correlation(a, b[:2])


def test_localisation_against_a_loop() -> None:
    g = torch.Generator().manual_seed(17)
    maps = torch.randn(3, 2, 4, 5, generator=g)
    masks = torch.rand(3, 4, 5, generator=g) > 0.6
    ours = localisation(maps, masks)
    for i in range(3):
        inside = total = 0.0
        for c in range(2):
            for r in range(4):
                for col in range(5):
                    v = max(float(maps[i, c, r, col]), 0.0)
                    total += v
                    inside += v if masks[i, r, col] else 0.0
        assert float(ours[i]) == pytest.approx(inside / total)
    assert torch.equal(localisation(maps, masks[:, None]), ours)
    assert torch.isnan(localisation(-maps.abs(), masks)).all()
    with pytest.raises(ValueError, match="masks"):
        localisation(maps, masks[:2])


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")  # a constant map: NaN
def test_cascading_randomization() -> None:
    model = seeded_cnn(seed=18)
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(19))
    before = snapshot(model)
    with torch.no_grad():
        out = model(x)
    rng_state = torch.get_rng_state()
    result = cascading_randomization(model, x, 1, seed=3)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert_unchanged(model, before, x, out)
    assert result.layers == ["9", "7", "3", "0"]  # the parametrised layers, top first
    for rule in RULE_NAMES:
        corr, maps = result.correlation[rule], result.maps[rule]
        assert corr.shape == (5, 3)
        assert maps.shape == (5, 3, 1, 8, 8)
        np.testing.assert_allclose(corr[0], 1.0)
        np.testing.assert_array_equal(maps[0], attribute(model, x, 1, rule).numpy())
        for s in range(5):  # oracle: scipy's Spearman correlation of each example's |map|
            expected = [
                spearmanr(np.abs(maps[0, i]).ravel(), np.abs(maps[s, i]).ravel()).statistic
                for i in range(3)
            ]
            np.testing.assert_allclose(corr[s], expected, rtol=0, atol=1e-12)
    # Once every layer is re-drawn, the trained weights no longer matter.
    other = cascading_randomization(seeded_cnn(seed=99), x, 1, seed=3)
    for rule in RULE_NAMES:
        np.testing.assert_array_equal(result.maps[rule][-1], other.maps[rule][-1])
        assert not np.array_equal(result.maps[rule][0], other.maps[rule][0])
    with pytest.raises(ValueError, match="unknown rule"):
        cascading_randomization(model, x, 1, rules=("lrp",))


def test_class_maps_correlation_on_a_linear_model() -> None:
    """For a linear model every rule's map for class k is the weight row W_k."""
    torch.manual_seed(20)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.randn(2, 1, 3, 4)
    w = model[1].weight.detach().numpy()
    for rule in RULE_NAMES:
        maps = class_maps(model, x, rule)
        corr = pairwise_rank_correlation(maps)
        assert corr.shape == (2, 3, 3)
        for j in range(3):
            for k in range(3):
                expected = spearmanr(np.abs(w[j]), np.abs(w[k])).statistic
                np.testing.assert_allclose(corr[:, j, k], expected, atol=1e-12)
        signed = pairwise_rank_correlation(maps, absolute=False)
        assert float(signed[0, 0, 1]) == pytest.approx(spearmanr(w[0], w[1]).statistic)


# --- The chapter's network and its training ---


def test_make_cnn_layout() -> None:
    model = make_cnn(5, in_channels=3, widths=(4, 8), hidden=7, image_size=(12, 20))
    assert model(torch.zeros(2, 3, 12, 20)).shape == (2, 5)
    kinds = [type(m).__name__ for m in model]
    assert kinds == [
        "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
        "Flatten", "Linear", "ReLU", "Linear",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="too small"):
        make_cnn(2, widths=(4, 4, 4), image_size=(4, 4))
    with pytest.raises(ValueError, match=">= 1"):
        make_cnn(0)
    with pytest.raises(ValueError, match="downsample"):
        make_cnn(2, downsample="avg")


@pytest.mark.parametrize("side", [8, 9, 15])
def test_all_convolutional_variant(side: int) -> None:
    model = make_cnn(3, widths=(2, 3), hidden=4, image_size=(side, side), downsample="stride")
    assert not any(isinstance(m, nn.MaxPool2d) for m in model)
    assert [m.stride for m in model if isinstance(m, nn.Conv2d)] == [(2, 2), (2, 2)]
    x = torch.randn(2, 1, side, side)
    assert model(x).shape == (2, 3)
    for rule in RULE_NAMES:  # strided transposed convolutions in the layer-by-layer version
        assert_close(layerwise_attribute(model, x, 1, rule), captum(model, x, 1, rule))
    maps = attribute(model, x, 1, "deconvnet")
    assert torch.equal(maps[0], maps[1]), "no switches: DeconvNet ignores the image"


def test_layerwise_unpooling_keeps_dtype_and_a_non_square_shape() -> None:
    torch.manual_seed(21)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(2 * 3 * 5, 3),
    ).double()  # fmt: skip
    x = torch.randn(2, 1, 6, 10, dtype=torch.float64)
    for rule in RULE_NAMES:
        ours = layerwise_attribute(model, x, 1, rule)
        assert ours.dtype == torch.float64
        assert_close(ours, attribute(model, x, 1, rule))
