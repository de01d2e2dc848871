"""cnnbook.data: the real samples load offline, with the documented shapes and ranges."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import cbook

from cnnbook.data import load_eeg, load_membrane, load_photo


def test_photo_rgb_and_gray_agree() -> None:
    rgb = load_photo()
    gray = load_photo(gray=True)
    assert rgb.shape == (600, 512, 3)
    assert gray.shape == (600, 512)
    assert rgb.min() >= 0.0
    assert rgb.max() <= 1.0
    # Independent oracle: the luminance formula applied pixel by pixel.
    r, g, b = rgb[123, 45]
    assert gray[123, 45] == pytest.approx(0.299 * r + 0.587 * g + 0.114 * b)
    assert rgb.std() > 0.1, "a real photograph is not flat"


def test_eeg_matches_matplotlib_reader() -> None:
    # matplotlib's own example reads the file as float64, 800 samples x 4 channels.
    with cbook.get_sample_data("eeg.dat") as f:
        ref = np.fromfile(f, dtype=float).reshape(800, 4)
    for ch in range(4):
        np.testing.assert_array_equal(load_eeg(ch), ref[:, ch])


@pytest.mark.parametrize("channel", [-1, 4])
def test_eeg_rejects_unknown_channel(channel: int) -> None:
    with pytest.raises(ValueError, match="channel"):
        load_eeg(channel)


def test_membrane_is_a_real_recording() -> None:
    x = load_membrane()
    assert x.shape == (12000,)
    assert np.isfinite(x).all()
    assert x.std() > 0
