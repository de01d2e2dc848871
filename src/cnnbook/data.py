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
