"""Question 3 as the sheet states it: its names, its Figure 1 (m = 20), its boxed answers.

Oracles: a torch network assembled here from torch's own layers (not
``cnnbook.cnn1d.TorchTwin``), its ``numel()`` and its autograd; the boxed formulas of
chapter 3 evaluated with plain Python loops, indexed from 1 as the chapter writes them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cnnbook.cnn1d import Spec, count_parameters, gradients, init_params

ROOT = Path(__file__).resolve().parent.parent


def _sheet_network(m: int) -> nn.Sequential:
    """Figure 1 in torch: pad 1 at each end, Conv1 2x1, AVGPOOL1 2/2, FC1 with m units, Z."""
    return nn.Sequential(
        nn.Conv1d(1, 1, 2, stride=1, padding=1),
        nn.ReLU(),
        nn.AvgPool1d(2, stride=2),
        nn.Flatten(),
        nn.Linear(393, m),
        nn.ReLU(),
        nn.Linear(m, 1),
    ).double()


def test_spec_defaults_to_figure_1() -> None:
    spec = Spec()
    assert spec.hidden == 20
    assert (spec.length, spec.kernel, spec.stride) == (785, 2, 1)
    assert (spec.pool, spec.pool_stride) == (2, 2)
    assert (spec.pad_left, spec.pad_right) == (1, 1)


def test_figure_1_has_7904_parameters() -> None:
    """395 * 20 + 4, against the numel of an independently built torch network."""
    counts = count_parameters(Spec())
    assert counts["total"] == 7904 == 395 * 20 + 4
    net = _sheet_network(20)
    assert counts["total"] == sum(p.numel() for p in net.parameters())
    conv, fc1, out = net[0], net[4], net[6]
    assert counts["W_C"] + counts["b_C"] == conv.weight.numel() + conv.bias.numel()
    assert counts["W_A"] == fc1.weight.numel() == 20 * 393
    assert counts["b_M"] == fc1.bias.numel() == 20
    assert counts["W_F"] + counts["b_F"] == out.weight.numel() + out.bias.numel() == 21


def _boxed_answers(
    params: dict[str, np.ndarray], x_in: np.ndarray, y: float
) -> tuple[float, list[list[float]]]:
    """Chapter 3's boxed dCost/dW^C_1 and dCost/dW^A_ji, as written, indices from 1.

    x_1 .. x_785 with x_0 = x_786 = 0; c^_t = W^C_1 x_{t-1} + W^C_2 x_t + b^C for
    t = 1 .. 786; a_i = (c_{2i-1} + c_{2i}) / 2 for i = 1 .. 393;
    f^_j = sum_i W^A_ji a_i + b^M_j for j = 1 .. m; z^ = sum_j W^F_j f_j + b^F.
    """
    m = params["b_M"].shape[0]
    n_in, n_conv, n_pool = 785, 786, 393
    x = [0.0] * (n_in + 2)  # x[0] and x[786] are the padding zeros
    for t in range(1, n_in + 1):
        x[t] = float(x_in[t - 1])
    w_c = {1: float(params["W_C"][0]), 2: float(params["W_C"][1])}
    b_c = float(params["b_C"])
    w_a = {
        (j, i): float(params["W_A"][j - 1, i - 1])
        for j in range(1, m + 1)
        for i in range(1, n_pool + 1)
    }
    b_m = {j: float(params["b_M"][j - 1]) for j in range(1, m + 1)}
    w_f = {j: float(params["W_F"][j - 1]) for j in range(1, m + 1)}
    b_f = float(params["b_F"])

    c_hat = {t: w_c[1] * x[t - 1] + w_c[2] * x[t] + b_c for t in range(1, n_conv + 1)}
    c = {t: max(0.0, c_hat[t]) for t in c_hat}
    a = {i: (c[2 * i - 1] + c[2 * i]) / 2 for i in range(1, n_pool + 1)}
    f_hat = {
        j: sum(w_a[j, i] * a[i] for i in range(1, n_pool + 1)) + b_m[j] for j in range(1, m + 1)
    }
    f = {j: max(0.0, f_hat[j]) for j in f_hat}
    z_hat = sum(w_f[j] * f[j] for j in range(1, m + 1)) + b_f
    z = 1.0 / (1.0 + np.exp(-z_hat))

    # the deltas of the box
    delta_f = {j: (z - y) * w_f[j] * (1.0 if f_hat[j] > 0 else 0.0) for j in f_hat}
    delta_c = {
        t: (1.0 if c_hat[t] > 0 else 0.0)
        * 0.5
        * sum(w_a[j, (t + 1) // 2] * delta_f[j] for j in range(1, m + 1))  # ceil(t / 2)
        for t in range(1, n_conv + 1)
    }
    # dCost/dW^C_1 = sum_{t=2}^{786} delta^c_t x_{t-1}: the left padding zero's term is gone
    d_w_c1 = sum(delta_c[t] * x[t - 1] for t in range(2, n_conv + 1))
    # dCost/dW^A_ji = delta^f_j a_i
    d_w_a = [[delta_f[j] * a[i] for i in range(1, n_pool + 1)] for j in range(1, m + 1)]
    return d_w_c1, d_w_a


def _autograd(
    params: dict[str, np.ndarray], x_in: np.ndarray, y: float
) -> tuple[float, np.ndarray, float]:
    """dCost/dW^C_1, dCost/dW^A and dCost/d(left padding term) by torch autograd."""
    net = _sheet_network(params["b_M"].shape[0])
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(params["W_C"]).reshape(1, 1, 2))
        net[0].bias.copy_(torch.from_numpy(params["b_C"]).reshape(1))
        net[4].weight.copy_(torch.from_numpy(params["W_A"]))
        net[4].bias.copy_(torch.from_numpy(params["b_M"]))
        net[6].weight.copy_(torch.from_numpy(params["W_F"]).reshape(1, -1))
        net[6].bias.copy_(torch.from_numpy(params["b_F"]).reshape(1))
    xt = torch.from_numpy(x_in).reshape(1, 1, -1)
    logit = net(xt).reshape(1)
    cost = nn.functional.binary_cross_entropy_with_logits(
        logit, torch.tensor([y], dtype=torch.float64), reduction="sum"
    )
    cost.backward()
    grad_w = net[0].weight.grad.reshape(2)
    return float(grad_w[0]), net[4].weight.grad.numpy().copy(), float(grad_w[1])


@pytest.mark.parametrize(("seed", "y"), [(0, 1.0), (1, 0.0), (2, 1.0)])
def test_boxed_answers_as_written_equal_autograd(seed: int, y: float) -> None:
    spec = Spec()
    rng = np.random.default_rng(seed)
    params = init_params(spec, seed=seed) | {"b_C": np.zeros(())}  # Conv1 half on
    params["b_M"] = np.abs(params["b_M"])  # most of FC1 on, so W^A gets gradient
    x_in = rng.normal(size=785)
    x_in[0] = 3.0  # x_1 large: dropping or keeping a boundary term would show
    d_w_c1, d_w_a = _boxed_answers(params, x_in, y)
    auto_w_c1, auto_w_a, _ = _autograd(params, x_in, y)
    assert np.abs(auto_w_a).max() > 0
    assert auto_w_c1 != 0
    assert d_w_c1 == pytest.approx(auto_w_c1, rel=1e-10, abs=1e-14)
    np.testing.assert_allclose(np.array(d_w_a), auto_w_a, rtol=1e-10, atol=1e-14)
    hand = gradients(spec, params, x_in, y)
    assert float(hand["W_C"][0]) == pytest.approx(auto_w_c1, rel=1e-10, abs=1e-14)
    np.testing.assert_allclose(hand["W_A"], auto_w_a, rtol=1e-10, atol=1e-14)


def test_figure_1_redrawn_with_the_sheets_labels() -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    from cnnbook.cnn1d import draw_network

    fig, ax = plt.subplots()
    draw_network(ax, Spec())
    text = [t.get_text() for t in ax.texts]
    joined = " ".join(text)
    for label in (
        "CONV1 (1 feature map)",
        "stride 1, filter 2×1, pad 1",  # noqa: RUF001
        "AVGPOOL1",
        "stride 2, extent 2",
        "FC1 (the sheet's FV1)",
        "$m = 20$ units",
        "Z + sigmoid",
        "$W^C$",
        "$W^A$ (the sheet's $W^M$)",
        "$W^F$",
        "7,880 parameters",
    ):
        assert label in joined
    for cell in ("$x_{0}$", "$x_{1}$", "$x_{785}$", "$x_{786}$", "$c_{1}$", "$c_{786}$",
                 "$a_{1}$", "$a_{393}$", "$f_{1}$", "$f_{20}$"):  # fmt: skip
        assert cell in text
    for absent in ("$x_{787}$", "$c_{0}$", "$f_{0}$", "$a_{0}$"):
        assert absent not in text
    plt.close(fig)


# --------------------------------------------------------------------------- old names

_OLD = ["W" + "_B", "b" + "_B", "b" + "_A"]  # built here, so this file does not match itself
_OLD_TEX = ["W" + "^B", "b" + "^B", "b" + "^A"]
_TEXT = {".py", ".md", ".ipynb", ".bib", ".cfg", ".toml", ".txt", ".json"}


def _tracked_text_files() -> list[Path]:
    files = []
    for top in ("src", "tests", "book"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in _TEXT and "_build" not in path.parts:
                files.append(path)
    return files


def _old_name_pattern() -> re.Pattern[str]:
    return re.compile(
        "|".join(
            [rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])" for n in _OLD]
            + [rf"(?<![A-Za-z\\]){re.escape(n)}(?![A-Za-z0-9])" for n in _OLD_TEX]
        )
    )


def test_the_old_names_are_gone() -> None:
    """The names the book used before it followed the sheet appear nowhere (see _OLD)."""
    pattern = _old_name_pattern()
    files = _tracked_text_files()
    assert any(p.parts[-2:] == ("cnn1d", "network.py") for p in files)
    assert any(p.suffix == ".ipynb" for p in files)
    found = [
        f"{path.relative_to(ROOT)}:{number}: {match.group(0)}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for match in pattern.finditer(line)
    ]
    assert found == []


def test_the_old_names_pattern_finds_them_and_only_them() -> None:
    pattern = _old_name_pattern()
    for name in _OLD:
        assert pattern.search(f'grads["{name}"] = 0')
        assert pattern.search(f"{name}.shape")
    for name in _OLD_TEX:
        assert pattern.search(f"$\\partial/\\partial {name}_k$")
        assert pattern.search(f"${name}$")
    for new in ("W_A", "b_M", "W_F", "b_F", "W_C", "b_C", "W^A_{ji}", "b^M_j", "W^F_j"):
        assert not pattern.search(f"x = {new} + 1")
