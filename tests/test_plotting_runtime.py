"""cnnbook.plotting and cnnbook.runtime."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from cnnbook import reproducible
from cnnbook.plotting import PALETTE, figure, label, legend_outside, show_image, use_book_style


def test_style_is_white_card_and_palette() -> None:
    use_book_style()
    assert mpl.rcParams["figure.facecolor"] == "white"
    assert mpl.rcParams["savefig.facecolor"] == "white"
    cycle = [c["color"] for c in mpl.rcParams["axes.prop_cycle"]]
    assert cycle[:2] == [PALETTE["blue"], PALETTE["orange"]]


def test_figure_always_returns_2d_axes() -> None:
    fig, axes = figure(1, 3, width=6)
    assert axes.shape == (1, 3)
    assert fig.get_size_inches()[0] == pytest.approx(6)
    label(axes[0, 0], "position (samples)", "response", "panel")
    assert axes[0, 0].get_xlabel() == "position (samples)"
    assert axes[0, 0].get_title() == "panel"
    plt.close(fig)
    with pytest.raises(ValueError, match="panel"):
        figure(0, 1)


def test_signed_map_is_centred_on_zero() -> None:
    fig, axes = figure()
    show_image(axes[0, 0], np.array([[-1.0, 3.0], [0.5, 0.0]]), signed=True)
    lo, hi = axes[0, 0].images[0].get_clim()
    assert (lo, hi) == (-3.0, 3.0)
    with pytest.raises(ValueError, match="2-D"):
        show_image(axes[0, 0], np.zeros((2, 2, 3)), signed=True)
    with pytest.raises(ValueError, match="array"):
        show_image(axes[0, 0], np.zeros(4))
    plt.close(fig)


def test_reproducible_repeats_every_generator() -> None:
    def draw() -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
        rng = reproducible(7)
        legacy = np.random.rand(3)  # noqa: NPY002 (the legacy global state is seeded too)
        return rng.standard_normal(3), legacy, torch.randn(3)

    a, b = draw(), draw()
    assert len(a) == 3  # numpy's generator, numpy's legacy state and torch's generator
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    torch.manual_seed(8)  # torch's generator is seeded with the seed asked for
    assert not torch.equal(torch.randn(3), a[2])
    torch.manual_seed(7)
    assert torch.equal(torch.randn(3), a[2])
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="non-negative"):
        reproducible(-1)


def test_legend_outside_sits_right_of_the_axes() -> None:
    fig, axes = figure()
    ax = axes[0, 0]
    (line,) = ax.plot([0, 1], [0, 1], label="signal")
    legend_outside(ax)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["signal"]
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1e-9
    legend_outside(ax, handles=[line])
    assert ax.get_legend() is not legend
    plt.close(fig)
