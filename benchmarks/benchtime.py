"""Timing shared by the benchmark scripts: same process, one thread, interleaved rounds.

Each function runs ``number`` times per round, the functions take turns round after
round (so a slow spell of a shared machine, or a drift in the allocator's state, hits
them all alike), and the best round of each is kept, as ``timeit`` recommends.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch and the BLAS on one thread, as the book's notebooks do."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def interleaved_best(
    fns: dict[str, Callable[[], object]], number: int = 1, rounds: int = 15, warmup: int = 1
) -> dict[str, float]:
    """Best time per call of each function, in seconds, over interleaved rounds."""
    if number < 1 or rounds < 1 or warmup < 0:
        raise ValueError(
            f"need number >= 1, rounds >= 1, warmup >= 0; got {number, rounds, warmup}"
        )
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], timeit.timeit(fn, number=number) / number)
    return best
