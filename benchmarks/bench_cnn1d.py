"""Benchmark of chapter 3: hand-derived ``gradients`` against torch autograd on the twin.

Same process, same inputs, float64, one thread for both (as the book runs), for one example
(N = 1) and a batch (N = 2048) of the sheet's network (L = 785, m = 20, its Figure 1). Each
side produces the same thing: a dict of six float64 numpy gradients (ours also validates its
inputs). The torch side is timed from zeroing the gradients to reading them back; building
the twin is not timed. The two sides alternate, and the best round of each is kept.

    PYTHONPATH=src python benchmarks/bench_cnn1d.py
"""

from __future__ import annotations

import numpy as np
import torch
from benchtime import interleaved_best, one_thread

from cnnbook.cnn1d import Spec, autograd_gradients, gradients, init_params, torch_twin


def main() -> None:
    spec = Spec()
    params = init_params(spec, seed=0)
    twin = torch_twin(spec, params)
    rng = np.random.default_rng(0)
    print(f"Spec: {spec}; float64, one thread")
    for n, number in ((1, 500), (2048, 3)):
        x = rng.normal(size=(n, spec.length))
        y = (rng.random(n) < 0.5).astype(np.float64)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        t = interleaved_best(
            {
                "ours": lambda x=x, y=y: gradients(spec, params, x, y),
                "ref": lambda xt=xt, yt=yt: autograd_gradients(twin, xt, yt),
            },
            number=number,
        )
        ours, ref = t["ours"], t["ref"]
        print(
            f"N={n:>5}: ours {ours * 1e3:8.3f} ms, torch autograd {ref * 1e3:8.3f} ms, "
            f"ours / reference = {ours / ref:.2f}"
        )


if __name__ == "__main__":
    with one_thread():
        main()
