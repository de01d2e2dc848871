"""cnnbook.cnn1d, layer by layer: each ``*_forward`` against torch's own operation and each
``*_backward`` against torch autograd (a vector-Jacobian product with a random upstream
gradient), on random shapes. The whole-network gradients are tested in test_cnn1d.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnbook.cnn1d import (
    PARAM_NAMES,
    Spec,
    TrainingRun,
    avgpool_backward,
    avgpool_forward,
    bce_with_logits,
    check_params,
    conv_backward,
    conv_forward,
    dense_backward,
    dense_forward,
    init_params,
    minibatches,
    pad_forward,
    relu_backward,
    relu_forward,
    train_sgd,
)

TOL = 1e-12


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _vjp(out: torch.Tensor, dout: np.ndarray, *inputs: torch.Tensor) -> list[np.ndarray]:
    grads = torch.autograd.grad(out, inputs, grad_outputs=_t(dout))
    return [g.numpy() for g in grads]


@settings(deadline=None, max_examples=40)
@given(
    n=st.integers(1, 4),
    length=st.integers(1, 30),
    left=st.integers(0, 3),
    right=st.integers(0, 3),
    data=st.data(),
    stride=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_pad_and_conv_match_torch(
    n: int, length: int, left: int, right: int, data: st.DataObject, stride: int, seed: int
) -> None:
    kernel = data.draw(st.integers(1, min(5, left + length + right)), label="kernel")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, length))
    x_pad = pad_forward(x, left, right)
    np.testing.assert_array_equal(x_pad, F.pad(_t(x), (left, right)).numpy())
    W, b = rng.standard_normal(kernel), np.asarray(rng.standard_normal())
    c, cache = conv_forward(x_pad, W, b, stride)
    tx, tW, tb = _t(x_pad, True), _t(W, True), _t(b, True)
    ref = F.conv1d(tx[:, None], tW[None, None], tb[None], stride=stride)[:, 0]
    np.testing.assert_allclose(c, ref.detach().numpy(), rtol=TOL, atol=TOL)
    dout = rng.standard_normal(c.shape)
    dW, db = conv_backward(dout, cache)
    rW, rb = _vjp(ref, dout, tW, tb)
    np.testing.assert_allclose(dW, rW, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(db, rb, rtol=TOL, atol=TOL)


@settings(deadline=None, max_examples=40)
@given(
    n=st.integers(1, 4),
    length=st.integers(1, 30),
    data=st.data(),
    pool_stride=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_avgpool_matches_torch(
    n: int, length: int, data: st.DataObject, pool_stride: int, seed: int
) -> None:
    pool = data.draw(st.integers(1, min(4, length)), label="pool")
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((n, length))
    p, cache = avgpool_forward(r, pool, pool_stride)
    tr = _t(r, True)
    ref = F.avg_pool1d(tr[:, None], pool, stride=pool_stride)[:, 0]
    np.testing.assert_allclose(p, ref.detach().numpy(), rtol=TOL, atol=TOL)
    dout = rng.standard_normal(p.shape)
    (rr,) = _vjp(ref, dout, tr)
    np.testing.assert_allclose(avgpool_backward(dout, cache), rr, rtol=TOL, atol=TOL)


@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 20)), seed=st.integers(0, 2**16))
def test_relu_matches_torch_with_zero_gradient_at_the_kink(
    shape: tuple[int, int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    a.flat[0] = 0.0  # the kink: torch's convention (and the chapter's) is derivative 0
    out, cache = relu_forward(a)
    ta = _t(a, True)
    ref = torch.relu(ta)
    np.testing.assert_array_equal(out, ref.detach().numpy())
    dout = rng.standard_normal(shape)
    (ra,) = _vjp(ref, dout, ta)
    np.testing.assert_array_equal(relu_backward(dout, cache), ra)


@pytest.mark.parametrize("matrix", [True, False], ids=["FC1 (m, P)", "output unit (m,)"])
@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 5), p=st.integers(1, 12), m=st.integers(1, 6), seed=st.integers(0, 99))
def test_dense_matches_torch_linear(matrix: bool, n: int, p: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if matrix:
        v, W, b = rng.standard_normal((n, p)), rng.standard_normal((m, p)), rng.standard_normal(m)
    else:  # the output unit: v is h (N, m), W is W_F (m,), b is b_F ()
        v, W, b = rng.standard_normal((n, m)), rng.standard_normal(m), np.asarray(0.3)
    out, cache = dense_forward(v, W, b)
    tv, tW, tb = _t(v, True), _t(W, True), _t(b, True)
    ref = tv @ tW.T + tb if matrix else tv @ tW + tb
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=TOL, atol=TOL)
    dout = rng.standard_normal(out.shape)
    dv, dW, db = dense_backward(dout, cache)
    for ours, theirs in zip((dv, dW, db), _vjp(ref, dout, tv, tW, tb), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL)


# Away from saturation: there torch's z - y itself loses digits (test_cnn1d.py checks that
# regime against the exact sigmoid).
@given(
    a=st.lists(st.floats(-10, 10), min_size=1, max_size=8),
    seed=st.integers(0, 99),
)
def test_bce_with_logits_matches_torch(a: list[float], seed: int) -> None:
    logits = np.array(a)
    y = np.random.default_rng(seed).integers(0, 2, logits.shape).astype(np.float64)
    cost, delta = bce_with_logits(logits, y)
    ta = _t(logits, True)
    ref = F.binary_cross_entropy_with_logits(ta, _t(y), reduction="sum")
    assert cost == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    (rd,) = torch.autograd.grad(ref, ta)
    np.testing.assert_allclose(delta, rd.numpy(), rtol=1e-9, atol=1e-300)


def test_check_params_accepts_init_and_rejects_bad_dicts() -> None:
    spec = Spec(length=20, hidden=3)
    params = init_params(spec, seed=1)
    checked = check_params(spec, params)
    assert set(checked) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(checked[name], params[name])
    with pytest.raises(ValueError, match="W_A"):
        check_params(spec, {k: v for k, v in params.items() if k != "W_A"})
    with pytest.raises(ValueError, match="W_C"):
        check_params(spec, {**params, "W_C": np.zeros(5)})
    with pytest.raises(ValueError, match="b_F"):
        check_params(spec, {**params, "b_F": np.asarray(np.nan)})


def test_training_run_records_every_step() -> None:
    spec = Spec(length=16, hidden=3)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 16)), (rng.random(8) < 0.5).astype(float)
    batches = minibatches(8, batch_size=4, epochs=2, seed=0)
    run = train_sgd(spec, init_params(spec, seed=0), x, y, lr=0.05, batches=batches)
    assert isinstance(run, TrainingRun)
    assert run.losses.shape == (4,)
    assert run.trajectory.shape[0] == 5
