"""Benchmark of chapter 3: hand-derived ``gradients`` against torch autograd on the twin.

Same process, same inputs, float64, one thread for both (as the book runs), for one example
(N = 1) and a batch (N = 2048) of the assignment's network (L = 785, m = 16). Each side
produces the same thing: a dict of six float64 numpy gradients (ours also validates its
inputs). The torch side is timed from zeroing the gradients to reading them back; building
the twin is not timed. The two sides alternate, and the best round of each is kept.

    PYTHONPATH=src python benchmarks/bench_cnn1d.py
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from cnnbook.cnn1d import Spec, autograd_gradients, gradients, init_params, torch_twin

#: Rounds of alternating timings; the best round of each side is kept.
ROUNDS = 15


def interleaved_best(
    ours: Callable[[], object], ref: Callable[[], object], number: int
) -> tuple[float, float]:
    """Best time per call of each side, in seconds, over rounds that alternate the two.

    Alternating keeps a drift in the machine's load (or in the allocator's state) from
    favouring whichever side happens to run first.
    """
    best_ours = best_ref = float("inf")
    for _ in range(ROUNDS):
        best_ours = min(best_ours, timeit.timeit(ours, number=number) / number)
        best_ref = min(best_ref, timeit.timeit(ref, number=number) / number)
    return best_ours, best_ref


def main() -> None:
    torch.set_num_threads(1)
    spec = Spec(hidden=16)
    params = init_params(spec, seed=0)
    twin = torch_twin(spec, params)
    rng = np.random.default_rng(0)
    print(f"Spec: {spec}; float64, one thread")
    for n, number in ((1, 500), (2048, 3)):
        x = rng.normal(size=(n, spec.length))
        y = (rng.random(n) < 0.5).astype(np.float64)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        ours, ref = interleaved_best(
            lambda x=x, y=y: gradients(spec, params, x, y),
            lambda xt=xt, yt=yt: autograd_gradients(twin, xt, yt),
            number,
        )
        print(
            f"N={n:>5}: ours {ours * 1e3:8.3f} ms, torch autograd {ref * 1e3:8.3f} ms, "
            f"ours / reference = {ours / ref:.2f}"
        )


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main()
