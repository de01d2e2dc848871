"""Benchmark of cnnbook.equivariance against the library calls it wraps or replaces.

Same process, same inputs, one thread, interleaved rounds (benchtime.py); prints
``ours / reference`` time ratios (below 1: ours is faster).
Run: ``PYTHONPATH=src python benchmarks/bench_equivariance.py``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from benchtime import interleaved_best, one_thread

from cnnbook import equivariance as eq
from cnnbook.data import load_photo


def main() -> None:
    rng = np.random.default_rng(0)
    photo = load_photo(gray=True)  # 600 x 512
    kernel = rng.standard_normal((5, 5))
    x = torch.from_numpy(photo)[None, None]
    w = torch.from_numpy(kernel)[None, None]
    signal = rng.standard_normal((64, 800))
    tensor = torch.from_numpy(signal)

    cases = {
        "shift, numpy (vs np.roll)": (
            lambda: eq.shift(signal, 37),
            lambda: np.roll(signal, 37, axis=-1),
            2000,
        ),
        "shift, torch (vs torch.roll)": (
            lambda: eq.shift(tensor, 37),
            lambda: torch.roll(tensor, 37, dims=-1),
            2000,
        ),
        "circular_correlate 2-D, 600x512, 5x5 (vs F.conv2d, circular pad)": (
            lambda: eq.circular_correlate(photo, kernel),
            lambda: F.conv2d(F.pad(x, (2, 2, 2, 2), mode="circular"), w),
            20,
        ),
        "equivariance_error of F.conv1d (vs the two calls by hand)": (
            lambda: eq.equivariance_error(
                lambda v: F.conv1d(v, w[..., 2, :], padding=2), tensor[:, None], 37
            ),
            lambda: torch.linalg.vector_norm(
                F.conv1d(torch.roll(tensor[:, None], 37, -1), w[..., 2, :], padding=2)
                - torch.roll(F.conv1d(tensor[:, None], w[..., 2, :], padding=2), 37, -1)
            ),
            200,
        ),
    }
    for name, (ours, reference, number) in cases.items():
        t = interleaved_best({"ours": ours, "reference": reference}, number=number, rounds=7)
        ratio = t["ours"] / t["reference"]
        print(f"{name}: ours / reference = {ratio:.2f}")


if __name__ == "__main__":
    with one_thread():
        main()
