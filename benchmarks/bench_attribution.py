"""Benchmark of cnnbook.attribution.attribute (chapter 2) against Captum and a plain gradient.

Same model, same batch, same process, one thread, interleaved rounds (benchtime.py).
Prints, for guided backprop and DeconvNet, the best time of ours over Captum's
(goal <= 1.0) and over one plain forward + backward pass with torch autograd (the floor;
goal <= 1.2).

    PYTHONPATH=src python benchmarks/bench_attribution.py
"""

from __future__ import annotations

import warnings

import torch
from benchtime import interleaved_best, one_thread
from captum.attr import Deconvolution, GuidedBackprop

from cnnbook import reproducible
from cnnbook.attribution import attribute
from cnnbook.models import make_cnn


def plain_gradient(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().requires_grad_(True)
    scores = model(leaf.clone())
    return torch.autograd.grad(scores.gather(1, target[:, None]).sum(), leaf)[0]


def main() -> None:
    reproducible(seed=0)
    model = make_cnn(3, widths=(8, 16, 32), hidden=64, image_size=(32, 32)).eval()
    x = torch.randn(64, 1, 32, 32)
    target = torch.randint(0, 3, (64,))
    captum = {"guided": GuidedBackprop(model), "deconvnet": Deconvolution(model)}

    def run_captum(rule: str) -> torch.Tensor:
        with warnings.catch_warnings():  # Captum warns on every call that it sets hooks
            warnings.filterwarnings("ignore", message="Setting backward hooks")
            return captum[rule].attribute(x.clone().requires_grad_(), target=target)

    for rule in ("guided", "deconvnet"):
        assert torch.allclose(attribute(model, x, target, rule), run_captum(rule), atol=1e-6)
    t = interleaved_best(
        {
            "plain": lambda: plain_gradient(model, x, target),
            "ours guided": lambda: attribute(model, x, target, "guided"),
            "Captum guided": lambda: run_captum("guided"),
            "ours deconvnet": lambda: attribute(model, x, target, "deconvnet"),
            "Captum deconvnet": lambda: run_captum("deconvnet"),
        },
        number=5,
    )
    print(f"model: make_cnn(3), batch {tuple(x.shape)}, {torch.get_num_threads()} thread")
    print(f"plain gradient (one forward + backward pass): {t['plain'] * 1e3:.2f} ms")
    for rule in ("guided", "deconvnet"):
        ours, ref = t[f"ours {rule}"], t[f"Captum {rule}"]
        print(
            f"{rule:9s}: ours {ours * 1e3:.2f} ms, Captum {ref * 1e3:.2f} ms; "
            f"ours / Captum = {ours / ref:.2f} (goal <= 1.0), "
            f"ours / plain gradient = {ours / t['plain']:.2f} (goal <= 1.2)"
        )


if __name__ == "__main__":
    with one_thread():
        main()
