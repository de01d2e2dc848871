"""cnnbook.inversion and the decoders' training: chapter 2's up-convolutional idea.

Oracles: the up-convolution written with torch's primitives (zero insertion, padding,
``F.conv2d`` with the flipped kernel, the leaky ReLU by ``torch.where``); the linear
decoder by ``torch.linalg.lstsq`` and numpy's ``lstsq`` on the augmented system; the named
layers by slicing by hand and by forward hooks; the measures by numpy formulas.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import artifacts, recipes, training
from cnnbook.data import shapes_task
from cnnbook.hashing import recipe_hash
from cnnbook.inversion import (
    LEAK,
    UpConv,
    background_plane,
    centroid,
    feature_layers,
    features,
    fit_linear_decoder,
    fit_linear_decoders,
    make_decoder,
    masked_correlation,
    mse,
    plane_residual,
)
from cnnbook.models import make_cnn
from cnnbook.recipes import Q2_DECODER_LAYERS, Q2_DECODER_SEEDS, RECIPES
from cnnbook.training import decoder_adam_cosine

# --- the up-convolution and the decoders ---------------------------------------------


def _zero_insert(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, 2 * h - 1, 2 * w - 1)
    out[:, :, ::2, ::2] = x
    return out


def test_upconv_is_zero_insertion_then_convolution() -> None:
    torch.manual_seed(0)
    block = UpConv(3, 4).double()
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    conv = block[0]
    assert isinstance(conv, nn.ConvTranspose2d)
    kernel = conv.weight.transpose(0, 1).flip(2, 3)  # (out, in, 4, 4)
    padded = F.pad(_zero_insert(x), (2, 2, 2, 2))  # kernel - 1 - padding on each side
    linear = F.conv2d(padded, kernel, conv.bias)
    expected = torch.where(linear > 0, linear, LEAK * linear)
    out = block(x)
    assert out.shape == (2, 4, 10, 12)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [*Q2_DECODER_LAYERS.values(), (1, 32, 32)])
def test_decoder_maps_each_layer_to_an_image(shape: tuple[int, ...]) -> None:
    decoder = make_decoder(shape)
    out = decoder(torch.randn(3, *shape))
    assert out.shape == (3, 1, 32, 32)
    n_up = sum(isinstance(m, UpConv) for m in decoder)
    side = shape[1] if len(shape) == 3 else 4
    assert 2**n_up * side == 32


@pytest.mark.parametrize("shape", [(8, 16, 12), (8, 12, 12), (8, 64, 64), (4, 4), (0,)])
def test_decoder_refuses_shapes_it_cannot_upsample(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"in_shape|up-sample"):
        make_decoder(shape)


def test_decoder_trained_on_the_image_itself_reconstructs_held_out_images() -> None:
    """Layer 0 (the identity): the training loop must learn a near-identity map."""
    data = shapes_task(n_train=300, n_test=100, size=32, seed=5)
    x = torch.from_numpy(data["train"].x)
    x_test = torch.from_numpy(data["test"].x).double()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the tool trains; and more threads only wait on 2 cores
    try:
        runs = []
        for _ in range(2):  # a short run, twice
            torch.manual_seed(0)
            runs.append(decoder_adam_cosine(make_decoder((1, 32, 32)), x[:64], x[:64], epochs=2))
        torch.manual_seed(0)
        decoder = make_decoder((1, 32, 32))
        losses = decoder_adam_cosine(decoder, x, x, epochs=30, batch_size=32, lr=1e-2, seed=3)
    finally:
        torch.set_num_threads(threads)
    assert runs[0] == runs[1], "deterministic on one machine"
    assert losses[-1] < 0.1 * losses[0]
    assert not decoder.training
    with torch.no_grad():
        error = mse(decoder.double()(x_test), x_test).mean()
    baseline = mse(x.double().mean(dim=0).expand_as(x_test), x_test).mean()
    assert float(error / baseline) < 0.02, "within 2 % of the mean image's squared error"
    with pytest.raises(ValueError, match="mismatched dims"):
        decoder_adam_cosine(decoder, x[:5], x[:4])
    with pytest.raises(ValueError, match="epochs"):
        decoder_adam_cosine(decoder, x, x, epochs=0)


# --- the named layers ----------------------------------------------------------------

#: make_cnn((8, 16, 32)) by hand: conv, relu, pool three times, flatten, fc, relu, fc.
_BY_HAND = {
    "image": 0,
    "conv1": 2,
    "block1": 3,
    "conv2": 5,
    "block2": 6,
    "conv3": 8,
    "block3": 9,
    "fc1": 12,
    "logits": 13,
}


def test_named_layers_equal_slicing_by_hand_and_hooks() -> None:
    torch.manual_seed(1)
    model = make_cnn(3).double().eval()
    assert feature_layers(model) == _BY_HAND
    x = torch.randn(4, 1, 32, 32, dtype=torch.float64)
    recorded: dict[int, torch.Tensor] = {}
    handles = [
        m.register_forward_hook(lambda _m, _i, out, k=k: recorded.setdefault(k, out))
        for k, m in enumerate(model)
    ]
    with torch.no_grad():
        model(x)
        for name, end in _BY_HAND.items():
            out = features(model, name)(x)
            assert torch.equal(out, model[:end](x))
            assert torch.equal(out, recorded[end - 1] if end else x), name
    for h in handles:
        h.remove()
    assert features(model, "block2")[0] is model[0], "a view of the model, not a copy"
    assert list(features(model, "fc1").state_dict()) == list(model.state_dict())[:8]
    with pytest.raises(KeyError, match="no layer"):
        features(model, "block4")
    with pytest.raises(ValueError, match="make_cnn"):
        feature_layers(nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU()))
    with pytest.raises(TypeError, match="make_cnn"):
        feature_layers(nn.Conv2d(1, 1, 3))


def test_named_layers_of_the_strided_variant() -> None:
    model = make_cnn(3, widths=(4, 8), hidden=5, downsample="stride")
    # conv, relu, conv, relu, flatten, fc, relu, fc
    names = {"image": 0, "conv1": 2, "block1": 2, "conv2": 4, "block2": 4, "fc1": 7, "logits": 8}
    assert feature_layers(model) == names


def test_the_committed_cnn_loads_with_named_layers() -> None:
    model = training.load("q2_cnn", retrain=False).model
    assert feature_layers(model) == _BY_HAND
    shapes = {
        name: features(model, name)(torch.zeros(1, 1, 32, 32).double()).shape[1:]
        for name in Q2_DECODER_LAYERS
    }
    assert shapes == {name: torch.Size(s) for name, s in Q2_DECODER_LAYERS.items()}


# --- the linear baseline -------------------------------------------------------------


def _regression(seed: int, n: int = 40, d: int = 6, p: int = 5) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    phi = torch.randn(n, d, generator=g, dtype=torch.float64) * 3 + 1
    images = torch.randn(n, 1, p, 1, generator=g, dtype=torch.float64)
    return phi, images


def test_linear_decoder_is_least_squares() -> None:
    phi, images = _regression(0)
    decoder = fit_linear_decoder(phi, images)
    design = torch.cat([phi, torch.ones(len(phi), 1, dtype=phi.dtype)], dim=1)
    solution = torch.linalg.lstsq(design, images.reshape(len(phi), -1)).solution
    torch.testing.assert_close(decoder.weight, solution[:-1], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(decoder.bias, solution[-1], rtol=1e-10, atol=1e-10)
    fitted = (design @ solution).reshape(images.shape)
    torch.testing.assert_close(decoder(phi), fitted, rtol=1e-10, atol=1e-10)


def test_ridge_decoder_solves_the_augmented_system() -> None:
    phi, images = _regression(1)
    ridge = 0.3
    decoder = fit_linear_decoder(phi, images, ridge)
    f, x = phi.numpy(), images.reshape(len(phi), -1).numpy()
    fc = f - f.mean(axis=0)
    lam = ridge * np.trace(fc.T @ fc) / f.shape[1]
    # rows sqrt(lam) * I penalise the weights; the bias column gets a zero there
    design = np.block(
        [[f, np.ones((len(f), 1))], [np.sqrt(lam) * np.eye(f.shape[1]), np.zeros((f.shape[1], 1))]]
    )
    target = np.vstack([x, np.zeros((f.shape[1], x.shape[1]))])
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(decoder.weight.numpy(), solution[:-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(decoder.bias.numpy(), solution[-1], rtol=1e-9, atol=1e-12)
    several = fit_linear_decoders(phi, images, (0.0, ridge))
    for one, r in zip(several, (0.0, ridge), strict=True):
        torch.testing.assert_close(one.weight, fit_linear_decoder(phi, images, r).weight)
    with pytest.raises(ValueError, match="ridge"):
        fit_linear_decoder(phi, images, -1.0)
    with pytest.raises(ValueError, match="ridge"):
        fit_linear_decoders(phi, images, ())
    with pytest.raises(ValueError, match="mismatched dims"):
        fit_linear_decoder(phi[:3], images)


# --- the measures ----------------------------------------------------------------------


def test_mse_is_the_mean_of_squares() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 1, 4, 5)), rng.normal(size=(3, 1, 4, 5))
    expected = ((a - b) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(mse(torch.from_numpy(a), torch.from_numpy(b)), expected, 1e-13)
    with pytest.raises(ValueError, match="shapes differ"):
        mse(torch.zeros(2, 3), torch.zeros(2, 4))


def test_centroid_is_the_weighted_mean_position() -> None:
    rng = np.random.default_rng(1)
    w = rng.uniform(size=(4, 6, 7))
    w[0] = 0.0
    w[0, 2, 5] = 3.0  # one pixel: its own position
    for i in range(4):
        rows, cols = np.nonzero(np.ones((6, 7)))
        expected = np.average(rows, weights=w[i].ravel()), np.average(cols, weights=w[i].ravel())
        np.testing.assert_allclose(centroid(torch.from_numpy(w))[i], expected, rtol=1e-12)
    assert centroid(torch.from_numpy(w))[0].tolist() == [2.0, 5.0]
    with pytest.raises(ValueError, match="non-negative"):
        centroid(-torch.ones(1, 2, 2))


def test_background_plane_is_least_squares_outside_the_mask() -> None:
    rng = np.random.default_rng(2)
    images = rng.normal(size=(3, 8, 9))
    masks = rng.uniform(size=(3, 8, 9)) < 0.3
    rows, cols = np.mgrid[0:8, 0:9]
    planes = background_plane(torch.from_numpy(images), torch.from_numpy(masks)).numpy()
    residual = plane_residual(torch.from_numpy(images), torch.from_numpy(masks)).numpy()
    for i in range(3):
        keep = ~masks[i]
        design = np.stack([np.ones(keep.sum()), cols[keep], rows[keep]], axis=1)
        coef = np.linalg.lstsq(design, images[i][keep], rcond=None)[0]
        np.testing.assert_allclose(planes[i], coef, rtol=1e-10, atol=1e-12)
        fit = coef[0] + coef[1] * cols + coef[2] * rows
        np.testing.assert_allclose(residual[i], images[i] - fit, rtol=1e-10, atol=1e-12)
    # an exact plane is recovered exactly, whatever the masked pixels hold
    exact = 0.5 + 0.1 * cols - 0.2 * rows + np.where(masks[0], 9.0, 0.0)
    coef = background_plane(torch.from_numpy(exact[None]), torch.from_numpy(masks[:1]))
    np.testing.assert_allclose(coef[0], [0.5, 0.1, -0.2], atol=1e-12)


def test_masked_correlation_is_pearson_on_the_kept_pixels() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3, 5, 6)), rng.normal(size=(3, 5, 6))
    b[1] = 2 * a[1] + 1
    where = rng.uniform(size=(3, 5, 6)) < 0.6
    got = masked_correlation(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(where))
    for i in range(3):
        expected = np.corrcoef(a[i][where[i]], b[i][where[i]])[0, 1]
        np.testing.assert_allclose(got[i], expected, rtol=1e-12)
    assert float(got[1]) == pytest.approx(1.0, abs=1e-12)


# --- the decoders as recipes -----------------------------------------------------------


def test_every_layer_has_a_decoder_recipe_per_seed() -> None:
    for layer, shape in Q2_DECODER_LAYERS.items():
        for seed in Q2_DECODER_SEEDS:
            rec = RECIPES[recipes.q2_decoder_name(layer, seed)]
            assert rec.trainer_args["layer"] == layer
            assert rec.trainer_args["encoder"] == "q2_cnn"
            assert tuple(rec.model_args["in_shape"]) == shape
            assert rec.seed == seed
    with pytest.raises(ValueError, match="unknown layer"):
        recipes.q2_decoder_name("conv9", 0)
    with pytest.raises(ValueError, match="encoder and layer"):
        recipes.Recipe("x", 2, "make_decoder", "shapes_task", "decoder_adam_cosine")


def test_a_decoder_goes_stale_with_its_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    name = recipes.q2_decoder_name("block2", 0)
    before = recipe_hash(name)
    cnn = RECIPES["q2_cnn"]
    monkeypatch.setitem(RECIPES, "q2_cnn", recipes.Recipe(**{**vars(cnn), "seed": 9}))
    assert recipe_hash(name) != before
    assert f"{name}: recipe changed since its weights were trained" in artifacts.artifact_problems()
