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


# --- Chapter 3: a pattern-detection task on the real membrane recording ---

#: Where chapter 3's training windows end and its test windows begin, in samples.
MEMBRANE_SPLIT = 6000


def ringing_burst(width: int, amplitude: float) -> np.ndarray:
    """The pattern of chapter 3's task: samples alternating in sign under a Hann envelope.

    A burst of ringing at the Nyquist frequency, as a switching artefact leaves in a
    recording: ``amplitude * (-1)^t * hann(t)`` for ``t < width``.
    """
    if width < 3:
        raise ValueError(f"width must be >= 3, got {width}")
    if not (np.isfinite(amplitude) and amplitude > 0):
        raise ValueError(f"amplitude must be positive and finite, got {amplitude}")
    t = np.arange(width)
    envelope = np.sin(np.pi * (t + 0.5) / width) ** 2
    return amplitude * (-1.0) ** t * envelope


def membrane_pattern_task(
    n: int,
    *,
    length: int = 785,
    width: int = 24,
    amplitude: float = 3.0,
    split: str = "train",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chapter 3's task: does a window of the membrane recording contain the burst anywhere?

    Windows of ``length`` samples are cut at random places from the real recording of
    :func:`load_membrane` (samples before :data:`MEMBRANE_SPLIT` for ``split="train"``,
    after it for ``"test"``, so the two never overlap), standardised with the recording's
    mean and standard deviation. Half of them, chosen at random, get
    :func:`ringing_burst` added at a random place.

    Parameters
    ----------
    n
        Number of windows.
    length
        Samples per window.
    width, amplitude
        The burst (``amplitude`` in units of the recording's standard deviation).
    split
        ``"train"`` or ``"test"``.
    seed
        Seed of the draws.

    Returns
    -------
    x, y, start
        Windows ``(n, length)``, labels ``(n,)`` in {0, 1}, and where the burst starts
        (``-1`` when there is none).
    """
    signal = load_membrane()
    signal = (signal - signal.mean()) / signal.std()
    if split == "train":
        part = signal[:MEMBRANE_SPLIT]
    elif split == "test":
        part = signal[MEMBRANE_SPLIT:]
    else:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not width <= length <= part.size:
        raise ValueError(f"length must be in [width, {part.size}], got {length}")
    burst = ringing_burst(width, amplitude)
    rng = np.random.default_rng(seed)
    first = rng.integers(0, part.size - length + 1, size=n)
    x = part[first[:, None] + np.arange(length)]
    y = np.zeros(n)
    y[rng.permutation(n)[: n // 2]] = 1.0
    start = np.where(y == 1, rng.integers(0, length - width + 1, size=n), -1)
    rows = np.flatnonzero(y == 1)
    x[rows[:, None], start[rows, None] + np.arange(width)] += burst
    return x, y, start
