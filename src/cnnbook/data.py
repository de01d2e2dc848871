"""Data for the chapters: real samples shipped inside installed packages, and procedural data.

Nothing here touches the network. The real samples come from matplotlib's own
``sample_data`` folder, installed with matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from matplotlib import cbook
from matplotlib.image import imread


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
    with cbook.get_sample_data("grace_hopper.jpg") as f:  # type: ignore[union-attr]
        rgb = imread(f, format="jpg").astype(np.float64) / 255.0  # type: ignore[arg-type]
    if gray:
        return rgb @ np.array([0.299, 0.587, 0.114])
    return rgb


def load_eeg(channel: int = 0) -> np.ndarray:
    """A real 1-D signal: one channel of the EEG recording shipped with matplotlib.

    The file holds 800 samples of 4 channels (float64, interleaved). It records no
    sampling rate, and matplotlib documents none (its "MRI with EEG" example merely
    draws the 800 samples over a 10 s axis), so chapter 1 measures time in samples.

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
    with cbook.get_sample_data("eeg.dat") as f:  # type: ignore[union-attr]
        raw = np.frombuffer(f.read(), dtype=np.float64)
    return raw.reshape(-1, 4)[:, channel].copy()


def load_membrane() -> np.ndarray:
    """A real 1-D signal: the membrane-potential recording shipped with matplotlib.

    Returns
    -------
    numpy.ndarray
        ``(12000,)`` float64 (stored as float32).
    """
    with cbook.get_sample_data("membrane.dat") as f:  # type: ignore[union-attr]
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


class Split(NamedTuple):
    """One split of a labelled data set: inputs, labels and, for images, object masks."""

    x: np.ndarray
    y: np.ndarray
    masks: np.ndarray | None = None


def _select(drawn: dict[str, Split], splits: Sequence[str]) -> dict[str, Split]:
    unknown = set(splits) - set(drawn)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)}; expected some of {list(drawn)}")
    return {name: drawn[name] for name in splits}


def positions_task(
    length: int = 48,
    width: int = 10,
    n_per_class: int = 400,
    noise: float = 0.2,
    seed: int = 0,
    splits: Sequence[str] = ("train", "seen positions", "unseen positions"),
    n_train: int | None = None,
    train_seed: int | None = None,
) -> dict[str, Split]:
    """Chapter 1's unseen-position task: two windowed sines (1.5 and 3 cycles) in noise.

    ``"train"`` and ``"seen positions"`` place the patterns so that they start in the
    left half of the signal; ``"unseen positions"`` places them in the right half only.
    The three splits are drawn, in that order, from one generator seeded with ``seed``.

    With ``train_seed``, the ``"train"`` split is replaced by ``n_train`` examples drawn
    like it from a generator of their own, seeded with ``(seed, train_seed)``; the two
    test splits stay the same whatever the training set's size and seed. Chapter 1's
    sample-efficiency curves train on such sets.

    Parameters
    ----------
    length, width
        Signal and pattern lengths, in samples.
    n_per_class
        Examples per class in each split (in the training split without ``train_seed``).
    noise
        Standard deviation of the background noise.
    seed
        Seed of the generator.
    splits
        The splits to return (all three are drawn, so each is the same whichever are
        asked for).
    n_train
        Size of the training split drawn with ``train_seed`` (even: half per class);
        ``None`` is ``2 * n_per_class``. Only with ``train_seed``.
    train_seed
        Seed, with ``seed``, of the training split's own generator; ``None`` keeps the
        training split drawn first from the generator of ``seed``.
    """
    if width > length // 2:
        raise ValueError(f"a pattern of {width} samples does not fit in half of {length}")
    if train_seed is None and n_train is not None:
        raise ValueError("n_train needs a train_seed (the training split's own generator)")
    if n_train is not None and (n_train < 2 or n_train % 2):
        raise ValueError(f"n_train must be even and at least 2, got {n_train}")
    if train_seed is not None and train_seed < 0:
        raise ValueError(f"train_seed must be non-negative, got {train_seed}")
    rng = np.random.default_rng(seed)
    patterns = [wavelet(width, 1.5), wavelet(width, 3.0)]
    left = np.arange(0, length // 2 - width + 1)
    right = np.arange(length // 2, length - width + 1)
    drawn = {}
    for name, allowed in [("train", left), ("seen positions", left), ("unseen positions", right)]:
        drawn[name] = Split(
            *place_patterns(patterns, [allowed, allowed], length, n_per_class, noise, rng)
        )
    if train_seed is not None:
        own = np.random.default_rng([seed, train_seed])
        per_class = n_per_class if n_train is None else n_train // 2
        drawn["train"] = Split(
            *place_patterns(patterns, [left, left], length, per_class, noise, own)
        )
    return _select(drawn, splits)


def edges_task(
    length: int = 32,
    width: int = 7,
    n_per_class: int = 300,
    noise: float = 0.2,
    seed: int = 0,
    splits: Sequence[str] = ("train", "test"),
) -> dict[str, Split]:
    """Chapter 1's where-is-it task: one pattern against the left edge (class 0) or the right.

    The pattern is a windowed sine of 1.5 cycles over ``width`` samples. ``"train"`` and
    ``"test"`` are drawn, in that order, from one generator seeded with ``seed``.
    """
    if width > length:
        raise ValueError(f"a pattern of {width} samples does not fit in {length}")
    rng = np.random.default_rng(seed)
    pattern = wavelet(width, 1.5)
    at_edges = [np.array([0]), np.array([length - width])]
    drawn = {
        name: Split(*place_patterns([pattern, pattern], at_edges, length, n_per_class, noise, rng))
        for name in ("train", "test")
    }
    return _select(drawn, splits)


# --- Chapter 2: procedural shapes on clutter, with ground-truth object masks ---

#: Class names of :func:`make_shapes`, in label order.
SHAPE_CLASSES: tuple[str, ...] = ("disk", "cross", "triangle")


def make_shapes(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey images of one filled shape on a cluttered background, with its exact mask.

    Each image holds one object -- a disk, a plus-shaped cross or an equilateral triangle (the
    label, in the order of :data:`SHAPE_CLASSES`), at a random place, size, rotation and
    brightness -- drawn over a smooth random ramp, six random line segments (clutter that
    carries no class information) and Gaussian noise. The mask marks the object's
    pixels, so an attribution map can be scored against it. Chapter 2 trains its small
    CNN on these images.

    Parameters
    ----------
    n
        Number of images; labels cycle through the classes, so they are balanced.
    size
        Side of the square image, in pixels (at least 16).
    seed
        Seed of the generator; the same seed gives the same images.

    Returns
    -------
    images : numpy.ndarray
        ``(n, 1, size, size)`` float32, roughly in ``[0, 1]``.
    labels : numpy.ndarray
        ``(n,)`` int64 in ``0 .. len(SHAPE_CLASSES) - 1``.
    masks : numpy.ndarray
        ``(n, size, size)`` bool, True on the object's pixels.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels, got {size}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(SHAPE_CLASSES)
    rng.shuffle(labels)
    coords = np.arange(size, dtype=np.float32) + 0.5
    yy, xx = np.meshgrid(coords, coords, indexing="ij")  # (size, size), pixel centres

    # Background: a smooth ramp in a random direction, then clutter segments.
    ramp = rng.uniform(-0.15, 0.15, (n, 2, 1, 1))
    images = 0.2 + (ramp[:, 0] * (xx - size / 2) + ramp[:, 1] * (yy - size / 2)) / size
    n_lines = 6
    p0 = rng.uniform(0, size, (n, n_lines, 2, 1, 1)).astype(np.float32)
    angle = rng.uniform(0, np.pi, (n, n_lines, 1, 1)).astype(np.float32)
    length = rng.uniform(0.15 * size, 0.35 * size, (n, n_lines, 1, 1)).astype(np.float32)
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=2)  # (n, k, 2, 1, 1)
    rel_x, rel_y = xx - p0[:, :, 0], yy - p0[:, :, 1]
    along = np.clip(rel_x * direction[:, :, 0] + rel_y * direction[:, :, 1], 0.0, length)
    dist = np.hypot(rel_x - along * direction[:, :, 0], rel_y - along * direction[:, :, 1])
    brightness = rng.uniform(0.3, 0.9, (n, n_lines, 1, 1))
    images = np.maximum(images, (brightness * (dist < 0.75)).max(axis=1))

    # The object, in its own rotated frame (u, v) centred on (cx, cy).
    radius = rng.uniform(0.18 * size, 0.28 * size, (n, 1, 1))
    centre = rng.uniform(radius[..., 0] + 1, size - radius[..., 0] - 1, (n, 2))[..., None, None]
    theta = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    dx, dy = xx - centre[:, 0], yy - centre[:, 1]
    u = np.cos(theta) * dx + np.sin(theta) * dy
    v = -np.sin(theta) * dx + np.cos(theta) * dy
    disk = np.hypot(u, v) <= radius
    bar_u, bar_v = np.abs(u) <= 0.35 * radius, np.abs(v) <= 0.35 * radius
    cross = (bar_u | bar_v) & (np.maximum(np.abs(u), np.abs(v)) <= radius)
    # Equilateral triangle with circumradius ``radius``: three half-planes.
    normals = np.array([np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3])
    half = [np.cos(a) * u + np.sin(a) * v <= radius / 2 for a in normals]
    triangle = half[0] & half[1] & half[2]
    masks = np.choose(labels[:, None, None], [disk, cross, triangle])
    level = rng.uniform(0.6, 1.0, (n, 1, 1))
    images = np.where(masks, level, images)
    images = images + rng.normal(0.0, 0.05, images.shape)
    return images[:, None].astype(np.float32), labels.astype(np.int64), masks


def shapes_task(
    n_train: int = 3200,
    n_test: int = 800,
    size: int = 32,
    seed: int = 0,
    splits: Sequence[str] = ("train", "test"),
) -> dict[str, Split]:
    """Chapter 2's data: :func:`make_shapes` images, with masks, in two independent splits.

    ``"train"`` is drawn with ``seed`` and ``"test"`` with ``seed + 1``, so that either
    can be made without the other (``splits``).
    """
    sizes = {"train": (n_train, seed), "test": (n_test, seed + 1)}
    _select(dict.fromkeys(sizes, Split(np.empty(0), np.empty(0))), splits)  # checks the names
    return {name: Split(*make_shapes(sizes[name][0], size, sizes[name][1])) for name in splits}


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
