"""Data for the chapters: real samples shipped inside installed packages, and procedural data.

Nothing here touches the network. The real samples come from matplotlib's own
``sample_data`` folder, installed with matplotlib.
"""

from __future__ import annotations

import numpy as np
from matplotlib import cbook
from matplotlib.image import imread

#: Sampling rate of matplotlib's ``eeg.dat`` recording, in hertz.
EEG_RATE_HZ = 128.0


def load_photo(gray: bool = False) -> np.ndarray:
    """A real photograph: Grace Hopper's portrait, shipped with matplotlib.

    Parameters
    ----------
    gray
        Return luminance (ITU-R BT.601 weights) instead of RGB.

    Returns
    -------
    numpy.ndarray
        ``(600, 512, 3)`` RGB, or ``(600, 512)`` grey, float64 in ``[0, 1]``.
    """
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = imread(f, format="jpg").astype(np.float64) / 255.0
    if gray:
        return rgb @ np.array([0.299, 0.587, 0.114])
    return rgb


def load_eeg(channel: int = 0) -> np.ndarray:
    """A real 1-D signal: one channel of the EEG recording shipped with matplotlib.

    The file holds 800 samples of 4 channels (float64, interleaved), sampled at
    :data:`EEG_RATE_HZ`.

    Parameters
    ----------
    channel
        Channel index, 0 to 3.

    Returns
    -------
    numpy.ndarray
        ``(800,)`` float64, as stored.
    """
    if not 0 <= channel < 4:
        raise ValueError(f"channel must be in 0..3, got {channel}")
    with cbook.get_sample_data("eeg.dat") as f:
        raw = np.frombuffer(f.read(), dtype=np.float64)
    return raw.reshape(-1, 4)[:, channel].copy()


def load_membrane() -> np.ndarray:
    """A real 1-D signal: the membrane-potential recording shipped with matplotlib.

    Returns
    -------
    numpy.ndarray
        ``(12000,)`` float64 (stored as float32).
    """
    with cbook.get_sample_data("membrane.dat") as f:
        return np.frombuffer(f.read(), dtype=np.float32).astype(np.float64)


# --- Chapter 1: procedural patterns at known positions ---


def wavelet(length: int, cycles: float) -> np.ndarray:
    """A Hann-windowed sine of ``cycles`` periods over ``length`` samples, unit norm, zero mean.

    Chapter 1 uses two of them (different ``cycles``) as the patterns to recognise.
    """
    if length < 3:
        raise ValueError(f"length must be at least 3, got {length}")
    t = (np.arange(length) + 0.5) / length
    w = np.hanning(length + 2)[1:-1] * np.sin(2 * np.pi * cycles * t)
    w -= w.mean()
    norm = np.linalg.norm(w)
    if norm == 0:
        raise ValueError(f"{cycles} cycles give an all-zero pattern")
    return w / norm


def place_patterns(
    patterns: list[np.ndarray],
    positions: list[np.ndarray],
    length: int,
    n_per_class: int,
    noise: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A labelled set of 1-D signals: class ``c`` is ``patterns[c]`` at one of ``positions[c]``.

    Each sample is white Gaussian noise of standard deviation ``noise`` with the class's
    pattern added at a start index drawn uniformly from that class's allowed positions.
    Chapter 1 trains on some positions and tests on others, and (one pattern, two sets
    of positions) asks whether a CNN can tell where a pattern is.

    Parameters
    ----------
    patterns
        One 1-D pattern per class.
    positions
        One array of allowed start indices per class.
    length
        Signal length.
    n_per_class
        Samples per class.
    noise
        Standard deviation of the background noise.
    rng
        Source of randomness.

    Returns
    -------
    tuple of numpy.ndarray
        ``x`` of shape ``(n_classes * n_per_class, 1, length)`` (float32) and the labels ``y``
        (int64), classes in blocks.
    """
    if len(patterns) != len(positions):
        raise ValueError(f"{len(patterns)} patterns but {len(positions)} position sets")
    if n_per_class < 1 or noise < 0:
        raise ValueError("need n_per_class >= 1 and noise >= 0")
    xs, ys = [], []
    for label, (pattern, allowed) in enumerate(zip(patterns, positions, strict=True)):
        pattern = np.asarray(pattern, dtype=np.float64)
        allowed = np.asarray(allowed, dtype=np.int64)
        if allowed.size == 0 or allowed.min() < 0 or allowed.max() + pattern.size > length:
            raise ValueError(f"class {label}: positions must keep the pattern inside the signal")
        x = noise * rng.standard_normal((n_per_class, length))
        starts = rng.choice(allowed, size=n_per_class)
        idx = starts[:, None] + np.arange(pattern.size)
        np.add.at(x, (np.arange(n_per_class)[:, None], idx), pattern)
        xs.append(x)
        ys.append(np.full(n_per_class, label, dtype=np.int64))
    return np.concatenate(xs)[:, None, :].astype(np.float32), np.concatenate(ys)
