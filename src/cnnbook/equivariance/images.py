"""Image utilities of chapter 1: scale, rotation and template matching on the photograph.

- :func:`downsample_mean`: shrink an image by averaging blocks;
- :func:`lifting_p4`: a lifting layer equivariant to 90-degree rotations;
- :func:`match_template`, :func:`detect_peaks`: find a patch.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter

from cnnbook.equivariance.operators import circular_correlate


def downsample_mean(x: np.ndarray, factor: int = 2) -> np.ndarray:
    """Shrink an image (last two axes) by averaging ``factor x factor`` blocks.

    Chapter 1's change of scale, and the way it halves the photograph for speed.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"mismatched dims: expected an image, got shape {x.shape}")
    h, w = x.shape[-2:]
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"factor {factor} does not divide the image size {(h, w)}")
    blocks = x.reshape(*x.shape[:-2], h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(-3, -1))


def lifting_p4(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A group-convolution lifting layer for 90-degree rotations (Cohen & Welling 2016).

    Correlates ``image`` circularly with the kernel rotated by 0, 90, 180 and 270 degrees
    (``np.rot90(kernel, r)``). Rotating a square input by 90 degrees rotates every output
    map and moves map ``r`` to ``r + 1``. Used by chapter 1 to show how equivariance
    extends beyond translation.

    Returns
    -------
    numpy.ndarray
        ``(4, h, w)``.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"mismatched dims: expected a 2-D kernel, got shape {kernel.shape}")
    return np.stack([circular_correlate(image, np.rot90(kernel, r)) for r in range(4)])


def match_template(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of ``image`` with ``template`` at every position (circular).

    Entry ``[i, j]`` is the correlation coefficient between the template and the image
    window centred on ``(i, j)``, in ``[-1, 1]``. Built from circular correlations only,
    so it is itself translation-equivariant. Chapter 1 localises a patch of the photograph.
    """
    image = np.asarray(image, dtype=np.float64)
    template = np.asarray(template, dtype=np.float64)
    if image.ndim != 2 or template.ndim != 2:
        raise ValueError(
            f"mismatched dims: expected 2-D image and template, got {image.shape}, {template.shape}"
        )
    t = template - template.mean()
    t_norm = np.linalg.norm(t)
    if t_norm == 0:
        raise ValueError("the template is constant")
    m = template.size
    box = np.ones_like(template)
    window_sum = circular_correlate(image, box)
    window_sq = circular_correlate(image**2, box)
    window_var = np.maximum(window_sq - window_sum**2 / m, 0.0)
    numerator = circular_correlate(image, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = numerator / (t_norm * np.sqrt(window_var))
    return np.where(window_var > 1e-12 * m, score, 0.0)


def detect_peaks(response: np.ndarray, threshold: float, size: int) -> np.ndarray:
    """Local maxima of a 2-D response map above ``threshold`` (neighbourhood ``size x size``).

    A position is a detection when its value exceeds ``threshold`` and equals the maximum
    of the ``size x size`` window centred on it (windows wrap around, like the circular
    correlations that produce the map). Chapter 1 detects the stars of the flag in the
    photograph with a template taken from one of them.

    Returns
    -------
    numpy.ndarray
        ``(k, 2)`` integer array of ``(row, column)`` detections, in row-major order.
    """
    response = np.asarray(response, dtype=np.float64)
    if response.ndim != 2:
        raise ValueError(f"mismatched dims: expected a 2-D map, got shape {response.shape}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be odd and positive, got {size}")
    local_max = maximum_filter(response, size=size, mode="wrap")
    return np.argwhere((response == local_max) & (response > threshold))
