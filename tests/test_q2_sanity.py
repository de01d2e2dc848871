"""Chapter 2's sanity-check metrics beyond the rules themselves: masked rank correlation,
the object's outline, class and unit maps, and the recipes of the chapter's other networks.

Oracles: scipy (``spearmanr``, ``ndimage``), torch autograd of one unit, explicit loops.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from scipy.stats import spearmanr
from torch import nn

from cnnbook.attribution import RULES, attribute, class_maps, unit_maps
from cnnbook.models import RECIPES, make_cnn
from cnnbook.sanity import outline, pairwise_rank_correlation, rank_correlation

RULE_NAMES = tuple(RULES)


def spearman_or_nan(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)


# --- rank_correlation over a subset ---


@settings(deadline=None, max_examples=60)
@given(
    data=st.lists(
        st.tuples(st.integers(-3, 3), st.integers(-3, 3), st.booleans()), min_size=1, max_size=25
    )
)
def test_rank_correlation_where_matches_scipy_on_the_subset(
    data: list[tuple[int, int, bool]],
) -> None:
    a, b, keep = (np.array(v) for v in zip(*data, strict=True))
    a, b = a.astype(float), b.astype(float)
    ours = float(
        rank_correlation(torch.tensor(a)[None], torch.tensor(b)[None], torch.tensor(keep)[None])[0]
    )
    expected = spearman_or_nan(a[keep], b[keep])
    if np.isnan(expected):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(expected, abs=1e-12)


def test_rank_correlation_where_is_per_example_and_checked() -> None:
    g = torch.Generator().manual_seed(30)
    a, b = torch.randn(3, 2, 4, 4, generator=g), torch.randn(3, 2, 4, 4, generator=g)
    keep = torch.rand(3, 2, 4, 4, generator=g) > 0.4
    ours = rank_correlation(a, b, keep)
    for i in range(3):
        k = keep[i].numpy()
        expected = spearmanr(a[i].numpy()[k], b[i].numpy()[k]).statistic
        assert float(ours[i]) == pytest.approx(expected, abs=1e-12)
    everywhere = torch.ones_like(keep)
    assert torch.allclose(rank_correlation(a, b, everywhere), rank_correlation(a, b), atol=1e-14)
    with pytest.raises(ValueError, match="where"):
        rank_correlation(a, b, keep[:2])
    with pytest.raises(ValueError, match="where"):
        rank_correlation(a, b, keep.double())


def test_rank_correlation_of_a_map_holding_nan_is_nan() -> None:
    a = torch.arange(12.0).reshape(2, 6)
    b = a.flip(1).clone()
    b[1, 3] = torch.nan
    rho = rank_correlation(a, b)
    assert float(rho[0]) == pytest.approx(-1.0)
    assert torch.isnan(rho[1])


# --- The object's outline ---


@pytest.mark.parametrize("width", [1, 2])
def test_outline_against_scipy_morphology(width: int) -> None:
    g = torch.Generator().manual_seed(31)
    masks = torch.rand(4, 9, 11, generator=g) > 0.55
    masks[0] = False  # no object: no outline
    masks[1] = True  # the whole image: its border is the object's boundary
    ours = outline(masks, width)
    square = np.ones((2 * width + 1, 2 * width + 1), bool)
    for i in range(4):
        m = masks[i].numpy()
        dilated = ndimage.binary_dilation(m, square)  # some object nearby
        eroded = ndimage.binary_erosion(m, square, border_value=0)  # object all around
        np.testing.assert_array_equal(ours[i].numpy(), dilated & ~eroded)
    assert not ours[0].any()
    assert ours[1].sum() == 9 * 11 - (9 - 2 * width) * (11 - 2 * width)


def test_outline_of_a_square_by_hand() -> None:
    m = torch.zeros(1, 6, 6, dtype=torch.bool)
    m[0, 2:4, 2:4] = True  # a 2x2 object: every pixel within 1 of it, itself included
    expected = torch.zeros(1, 6, 6, dtype=torch.bool)
    expected[0, 1:5, 1:5] = True
    assert torch.equal(outline(m), expected)
    with pytest.raises(ValueError, match="boolean"):
        outline(m.double())
    with pytest.raises(ValueError, match="width"):
        outline(m, 0)


# --- Class maps and their correlations ---


def small_cnn(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return make_cnn(3, widths=(4, 6), hidden=8, image_size=(8, 8)).double().eval()


def test_class_maps_are_attribute_per_class() -> None:
    model = small_cnn(32)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(33), dtype=torch.float64)
    for rule in RULE_NAMES:
        maps = class_maps(model, x, rule)
        assert maps.shape == (3, 4, 1, 8, 8)
        for k in range(3):
            assert torch.equal(maps[k], attribute(model, x, k, rule))


@pytest.mark.parametrize("absolute", [True, False])
@pytest.mark.parametrize("within_support", [True, False])
def test_pairwise_rank_correlation_against_scipy(absolute: bool, within_support: bool) -> None:
    g = torch.Generator().manual_seed(34)
    maps = torch.randn(3, 2, 1, 5, 5, generator=g)
    maps[maps.abs() < 0.5] = 0.0  # zeros, so that the support matters
    ours = pairwise_rank_correlation(maps, absolute, within_support)
    assert ours.shape == (2, 3, 3)
    m = maps.abs().numpy() if absolute else maps.numpy()
    for i in range(2):
        # the support: every pixel that one of the example's three maps reaches
        reached = (m[:, i] != 0).any(axis=0).ravel()
        keep = reached if within_support else np.ones(reached.size, bool)
        for j in range(3):
            for k in range(3):
                a, b = m[j, i].ravel(), m[k, i].ravel()
                expected = spearmanr(a[keep], b[keep]).statistic
                assert float(ours[i, j, k]) == pytest.approx(expected, abs=1e-12)


def test_support_changes_the_answer_for_maps_with_shared_zeros() -> None:
    # Two maps that agree only on where they are zero, and a NaN map (an inactive unit).
    a = torch.zeros(1, 100)
    b = torch.zeros(1, 100)
    a[0, :10] = torch.arange(10.0) + 1
    b[0, :10] = 10 - torch.arange(10.0)
    maps = torch.stack([a, b, torch.full((1, 100), torch.nan)])
    assert float(pairwise_rank_correlation(maps, False)[0, 0, 1]) > 0.9
    within = pairwise_rank_correlation(maps, False, True)[0]
    assert float(within[0, 1]) == pytest.approx(-1.0)  # the NaN map reaches no pixel
    assert torch.isnan(within[2]).all()
    assert torch.isnan(within[:, 2]).all()


# --- Unit maps ---


def test_unit_maps_against_autograd_of_each_unit() -> None:
    model = small_cnn(37)
    features = model[:5]  # up to the second ReLU: (N, 6, 4, 4)
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(38), dtype=torch.float64)
    units = 4
    with torch.no_grad():
        act = features(x).numpy()
    maps = {rule: unit_maps(features, x, rule, units) for rule in RULE_NAMES}
    for i in range(5):
        # the place of the strongest activation, and the channels ranked there (a loop)
        _, r, c = np.unravel_index(np.argmax(act[i]), act[i].shape)
        ranked = sorted(range(6), key=lambda ch: (-act[i, ch, r, c], ch))[:units]
        for j, ch in enumerate(ranked):
            leaf = x[i : i + 1].clone().requires_grad_()
            (grad,) = torch.autograd.grad(features(leaf)[0, ch, r, c], leaf)
            if act[i, ch, r, c] > 0:
                torch.testing.assert_close(maps["gradient"][j, i], grad[0], rtol=0, atol=1e-12)
                for rule in RULE_NAMES:
                    one = unit_maps(features, x[i : i + 1], rule, units)[j, 0]
                    assert torch.equal(one, maps[rule][j, i])
            else:
                for rule in RULE_NAMES:
                    assert torch.isnan(maps[rule][j, i]).all()


def test_unit_maps_validates() -> None:
    model = small_cnn(39)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="units"):
        unit_maps(model[:5], x, "deconvnet", 7)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        unit_maps(model, x, "deconvnet", 1)
    with pytest.raises(ValueError, match="unknown rule"):
        unit_maps(model[:5], x, "lrp", 1)


# --- The chapter's other networks ---


def test_seed_recipes_differ_from_the_running_example_only_in_seed() -> None:
    base = RECIPES["q2_cnn"]
    seeds = [r for name, r in RECIPES.items() if name.startswith("q2_cnn_s")]
    assert [r.seed for r in seeds] == [1, 2, 3, 4]
    for r in seeds:
        assert dataclasses.replace(r, name=base.name, seed=base.seed) == base


def test_deep_recipes_add_two_blocks_and_nothing_else() -> None:
    base = RECIPES["q2_cnn"]
    deep = [r for name, r in RECIPES.items() if name.startswith("q2_deep")]
    assert [r.seed for r in deep] == [0, 1, 2]
    widths = (8, 16, 32, 32, 32)
    for r in deep:
        assert r.model_args == {**base.model_args, "widths": widths}
        twin = dataclasses.replace(r, name=base.name, seed=base.seed, model_args=base.model_args)
        assert twin == base
    model = deep[0].build()
    assert sum(isinstance(m, nn.MaxPool2d) for m in model) == len(widths)
    assert model(torch.zeros(1, 1, 32, 32)).shape == (1, 3)
