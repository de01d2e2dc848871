"""cnnbook.cnn1d: shapes, parameter count, forward and hand-derived gradients against torch.

Oracles: a twin of the network assembled here from torch's own layers (independently of
``cnnbook.cnn1d.TorchTwin``), torch autograd, ``torch.autograd.gradcheck`` and central
differences.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import matplotlib as mpl
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnbook.cnn1d import (
    PARAM_NAMES,
    Spec,
    autograd_gradients,
    cost,
    cost_and_gradients,
    count_in_m,
    count_parameters,
    draw_network,
    flatten,
    forward,
    gradients,
    init_params,
    kink_clearance,
    minibatches,
    numerical_gradients,
    pre_activations,
    relative_error,
    torch_twin,
    train_sgd,
    train_sgd_torch,
)

mpl.use("Agg")


# --------------------------------------------------------------------------- oracle


def _twin(spec: Spec) -> nn.Sequential:
    """The same architecture in torch, built independently of cnnbook's arithmetic."""
    if spec.pad_left == spec.pad_right:
        layers: list[nn.Module] = [
            nn.Conv1d(1, 1, spec.kernel, stride=spec.stride, padding=spec.padding)
        ]
    else:
        layers = [
            nn.ZeroPad1d((spec.pad_left, spec.pad_right)),
            nn.Conv1d(1, 1, spec.kernel, stride=spec.stride),
        ]
    pool = nn.AvgPool1d(spec.pool, stride=spec.pool_stride)
    with torch.no_grad():
        probe = pool(nn.Sequential(*layers)(torch.zeros(1, 1, spec.length)))
    return nn.Sequential(
        *layers, nn.ReLU(), pool, nn.Flatten(), nn.Linear(probe.shape[-1], spec.hidden),
        nn.ReLU(), nn.Linear(spec.hidden, 1),
    ).double()  # fmt: skip


def _torch_layers(seq: nn.Sequential) -> tuple[nn.Conv1d, nn.Linear, nn.Linear]:
    conv = next(m for m in seq if isinstance(m, nn.Conv1d))
    fc1, out = (m for m in seq if isinstance(m, nn.Linear))
    return conv, fc1, out


def _loaded_twin(spec: Spec, params: dict[str, np.ndarray]) -> nn.Sequential:
    seq = _twin(spec)
    conv, fc1, out = _torch_layers(seq)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(params["W_C"]).reshape(1, 1, -1))
        conv.bias.copy_(torch.from_numpy(params["b_C"]).reshape(1))
        fc1.weight.copy_(torch.from_numpy(params["W_A"]))
        fc1.bias.copy_(torch.from_numpy(params["b_M"]))
        out.weight.copy_(torch.from_numpy(params["W_F"]).reshape(1, -1))
        out.bias.copy_(torch.from_numpy(params["b_F"]).reshape(1))
    return seq


def _autograd(spec: Spec, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray):
    """(z, gradients) of the independent twin: torch's layers, loss and autograd."""
    seq = _loaded_twin(spec, params)
    logit = seq(torch.from_numpy(x)[:, None, :])[:, 0]
    loss = nn.functional.binary_cross_entropy_with_logits(
        logit, torch.from_numpy(y), reduction="sum"
    )
    loss.backward()
    conv, fc1, out = _torch_layers(seq)
    grads = {
        "W_C": conv.weight.grad.reshape(-1), "b_C": conv.bias.grad.reshape(()),
        "W_A": fc1.weight.grad, "b_M": fc1.bias.grad,
        "W_F": out.weight.grad.reshape(-1), "b_F": out.bias.grad.reshape(()),
    }  # fmt: skip
    return torch.sigmoid(logit).detach().numpy(), {k: v.numpy() for k, v in grads.items()}


@st.composite
def specs(draw: st.DrawFn, max_length: int = 60, max_hidden: int = 8) -> Spec:
    kw = {
        "length": draw(st.integers(1, max_length)),
        "padding": draw(st.integers(0, 3)),
        "kernel": draw(st.integers(1, 5)),
        "stride": draw(st.integers(1, 3)),
        "pool": draw(st.integers(1, 4)),
        "pool_stride": draw(st.integers(1, 4)),
        "hidden": draw(st.integers(1, max_hidden)),
        "padding_right": draw(st.none() | st.integers(0, 3)),
    }
    spec = _valid(**kw)
    assume(spec is not None)
    return spec


def _valid(**kw: int | None) -> Spec | None:
    try:
        return Spec(**kw)
    except ValueError:
        return None


def _problem(spec: Spec, seed: int, n: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Parameters, inputs and labels drawn independently of the code under test."""
    rng = np.random.default_rng(seed)
    shapes = {
        "W_C": (spec.kernel,), "b_C": (), "W_A": (spec.hidden, spec.pooled_length),
        "b_M": (spec.hidden,), "W_F": (spec.hidden,), "b_F": (),
    }  # fmt: skip
    params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    x = rng.normal(size=(n, spec.length))
    y = rng.integers(0, 2, size=n).astype(np.float64)
    return params, x, y


# --------------------------------------------------------------------------- Spec and count


def test_assignment_network_numbers() -> None:
    spec = Spec(hidden=10)
    assert (spec.padded_length, spec.conv_length, spec.pooled_length) == (787, 786, 393)
    counts = count_parameters(spec)
    assert counts["total"] == 2 + 1 + 10 * 393 + 10 + 10 + 1
    assert counts["total"] == sum(p.numel() for p in _twin(spec).parameters())


def test_count_is_395m_plus_4_for_every_m() -> None:
    for m in (1, 2, 7, 16, 20, 100):
        assert count_parameters(Spec(hidden=m))["total"] == 395 * m + 4


def test_padding_at_one_end_only() -> None:
    spec = Spec(padding=1, padding_right=0, hidden=3)
    assert (spec.pad_left, spec.pad_right) == (1, 0)
    assert (spec.padded_length, spec.conv_length, spec.pooled_length) == (786, 785, 392)
    assert Spec().pad_right == Spec().pad_left == 1


def test_count_in_m_of_the_assignment_and_of_one_end_padding() -> None:
    """Hand-computed: 2 + 1 + 393 m + m + m + 1, and 392 pooled values with one zero."""
    assert count_in_m(Spec(hidden=7)) == {
        "W_C": (0, 2), "b_C": (0, 1), "W_A": (393, 0), "b_M": (1, 0),
        "W_F": (1, 0), "b_F": (0, 1), "total": (395, 4),
    }  # fmt: skip
    assert count_in_m(Spec(padding_right=0))["total"] == (394, 4)
    assert count_in_m(Spec(padding=0))["total"] == (394, 4)
    assert count_in_m(Spec(pool_stride=1))["total"] == (787, 4)


@settings(max_examples=40, deadline=None)
@given(spec=specs(max_hidden=3), m=st.integers(1, 40))
def test_count_in_m_predicts_the_torch_twin_at_any_width(spec: Spec, m: int) -> None:
    a, b = count_in_m(spec)["total"]
    wide = replace(spec, hidden=m)
    assert a * m + b == sum(p.numel() for p in _twin(wide).parameters())


@settings(max_examples=60, deadline=None)
@given(spec=specs())
def test_count_matches_torch_twin(spec: Spec) -> None:
    twin = _twin(spec)
    conv, fc1, _ = _torch_layers(twin)
    x = torch.zeros(1, 1, spec.length, dtype=torch.float64)
    conv_out = twin[: 1 if spec.pad_left == spec.pad_right else 2](x)
    assert conv_out.shape[-1] == spec.conv_length
    assert fc1.in_features == spec.pooled_length
    counts = count_parameters(spec)
    assert counts["total"] == sum(p.numel() for p in twin.parameters())
    assert counts["W_A"] == fc1.weight.numel()
    assert counts["W_C"] == conv.weight.numel()
    ours = torch_twin(spec, init_params(spec))
    assert counts["total"] == sum(p.numel() for p in ours.parameters())


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"length": 0}, "length"),
        ({"padding": -1}, "padding"),
        ({"padding_right": -1}, "padding_right"),
        ({"length": 2, "padding": 0, "kernel": 3}, "Conv1 comes out empty"),
        ({"length": 2, "padding": 1, "padding_right": 0, "kernel": 4}, "Conv1 comes out empty"),
        ({"length": 3, "padding": 0, "kernel": 2, "pool": 3}, "AVGPOOL1 comes out empty"),
        ({"hidden": 0}, "hidden"),
        ({"stride": 0}, "stride"),
        ({"pool_stride": 0}, "pool_stride"),
        ({"kernel": 2.0}, "integer"),
        ({"hidden": True}, "integer"),
        ({"padding_right": 0.5}, "integer"),
    ],
)
def test_bad_spec_is_rejected(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Spec(**kw)


# --------------------------------------------------------------------------- init_params


@settings(max_examples=30, deadline=None)
@given(spec=specs(), seed=st.integers(0, 2**16))
def test_init_params_shapes_and_bounds(spec: Spec, seed: int) -> None:
    params = init_params(spec, seed=seed)
    shapes = {
        "W_C": (spec.kernel,), "b_C": (), "W_A": (spec.hidden, spec.pooled_length),
        "b_M": (spec.hidden,), "W_F": (spec.hidden,), "b_F": (),
    }  # fmt: skip
    assert {k: v.shape for k, v in params.items()} == shapes
    assert all(v.dtype == np.float64 for v in params.values())
    fan_in = {"C": spec.kernel, "A": spec.pooled_length, "M": spec.pooled_length}
    fan_in["F"] = spec.hidden
    for name, value in params.items():
        assert np.all(np.abs(value) <= 1 / math.sqrt(fan_in[name[-1]]))
    assert sum(v.size for v in params.values()) == count_parameters(spec)["total"]
    again = init_params(spec, seed=seed)
    assert all(np.array_equal(params[k], again[k]) for k in params)


def test_init_params_seed_changes_draws() -> None:
    spec = Spec(hidden=4)
    assert not np.array_equal(init_params(spec, 0)["W_A"], init_params(spec, 1)["W_A"])


# --------------------------------------------------------------------------- forward and gradients


@settings(max_examples=60, deadline=None)
@given(spec=specs(), seed=st.integers(0, 2**16), n=st.integers(1, 4))
def test_forward_matches_torch_layers(spec: Spec, seed: int, n: int) -> None:
    params, x, y = _problem(spec, seed, n)
    z_torch, _ = _autograd(spec, params, x, y)
    z = forward(spec, params, x)
    assert z.shape == (n,)
    np.testing.assert_allclose(z, z_torch, rtol=1e-12, atol=1e-15)
    single = forward(spec, params, x[0])
    assert isinstance(single, np.ndarray)
    assert single.shape == ()
    assert single == pytest.approx(z[0], rel=1e-13)


@settings(max_examples=80, deadline=None)
@given(spec=specs(), seed=st.integers(0, 2**16), n=st.integers(1, 4))
def test_gradients_match_torch_autograd(spec: Spec, seed: int, n: int) -> None:
    params, x, y = _problem(spec, seed, n)
    z, reference = _autograd(spec, params, x, y)
    # torch computes z - y as sigmoid(a) - y, which loses the digits of a saturated
    # sigmoid when y = 1; the saturated regime has its own tests below.
    assume(np.all(np.minimum(z, 1 - z) > 1e-4))
    ours = gradients(spec, params, x, y)
    assert set(ours) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        assert ours[name].shape == params[name].shape, name
        assert relative_error(ours[name], reference[name]) <= 1e-10, name


@settings(max_examples=30, deadline=None)
@given(spec=specs(), seed=st.integers(0, 2**16), n=st.integers(1, 4))
def test_cost_and_gradients_match_torch_loss_and_autograd(spec: Spec, seed: int, n: int) -> None:
    params, x, y = _problem(spec, seed, n)
    z, reference = _autograd(spec, params, x, y)
    assume(np.all(np.minimum(z, 1 - z) > 1e-4))
    literal = float(np.sum(-y * np.log(z) - (1 - y) * np.log(1 - z)))
    total, grads = cost_and_gradients(spec, params, x, y)
    assert total == pytest.approx(literal, rel=1e-10)
    for name in PARAM_NAMES:
        assert relative_error(grads[name], reference[name]) <= 1e-10, name
    single_total, _ = cost_and_gradients(spec, params, x[0], y[0])
    assert single_total == pytest.approx(cost(spec, params, x[0], y[0]), rel=1e-13)


@settings(max_examples=30, deadline=None)
@given(spec=specs(), seed=st.integers(0, 2**16))
def test_batch_gradient_is_sum_of_single_example_gradients(spec: Spec, seed: int) -> None:
    params, x, y = _problem(spec, seed, 3)
    batch = gradients(spec, params, x, y)
    singles = [gradients(spec, params, x[i], y[i]) for i in range(3)]
    for name in PARAM_NAMES:
        assert singles[0][name].shape == params[name].shape
        np.testing.assert_allclose(
            batch[name], sum(s[name] for s in singles), rtol=1e-12, atol=1e-12
        )


def test_cost_is_the_assignments_binary_cross_entropy() -> None:
    spec = Spec(length=30, hidden=3)
    params, x, y = _problem(spec, 5, 6)
    z = forward(spec, params, x)
    literal = float(np.sum(-y * np.log(z) - (1 - y) * np.log(1 - z)))
    assert cost(spec, params, x, y) == pytest.approx(literal, rel=1e-12)
    assert cost(spec, params, x[0], y[0]) == pytest.approx(literal_one(z[0], y[0]), rel=1e-12)


def literal_one(z: float, y: float) -> float:
    return float(-y * np.log(z) - (1 - y) * np.log(1 - z))


def test_saturated_output_gives_finite_cost_and_gradients() -> None:
    spec = Spec(length=20, hidden=2)
    params, x, _ = _problem(spec, 1, 2)
    params["b_F"] = np.asarray(800.0)
    y = np.zeros(2)
    assert np.isfinite(cost(spec, params, x, y))
    grads = gradients(spec, params, x, y)
    assert all(np.isfinite(g).all() for g in grads.values())
    assert grads["b_F"] == pytest.approx(2.0)  # dCost/dz_hat = z - y = 1 for each example


def test_saturated_output_matches_torch_where_torch_is_exact() -> None:
    """For y = 0 torch's delta sigmoid(a) - 0 is exact even when sigmoid(a) is tiny."""
    spec = Spec(length=20, hidden=4)
    params, x, _ = _problem(spec, 2, 3)
    params["b_F"] = np.asarray(-30.0)
    y = np.zeros(3)
    z, reference = _autograd(spec, params, x, y)
    assert np.all(z < 1e-10)
    ours = gradients(spec, params, x, y)
    for name in PARAM_NAMES:
        assert relative_error(ours[name], reference[name]) <= 1e-10, name


@settings(max_examples=20, deadline=None)
@given(spec=specs(max_length=30), seed=st.integers(0, 2**16), shift=st.floats(-60, 60))
def test_flipping_output_sign_and_labels_leaves_the_cost(
    spec: Spec, seed: int, shift: float
) -> None:
    """a -> -a with y -> 1 - y is a symmetry of the cost; it holds in saturation too."""
    params, x, y = _problem(spec, seed, 3)
    params["b_F"] = np.asarray(shift)
    flipped = {**params, "W_F": -params["W_F"], "b_F": -params["b_F"]}
    ours, mirror = gradients(spec, params, x, y), gradients(spec, flipped, x, 1 - y)
    assert cost(spec, params, x, y) == cost(spec, flipped, x, 1 - y)
    for name in PARAM_NAMES:
        sign = -1.0 if name in ("W_F", "b_F") else 1.0
        np.testing.assert_array_equal(ours[name], sign * mirror[name])


class _HandCost(torch.autograd.Function):
    """Cost computed by numpy whose backward is the hand-derived ``gradients``."""

    @staticmethod
    def forward(ctx, spec, x, y, *tensors):  # type: ignore[override]
        params = {n: t.detach().numpy() for n, t in zip(PARAM_NAMES, tensors, strict=True)}
        ctx.grads = gradients(spec, params, x, y)
        return torch.tensor(cost(spec, params, x, y), dtype=torch.float64)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        hand = (grad_out * torch.from_numpy(ctx.grads[n]) for n in PARAM_NAMES)
        return (None, None, None, *hand)


@settings(max_examples=15, deadline=None)
@given(spec=specs(max_length=30, max_hidden=4), seed=st.integers(0, 2**16))
def test_gradients_pass_torch_gradcheck(spec: Spec, seed: int) -> None:
    params, x, y = _problem(spec, seed, 2)
    assume(kink_clearance(spec, params, x, 1e-6) > 1)
    tensors = tuple(torch.from_numpy(params[n]).requires_grad_() for n in PARAM_NAMES)
    assert torch.autograd.gradcheck(
        lambda *t: _HandCost.apply(spec, x, y, *t), tensors, eps=1e-6, atol=1e-7, rtol=1e-5
    )


# ------------------------------------------------------------- central differences and kinks


@settings(max_examples=20, deadline=None)
@given(spec=specs(max_length=30, max_hidden=4), seed=st.integers(0, 2**16))
def test_central_differences_agree_where_no_relu_switches(spec: Spec, seed: int) -> None:
    params, x, y = _problem(spec, seed, 2)
    assume(kink_clearance(spec, params, x, 1e-6) > 1)
    numerical = numerical_gradients(spec, params, x, y, step=1e-6)
    hand = gradients(spec, params, x, y)
    # A central difference rounds to about eps * Cost / h = 2e-10 * Cost in absolute terms,
    # which no relative bound can beat for a group whose gradient is itself that small.
    rounding = 1e-8 * max(1.0, cost(spec, params, x, y))
    for name in PARAM_NAMES:
        gap = np.max(np.abs(hand[name] - numerical[name]))
        assert gap <= 1e-6 * np.max(np.abs(numerical[name])) + rounding, name


def _masks(spec: Spec, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    c, u = pre_activations(spec, params, x)
    return np.concatenate([(c > 0).ravel(), (u > 0).ravel()])


@settings(max_examples=40, deadline=None)
@given(
    spec=specs(max_length=30, max_hidden=4),
    seed=st.integers(0, 2**16),
    step=st.sampled_from([1e-3, 1e-2, 1e-1, 0.5]),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_kink_clearance_above_one_means_no_relu_switches(
    spec: Spec, seed: int, step: float, sign: float
) -> None:
    params, x, _ = _problem(spec, seed, 2)
    assume(kink_clearance(spec, params, x, step) > 1)
    before = _masks(spec, params, x)
    for name in PARAM_NAMES:
        for i in range(params[name].size):
            moved = {k: v.copy() for k, v in params.items()}
            moved[name].reshape(-1)[i] += sign * step
            assert np.array_equal(_masks(spec, moved, x), before), (name, i)


def test_kink_clearance_detects_a_kink_and_central_differences_then_fail() -> None:
    spec = Spec(length=12, hidden=3)
    params, _, _ = _problem(spec, 3, 1)
    params["b_C"] = np.asarray(0.0)  # with x = 0 every conv pre-activation is exactly 0
    params["b_M"] = np.abs(params["b_M"]) + 1.0  # FC1 stays on, so the kink reaches the cost
    x, y = np.zeros((1, 12)), np.ones(1)
    assert kink_clearance(spec, params, x, 1e-6) == 0.0
    hand = gradients(spec, params, x, y)["b_C"]
    numerical = numerical_gradients(spec, params, x, y, step=1e-6)["b_C"]
    assert hand == 0.0  # the convention of torch: ReLU'(0) = 0
    assert abs(numerical) > 1e-3  # a one-sided slope shows up in the central difference


def test_kink_clearance_counts_the_reach_of_W_C_into_FC1() -> None:
    """A move of W_C shifts every c_j, hence every p_q, and u by |W_A[k]|_1 times as much.

    Computed by hand: x = 10 everywhere, k = w = 1, W_C = 1, b_C = 0, so c = p = 10 at all
    5 positions; W_A = 1, so u = 50 + b_M = 0.02. Moving W_C down by 1e-3 lowers u by
    5 * 10 * 1e-3 = 0.05: FC1's ReLU switches off. A bound that forgot W_C's reach into
    FC1 (step * max |p| = 0.01) would report a clearance of 2.
    """
    spec = Spec(length=5, padding=0, kernel=1, pool=1, pool_stride=1, hidden=1)
    params = {
        "W_C": np.array([1.0]), "b_C": np.asarray(0.0), "W_A": np.ones((1, 5)),
        "b_M": np.array([0.02 - 50.0]), "W_F": np.array([1.0]), "b_F": np.asarray(0.0),
    }  # fmt: skip
    x = np.full((1, 5), 10.0)
    step = 1e-3

    def u(w_c: float) -> float:  # FC1's pre-activation, by hand
        return float(np.maximum(w_c * x[0] + 0.0, 0.0).sum() + params["b_M"][0])

    assert u(1.0) > 0 > u(1.0 - step)  # a real switch within one step
    assert kink_clearance(spec, params, x, step) == pytest.approx(0.02 / (step * 50.0))
    assert kink_clearance(spec, params, x, step) <= 1


def test_relative_error() -> None:
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), np.zeros(3)) == math.inf
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 4.0])) == 0.5
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.zeros(2), np.zeros(3))


@pytest.mark.parametrize("step", [0.0, -1e-6, math.nan, math.inf])
def test_bad_step_is_rejected(step: float) -> None:
    spec = Spec(length=8, hidden=2)
    params, x, y = _problem(spec, 0, 1)
    with pytest.raises(ValueError, match="step"):
        numerical_gradients(spec, params, x, y, step=step)
    with pytest.raises(ValueError, match="step"):
        kink_clearance(spec, params, x, step=step)


# --------------------------------------------------------------------------- torch twin


@settings(max_examples=25, deadline=None)
@given(spec=specs(), seed=st.integers(0, 2**16))
def test_torch_twin_matches_independent_twin(spec: Spec, seed: int) -> None:
    params, x, y = _problem(spec, seed, 3)
    twin = torch_twin(spec, params)
    assert all(p.dtype == torch.float64 for p in twin.parameters())
    assert all(np.array_equal(twin.params()[k], params[k]) for k in PARAM_NAMES)
    z_ref, grads_ref = _autograd(spec, params, x, y)
    z = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-15)
    grads = autograd_gradients(twin, torch.from_numpy(x), torch.from_numpy(y))
    for name in PARAM_NAMES:
        assert relative_error(grads[name], grads_ref[name]) <= 1e-12, name
    again = autograd_gradients(twin, torch.from_numpy(x), torch.from_numpy(y))
    assert all(np.array_equal(grads[k], again[k]) for k in PARAM_NAMES)  # no accumulation


# --------------------------------------------------------------------------- bad input


def _base() -> tuple[Spec, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    spec = Spec(length=10, hidden=2)
    params, x, y = _problem(spec, 0, 3)
    return spec, params, x, y


def _with(params: dict[str, np.ndarray], **changes: object) -> dict[str, object]:
    out: dict[str, object] = dict(params)
    for key, value in changes.items():
        if value is None:
            del out[key]
        else:
            out[key] = value
    return out


BAD_X = [
    (np.zeros((3, 9)), "length"),
    (np.zeros((2, 3, 10)), "shape"),
    (np.zeros(()), "shape"),
    (np.zeros((0, 10)), "no examples"),
    (np.full((3, 10), np.nan), "non-finite"),
    (np.full((3, 10), np.inf), "non-finite"),
    (np.zeros((3, 10), dtype=complex), "real"),
    (np.array([["a"] * 10] * 3), "real"),
]


@pytest.mark.parametrize(("x", "message"), BAD_X)
def test_bad_x_is_rejected(x: np.ndarray, message: str) -> None:
    spec, params, _, y = _base()
    with pytest.raises(ValueError, match=message):
        forward(spec, params, x)
    with pytest.raises(ValueError, match=message):
        gradients(spec, params, x, y)
    with pytest.raises(ValueError, match=message):
        cost(spec, params, x, y)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([0.0, 1.0, 0.5]), "0 or 1"),
        (np.array([0.0, 2.0, 1.0]), "0 or 1"),
        (np.array([-1.0, 0.0, 1.0]), "0 or 1"),
        (np.array([0.0, np.nan, 1.0]), "non-finite"),
        (np.array([0.0, 1.0]), "shape"),
        (np.array(1.0), "shape"),
        (np.zeros((3, 1)), "shape"),
    ],
)
def test_bad_y_is_rejected(y: np.ndarray, message: str) -> None:
    spec, params, x, _ = _base()
    with pytest.raises(ValueError, match=message):
        gradients(spec, params, x, y)
    with pytest.raises(ValueError, match=message):
        cost(spec, params, x, y)


def test_single_example_needs_scalar_label() -> None:
    spec, params, x, _ = _base()
    with pytest.raises(ValueError, match="shape"):
        gradients(spec, params, x[0], np.array([1.0]))
    assert gradients(spec, params, x[0], 1)["W_C"].shape == (spec.kernel,)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"W_C": None}, "missing"),
        ({"b_F": None}, "missing"),
        ({"W_D": np.zeros(2)}, "unexpected"),
        ({"W_C": np.zeros(3)}, "shape"),
        ({"b_C": np.zeros(1)}, "shape"),
        ({"W_A": np.zeros((4, 2))}, "shape"),
        ({"W_F": np.zeros((2, 1))}, "shape"),
        ({"b_M": np.array([np.nan, 0.0])}, "non-finite"),
        ({"W_C": np.array([np.inf, 0.0])}, "non-finite"),
        ({"b_F": np.array(1j)}, "real"),
    ],
)
def test_bad_params_are_rejected(changes: dict[str, object], message: str) -> None:
    spec, params, x, y = _base()
    bad = _with(params, **changes)
    for call in (
        lambda: forward(spec, bad, x),
        lambda: gradients(spec, bad, x, y),
        lambda: cost(spec, bad, x, y),
        lambda: torch_twin(spec, bad),
        lambda: kink_clearance(spec, bad, x, 1e-6),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def test_params_must_be_a_dict() -> None:
    spec, params, x, _ = _base()
    with pytest.raises(ValueError, match="dict"):
        forward(spec, list(params.values()), x)  # type: ignore[arg-type]


def test_no_warning_and_no_nan_on_extreme_inputs() -> None:
    spec, params, x, y = _base()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grads = gradients(spec, params, 1e150 * x, y)
        z = forward(spec, params, -1e150 * x)
    assert all(np.isfinite(g).all() for g in grads.values())
    assert np.isfinite(z).all()


# --------------------------------------------------------------------------- training


def test_minibatches() -> None:
    batches = minibatches(10, 3, epochs=2, seed=1)
    assert len(batches) == 6
    for epoch in (batches[:3], batches[3:]):
        seen = np.concatenate(epoch)
        assert seen.size == len(set(seen.tolist())) == 9
    assert all(np.array_equal(a, b) for a, b in zip(batches, minibatches(10, 3, 2, 1), strict=True))
    for bad in ({"batch_size": 0}, {"batch_size": 11}, {"epochs": 0}):
        kw = {"n": 10, "batch_size": 3, "epochs": 1} | bad
        with pytest.raises(ValueError, match=next(iter(bad))):
            minibatches(**kw)


def _reference_sgd(
    spec: Spec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    lr: float,
    batches: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Oracle: torch.optim.SGD on the independent twin; (mean losses, parameter trajectory).

    Written here from torch's layers, loss and optimiser alone: the trajectory is laid out
    in the order of PARAM_NAMES by hand, without the package's flatten().
    """
    seq = _loaded_twin(spec, params)
    conv, fc1, out = _torch_layers(seq)
    optimiser = torch.optim.SGD(seq.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x)[:, None, :], torch.from_numpy(y)

    def row() -> np.ndarray:
        order = (conv.weight, conv.bias, fc1.weight, fc1.bias, out.weight, out.bias)
        return torch.cat([p.detach().reshape(-1) for p in order]).numpy().copy()

    losses, trajectory = [], []
    for batch in batches:
        trajectory.append(row())
        optimiser.zero_grad()
        logit = seq(xt[batch])[:, 0]
        loss = nn.functional.binary_cross_entropy_with_logits(logit, yt[batch], reduction="sum")
        loss.backward()
        optimiser.step()
        losses.append(loss.item() / len(batch))
    trajectory.append(row())
    return np.array(losses), np.stack(trajectory)


def test_sgd_with_hand_gradients_follows_torch_sgd_step_for_step() -> None:
    spec = Spec(length=40, kernel=3, pool=3, pool_stride=2, hidden=4)
    params, x, y = _problem(spec, 7, 32)
    order = np.random.default_rng(2).permutation(np.tile(np.arange(32), 3).reshape(3, 32), axis=1)
    batches = list(order.reshape(12, 8))  # three epochs of four batches, drawn here
    losses, trajectory = _reference_sgd(spec, params, x, y, 0.01, batches)
    ends = np.cumsum([params[name].size for name in PARAM_NAMES])[:-1]
    assert trajectory.shape == (13, sum(p.size for p in params.values()))
    assert not np.allclose(trajectory[0], trajectory[-1])
    for run in (
        train_sgd(spec, params, x, y, lr=0.01, batches=batches),
        train_sgd_torch(torch_twin(spec, params), x, y, lr=0.01, batches=batches),
    ):
        np.testing.assert_allclose(run.losses, losses, rtol=1e-12, atol=0)
        np.testing.assert_allclose(run.trajectory, trajectory, rtol=0, atol=1e-12)
        for name, last in zip(PARAM_NAMES, np.split(trajectory[-1], ends), strict=True):
            np.testing.assert_allclose(run.params[name].reshape(-1), last, rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(spec=specs(max_length=30, max_hidden=4), seed=st.integers(0, 2**16))
def test_a_small_step_against_the_gradient_lowers_the_cost_by_its_norm(
    spec: Spec, seed: int
) -> None:
    """The directional derivative along -g is -|g|^2: the first-order promise of SGD."""
    params, x, y = _problem(spec, seed, 2)
    grads = gradients(spec, params, x, y)
    norm = float(np.linalg.norm(flatten(grads)))
    assume(norm > 1e-3)
    h = 1e-6
    # A unit step in L2 moves the parameters by at most sqrt(n) in L1; the clearance's bounds
    # are linear in that L1 move (up to second-order terms, covered by the factor 2).
    n_params = count_parameters(spec)["total"]
    assume(kink_clearance(spec, params, x, 2 * h * math.sqrt(n_params)) > 1)
    moved = {k: params[k] - h * grads[k] / norm for k in PARAM_NAMES}
    back = {k: params[k] + h * grads[k] / norm for k in PARAM_NAMES}
    slope = (cost(spec, back, x, y) - cost(spec, moved, x, y)) / (2 * h)
    assert slope == pytest.approx(norm, rel=1e-5)


# --------------------------------------------------------------------------- figure 1


@pytest.mark.parametrize(
    "spec",
    [
        Spec(),
        Spec(hidden=16),
        Spec(length=12, padding_right=0, kernel=3, hidden=2),
        Spec(length=40, stride=2, pool=3, pool_stride=2, hidden=5),
        Spec(length=1, padding=0, kernel=1, pool=1, hidden=1),
    ],
)
def test_draw_network_labels_every_size(spec: Spec) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draw_network(ax, spec)
        fig.canvas.draw()
    text = " ".join(t.get_text() for t in ax.texts)
    for size in (spec.padded_length, spec.conv_length, spec.pooled_length, spec.hidden):
        assert f"= {size}" in text
    hatched = [p for p in ax.patches if p.get_hatch()]
    covered = (spec.pooled_length - 1) * spec.pool_stride + spec.pool
    assert bool(hatched) == (covered < spec.conv_length)
    plt.close(fig)
