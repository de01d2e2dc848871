"""Figure 1 of the sheet, chapter 3's network, redrawn from a :class:`Spec`."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from cnnbook.cnn1d.spec import Spec


def _broken_axis(u_max: float, head: float, tail: float, gap: float) -> tuple[Any, float]:
    """Map a position ``u`` on the padded input to a drawing ``x``, skipping the middle.

    Returns the map (``None`` for hidden positions) and the ``x`` of the gap's middle.
    """
    if u_max <= head + tail + gap:
        return (lambda u: float(u)), float("nan")

    def to_x(u: float) -> float | None:
        if u <= head:
            return float(u)
        if u >= u_max - tail:
            return head + gap + (u - (u_max - tail))
        return None

    return to_x, head + gap / 2


def draw_network(ax: Axes, spec: Spec, *, head: float = 4.6, tail: float = 3.6) -> None:
    """Figure 1 of the sheet, redrawn from ``spec`` with every size labelled (chapter 3).

    Rows from bottom to top, as on the sheet: the zero-padded input ``x_1 .. x_L`` (the
    padding zeros ``x_0``, ``x_{L+1}`` in grey), CONV1 + ReLU (``c``), AVGPOOL1 (``a``),
    FC1 + ReLU (``f``; the sheet's figure calls it FV1) and Z. Cells are indexed from 1 and
    placed over the middle of what they see; the middle of long rows is elided; conv
    positions that the pooling drops are hatched. The weights between the rows carry the
    sheet's names ``W^C``, ``W^A`` (which its figure labels ``W^M``) and ``W^F``.
    """
    colours = {
        "pad": "#D9D9D9",
        "x": "#CFE3F3",
        "c": "#FBE3B8",
        "p": "#CDEBE1",
        "h": "#F4CFDF",
        "z": "#E8E8E8",
    }
    k, s, w, sp, m = spec.kernel, spec.stride, spec.pool, spec.pool_stride, spec.hidden
    length_c, length_p = spec.conv_length, spec.pooled_length
    u_max = spec.padded_length - 1
    gap = 1.6
    to_x, x_gap = _broken_axis(u_max, head, tail, gap)
    width, height = 0.8, 0.46
    rows = {"x": 0.0, "c": 1.0, "p": 2.0, "h": 3.0, "z": 4.0}

    def u_conv(j: int) -> float:
        return j * s + (k - 1) / 2

    def u_pool(q: int) -> float:
        return float(np.mean([u_conv(q * sp + t) for t in range(w)]))

    def cell(x: float, y: float, text: str, colour: str, hatch: str | None = None) -> None:
        ax.add_patch(
            Rectangle(
                (x - width / 2, y - height / 2),
                width,
                height,
                facecolor=colour,
                edgecolor="#333333",
                linewidth=0.7,
                hatch=hatch,
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5)

    def link(x0: float, y0: float, x1: float, y1: float, colour: str = "#555555") -> None:
        # from the top of the lower cell (x0, y0) to the bottom of the upper one (x1, y1)
        ax.plot([x0, x1], [y0 + height / 2, y1 - height / 2], color=colour, linewidth=0.6)

    def shown(n: int, position: Any) -> dict[int, float]:
        # Elide the middle of the row; probing the ends only keeps this cheap for any length.
        candidates = set(range(min(n, 40))) | set(range(max(0, n - 40), n))
        return {i: x for i in sorted(candidates) if (x := to_x(position(i))) is not None}

    xs_x = shown(spec.padded_length, float)
    xs_c = shown(length_c, u_conv)
    xs_p = shown(length_p, u_pool)
    covered = (length_p - 1) * sp + w  # conv positions 0..covered-1 feed some window
    first = 1 - spec.pad_left  # the padded input is x_{1-p} .. x_{L+p}: x_1 is the first sample
    for i, x in xs_x.items():
        padded = i < spec.pad_left or i >= spec.pad_left + spec.length
        cell(x, rows["x"], f"$x_{{{i + first}}}$", colours["pad" if padded else "x"])
    for j, x in xs_c.items():
        cell(x, rows["c"], f"$c_{{{j + 1}}}$", colours["c"], None if j < covered else "////")
        for i in range(j * s, j * s + k):
            if i in xs_x:
                link(xs_x[i], rows["x"], x, rows["c"], "#0072B2")
    for q, x in xs_p.items():
        cell(x, rows["p"], f"$a_{{{q + 1}}}$", colours["p"])
        for j in range(q * sp, q * sp + w):
            if j in xs_c:
                link(xs_c[j], rows["c"], x, rows["p"], "#009E73")
    x_lo, x_hi = min(xs_x.values()), max(xs_x.values())
    centre = (x_lo + x_hi) / 2
    h_index = list(range(min(m, 3))) + ([m - 1] if m > 3 else [])
    span = min(2.0 * (len(h_index) - 1), x_hi - x_lo)
    xs_h = (
        dict(
            zip(
                h_index,
                np.linspace(centre - span / 2, centre + span / 2, len(h_index)),
                strict=True,
            )
        )
        if len(h_index) > 1
        else {0: centre}
    )
    for kk, x in xs_h.items():
        cell(x, rows["h"], f"$f_{{{kk + 1}}}$", colours["h"])
        for xp in xs_p.values():
            link(xp, rows["p"], x, rows["h"], "#BBBBBB")
        link(x, rows["h"], centre, rows["z"], "#CC79A7")
    cell(centre, rows["z"], "$z$", colours["z"])
    if np.isfinite(x_gap):
        for key in ("x", "c", "p"):
            ax.text(x_gap, rows[key], r"$\cdots$", ha="center", va="center", fontsize=10)
    if m > 3:
        ax.text((xs_h[2] + xs_h[m - 1]) / 2, rows["h"], r"$\cdots$", ha="center", va="center")
    weights = {"c": "$W^C$", "h": "$W^A$ (the sheet's $W^M$)", "z": "$W^F$"}
    weight_x = {"c": x_gap if np.isfinite(x_gap) else centre, "h": centre, "z": centre + 1.2}
    for key, text in weights.items():
        ax.text(
            weight_x[key],
            rows[key] - 0.5,
            text,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
        )

    pad = (
        f"pad {spec.pad_left} left, {spec.pad_right} right"
        if spec.pad_left != spec.pad_right
        else f"pad {spec.padding}"
    )
    pads = (
        f"{spec.pad_left} + {spec.length} + {spec.pad_right}"
        if spec.pad_left != spec.pad_right
        else f"{spec.length} + 2\\cdot{spec.padding}"
    )
    names = {
        "x": ("input $X$, zero-padded", f"$\\tilde L = {pads} = {spec.padded_length}$"),
        "c": (
            "CONV1 (1 feature map)\n+ ReLU",
            f"$L_C = \\lfloor({spec.padded_length}-{k})/{s}\\rfloor+1 = {length_c}$\n"
            f"stride {s}, filter {k}×1, {pad}",  # noqa: RUF001 (the sheet's sign)
        ),
        "p": (
            "AVGPOOL1",
            f"$L_P = \\lfloor({length_c}-{w})/{sp}\\rfloor+1 = {length_p}$\n"
            f"stride {sp}, extent {w}",
        ),
        "h": ("FC1 (the sheet's FV1)\n+ ReLU", f"$m = {m}$ units"),
        "z": ("Z + sigmoid", "1 unit"),
    }
    between = {
        "c": f"$W^C \\in \\mathbb{{R}}^{{{k}}},\\ b^C$: {k + 1} parameters",
        "p": "no parameters",
        "h": f"$W^A \\in \\mathbb{{R}}^{{{m}\\times{length_p}}},\\ b^M \\in \\mathbb{{R}}^{{{m}}}$:"
        f"\n{m * length_p + m:,} parameters",
        "z": f"$W^F \\in \\mathbb{{R}}^{{{m}}},\\ b^F$: {m + 1} parameters",
    }
    for key, (name, size) in names.items():
        ax.text(x_lo - 0.7, rows[key], name, ha="right", va="center", fontsize=9)
        ax.text(x_hi + 0.7, rows[key], size, ha="left", va="center", fontsize=9)
    for key, text in between.items():
        ax.text(
            x_hi + 0.7,
            rows[key] - 0.5,
            text,
            ha="left",
            va="center",
            fontsize=8,
            color="#555555",
            style="italic",
        )
    ax.set_xlim(x_lo - 5.6, x_hi + 9.4)
    ax.set_ylim(-0.5, 4.5)
    ax.set_axis_off()
