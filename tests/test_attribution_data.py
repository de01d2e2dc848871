"""cnnbook.data.make_shapes (chapter 2's images): labels, masks and images agree."""

from __future__ import annotations

import numpy as np
import pytest

from cnnbook.data import SHAPE_CLASSES, make_shapes


@pytest.fixture(scope="module")
def shapes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return make_shapes(300, size=32, seed=5)


def test_layout_and_balance(shapes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    images, labels, masks = shapes
    assert images.shape == (300, 1, 32, 32)
    assert images.dtype == np.float32
    assert labels.shape == (300,)
    assert labels.dtype == np.int64
    assert masks.shape == (300, 32, 32)
    assert masks.dtype == bool
    assert np.bincount(labels).tolist() == [100] * len(SHAPE_CLASSES)
    assert masks.any(axis=(1, 2)).all(), "every image holds an object"


def test_same_seed_same_images() -> None:
    a, b = make_shapes(12, seed=1), make_shapes(12, seed=1)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], make_shapes(12, seed=2)[0])


def test_mask_covers_a_uniform_object(shapes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Inside the mask only the object's level and the noise (sd 0.05) remain."""
    images, _, masks = shapes
    for img, m in zip(images[:, 0], masks, strict=True):
        assert img[m].std() < 0.08
        assert img[m].mean() > 0.5


def test_mask_shape_matches_label(shapes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Area over the disk through the farthest pixel: ~1 for a disk, ~0.65 for the
    cross, ~0.41 for an equilateral triangle (3 sqrt(3) / (4 pi))."""
    _, labels, masks = shapes
    ratios: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for label, m in zip(labels, masks, strict=True):
        rows, cols = np.nonzero(m)
        far = np.hypot(rows - rows.mean(), cols - cols.mean()).max() + 0.5
        ratios[int(label)].append(m.sum() / (np.pi * far**2))
    assert min(ratios[0]) > max(ratios[1])
    assert min(ratios[1]) > max(ratios[2])
    assert np.median(ratios[2]) == pytest.approx(3 * np.sqrt(3) / (4 * np.pi), abs=0.08)


@pytest.mark.parametrize(("n", "size"), [(0, 32), (5, 8)])
def test_rejects_bad_arguments(n: int, size: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        make_shapes(n, size=size)
