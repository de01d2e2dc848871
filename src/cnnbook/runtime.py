"""Deterministic, CPU-only execution for the notebooks (every chapter's first cell).

nbval re-runs the committed notebooks and compares their text outputs exactly, so a
chapter must print the same thing on every run, with any number of cores.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from cnnbook.plotting import use_book_style

_BLAS_LIMIT: threadpool_limits | None = None


def reproducible(seed: int = 0) -> np.random.Generator:
    """Make the current process deterministic and return a seeded numpy generator.

    Seeds Python, numpy and torch; runs torch and the BLAS on one thread (a reduction
    split over threads can change the last bits of a sum); asks torch for deterministic
    algorithms; applies the book's figure style. Used by the first cell of every chapter.

    Parameters
    ----------
    seed
        Seed of every random generator.

    Returns
    -------
    numpy.random.Generator
        A generator seeded with ``seed``, for the notebook's own draws.
    """
    global _BLAS_LIMIT
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (also seed code that uses the legacy global state)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    _BLAS_LIMIT = threadpool_limits(limits=1)
    use_book_style()
    return np.random.default_rng(seed)
