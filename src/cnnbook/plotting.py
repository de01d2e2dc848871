"""The book's one figure style, shared by every chapter.

Figures are PNG on an opaque white card, so that they stay legible when the site is
read in the theme's dark mode; colours come from the Okabe--Ito palette, which stays
distinguishable under the common colour-vision deficiencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

#: Okabe--Ito colours, in the order the chapters use them.
PALETTE: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}

#: Diverging colour map for signed maps (gradients, attributions, errors).
DIVERGING = "RdBu_r"

_STYLE: dict[RcKeyType, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "svg.hashsalt": "cnnbook",
}


def use_book_style() -> None:
    """Apply the book's matplotlib style to the current process."""
    mpl.rcParams.update(_STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE.values()))


def figure(
    nrows: int = 1, ncols: int = 1, *, width: float = 7.0, height: float | None = None
) -> tuple[Figure, np.ndarray]:
    """Create a figure in the book's style; always return the axes as a 2-D array.

    Parameters
    ----------
    nrows, ncols
        Grid of panels.
    width
        Figure width in inches (the text column is about 7 in wide).
    height
        Figure height in inches; by default 2.6 in per row.
    """
    if nrows < 1 or ncols < 1:
        raise ValueError(f"need at least one panel, got {nrows} x {ncols}")
    use_book_style()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height or 2.6 * nrows), squeeze=False)
    return fig, axes


def show_image(ax: Axes, image: np.ndarray, title: str = "", *, signed: bool = False) -> None:
    """Show a grey or RGB image, or a signed map centred on zero, without axis ticks.

    Parameters
    ----------
    ax
        Target axes.
    image
        ``(H, W)`` or ``(H, W, 3)`` array.
    title
        Panel title.
    signed
        Draw a 2-D map with the diverging colour map, symmetric about zero.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) array, got shape {image.shape}")
    if signed:
        if image.ndim != 2:
            raise ValueError("a signed map must be 2-D")
        bound = float(np.max(np.abs(image))) or 1.0
        ax.imshow(image, cmap=DIVERGING, vmin=-bound, vmax=bound)
    elif image.ndim == 2:
        ax.imshow(image, cmap="gray")
    else:
        ax.imshow(np.clip(image, 0.0, 1.0))
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def label(ax: Axes, xlabel: str, ylabel: str, title: str = "") -> None:
    """Label both axes (with units) and, optionally, the panel."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


def legend_outside(ax: Axes, handles: Sequence[object] | None = None) -> None:
    """Place the legend to the right of the axes, clear of the data."""
    if handles is None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
