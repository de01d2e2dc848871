"""cnnbook.data, chapter 3's task: windows of the real membrane recording with a burst added."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnbook.data import MEMBRANE_SPLIT, load_membrane, membrane_pattern_task, ringing_burst


def _standardised() -> np.ndarray:
    signal = load_membrane()
    return (signal - signal.mean()) / signal.std()


def test_ringing_burst_alternates_under_a_symmetric_envelope() -> None:
    burst = ringing_burst(24, 3.0)
    assert burst.shape == (24,)
    assert np.all(np.sign(burst[::2]) == 1)
    assert np.all(np.sign(burst[1::2]) == -1)
    np.testing.assert_allclose(np.abs(burst), np.abs(burst)[::-1], atol=1e-15)
    assert np.max(np.abs(burst)) <= 3.0
    assert np.max(np.abs(burst)) > 0.99 * 3.0


@pytest.mark.parametrize(("width", "amplitude"), [(2, 1.0), (8, 0.0), (8, -1.0), (8, np.nan)])
def test_ringing_burst_rejects_bad_arguments(width: int, amplitude: float) -> None:
    with pytest.raises(ValueError, match=r"width|amplitude"):
        ringing_burst(width, amplitude)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 40),
    length=st.integers(24, 900),
    split=st.sampled_from(["train", "test"]),
    seed=st.integers(0, 2**16),
)
def test_windows_are_the_recording_plus_the_burst_where_labelled(
    n: int, length: int, split: str, seed: int
) -> None:
    x, y, start = membrane_pattern_task(n, length=length, split=split, seed=seed)
    assert x.shape == (n, length)
    assert y.shape == start.shape == (n,)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert y.sum() == n // 2
    assert np.all((start == -1) == (y == 0))
    assert np.all(start[y == 1] >= 0)
    assert np.all(start[y == 1] <= length - 24)
    signal = _standardised()
    part = signal[:MEMBRANE_SPLIT] if split == "train" else signal[MEMBRANE_SPLIT:]
    burst = ringing_burst(24, 3.0)
    for row, s in zip(x, start, strict=True):
        clean = row.copy()
        if s >= 0:
            clean[s : s + 24] -= burst
        # the clean window is a contiguous piece of this split of the recording
        windows = np.lib.stride_tricks.sliding_window_view(part, length)
        assert np.any(np.all(np.abs(windows - clean) < 1e-12, axis=1))


def test_same_seed_same_task_and_splits_differ() -> None:
    a = membrane_pattern_task(16, seed=3)
    b = membrane_pattern_task(16, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    test = membrane_pattern_task(16, split="test", seed=3)
    assert not np.array_equal(a[0], test[0])


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"n": 0}, "n must"),
        ({"n": 4, "split": "valid"}, "split"),
        ({"n": 4, "length": 10}, "length"),
        ({"n": 4, "length": 7000}, "length"),
    ],
)
def test_bad_task_arguments_are_rejected(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        membrane_pattern_task(**kw)
