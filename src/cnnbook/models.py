"""The networks the book builds (chapters 1 and 2): one builder per architecture.

The recipes of the models the book trains, which name these builders, are in
:mod:`cnnbook.recipes`; the names of that catalogue can still be imported from here.

- :func:`fully_convolutional`, :func:`strided_cnn1d`: chapter 1's stride-1 and strided
  1-D/2-D CNNs, measured untrained;
- :func:`global_pool_classifier`, :func:`locally_connected_classifier`, :func:`mlp`:
  chapter 1's classifiers (shared, untied and dense weights);
- :func:`make_cnn`: chapter 2's VGG-style image classifier;
- :func:`count_trainable`: a module's trainable parameters.

Chapter 2's up-convolutional decoders are built by :func:`cnnbook.inversion.make_decoder`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from torch import nn

from cnnbook.equivariance import PaddingMode, check_padding_mode
from cnnbook.layers import BlurPool1d, CircularMaxPool1d, LocallyConnected1d


def fully_convolutional(
    dim: int = 1,
    in_channels: int = 1,
    width: int = 8,
    depth: int = 3,
    out_channels: int = 1,
    kernel_size: int = 3,
    padding_mode: PaddingMode = "circular",
) -> nn.Sequential:
    """A stride-1 CNN: ``depth`` convolutions with "same" padding and ReLUs between them.

    Chapter 1's deep equivariant network (circular padding), its zero-padded twin, and
    the per-pixel "segmenter" of the dense-prediction demo.
    """
    check_padding_mode(padding_mode)
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim}")
    if depth < 1 or kernel_size % 2 == 0:
        raise ValueError("need depth >= 1 and an odd kernel_size")
    conv = nn.Conv1d if dim == 1 else nn.Conv2d
    layers: list[nn.Module] = []
    channels = [in_channels] + [width] * (depth - 1) + [out_channels]
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
        layers.append(conv(c_in, c_out, kernel_size, padding="same", padding_mode=padding_mode))
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def strided_cnn1d(
    width: int = 8,
    stages: int = 2,
    kernel_size: int = 5,
    antialias: bool = False,
    taps: int = 3,
) -> nn.Sequential:
    """A 1-D CNN that halves the length ``stages`` times: total stride ``2 ** stages``.

    Each stage is conv (circular) -> ReLU -> downsampling. Without ``antialias`` the
    downsampling is ``MaxPool1d(2, 2)``; with it, Zhang's (2019) MaxBlurPool: a stride-1
    max pool, then :class:`BlurPool1d`. Both versions have the same parameters, in the
    same places, so one's ``state_dict`` loads into the other.
    """
    if stages < 1:
        raise ValueError(f"stages must be positive, got {stages}")
    layers: list[nn.Module] = []
    for i in range(stages):
        c_in = 1 if i == 0 else width
        layers += [
            nn.Conv1d(c_in, width, kernel_size, padding="same", padding_mode="circular"),
            nn.ReLU(),
            nn.Sequential(CircularMaxPool1d(2), BlurPool1d(2, taps))
            if antialias
            else nn.MaxPool1d(2, 2),
        ]
    return nn.Sequential(*layers)


def global_pool_classifier(
    n_classes: int = 2,
    width: int = 8,
    depth: int = 2,
    kernel_size: int = 5,
    padding_mode: PaddingMode = "circular",
) -> nn.Sequential:
    """A fully convolutional classifier: class maps, then a global max over positions.

    With circular padding it is exactly invariant to circular shifts of its input.
    Chapter 1 trains it on patterns at some positions and tests it at others, and uses
    its zero-padded twin to show that padding leaks absolute position.
    """
    return nn.Sequential(
        fully_convolutional(1, 1, width, depth, n_classes, kernel_size, padding_mode),
        nn.AdaptiveMaxPool1d(1),
        nn.Flatten(),
    )


def locally_connected_classifier(
    length: int,
    n_classes: int = 2,
    width: int = 8,
    depth: int = 2,
    kernel_size: int = 9,
    padding_mode: PaddingMode = "circular",
) -> nn.Sequential:
    """The twin of :func:`global_pool_classifier` with untied weights.

    Same receptive fields, same ReLUs, same global max, but every position has its own
    kernels (:class:`LocallyConnected1d`). Chapter 1 uses it to show that what carries a
    pattern learned at one position to another is the sharing, not the locality.
    """
    if depth < 1:
        raise ValueError(f"depth must be positive, got {depth}")
    channels = [1] + [width] * (depth - 1) + [n_classes]
    layers: list[nn.Module] = []
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
        layers.append(LocallyConnected1d(c_in, c_out, length, kernel_size, padding_mode))
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, nn.AdaptiveMaxPool1d(1), nn.Flatten())


def mlp(length: int, hidden: int, n_classes: int = 2) -> nn.Sequential:
    """A dense network with one hidden layer: chapter 1's counterpart of the small CNN."""
    if min(length, hidden, n_classes) < 1:
        raise ValueError("sizes must be positive")
    return nn.Sequential(
        nn.Flatten(), nn.Linear(length, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
    )


def count_trainable(module: nn.Module) -> int:
    """Number of trainable parameters of a built torch module (chapter 1's model table).

    The counts of a layer or network from its sizes alone are
    :func:`cnnbook.equivariance.layer_parameter_counts` and
    :func:`cnnbook.cnn1d.count_parameters`.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def make_cnn(
    n_classes: int,
    in_channels: int = 1,
    widths: Sequence[int] = (8, 16, 32),
    hidden: int = 64,
    image_size: tuple[int, int] = (32, 32),
    downsample: str = "maxpool",
) -> nn.Sequential:
    """A small VGG-style CNN: one block per width, then two fully connected layers.

    With ``downsample="maxpool"`` a block is ``Conv 3x3 -> ReLU -> MaxPool 2`` (the
    networks Zeiler & Fergus visualised); with ``"stride"`` it is ``Conv 3x3 stride 2 ->
    ReLU``, the all-convolutional variant of Springenberg et al., which has no switches.
    Built from ``nn.ReLU`` modules, so that Captum can be compared with it too. Chapter 2
    trains one on :func:`cnnbook.data.make_shapes` and runs untrained ones.

    Parameters
    ----------
    n_classes
        Number of class scores.
    in_channels
        Image channels.
    widths
        Channels of each block; every block halves the height and width.
    hidden
        Units of the hidden fully connected layer.
    image_size
        ``(H, W)`` of the input, to size the first fully connected layer.
    downsample
        ``"maxpool"`` or ``"stride"``.

    Returns
    -------
    torch.nn.Sequential
    """
    if n_classes < 1 or in_channels < 1 or hidden < 1 or not widths or min(widths) < 1:
        raise ValueError("n_classes, in_channels, hidden and every width must be >= 1")
    if downsample not in ("maxpool", "stride"):
        raise ValueError(f"downsample must be 'maxpool' or 'stride', got {downsample!r}")
    h, w = image_size
    layers: list[nn.Module] = []
    c = in_channels
    for width in widths:
        if downsample == "maxpool":
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            h, w = h // 2, w // 2
        else:
            layers += [nn.Conv2d(c, width, 3, stride=2, padding=1), nn.ReLU()]
            h, w = (h + 1) // 2, (w + 1) // 2
        c = width
    if h < 1 or w < 1:
        raise ValueError(f"image_size {image_size} is too small for {len(widths)} poolings")
    layers += [nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)]
    return nn.Sequential(*layers)


#: Names of :mod:`cnnbook.recipes` that the chapters import from this module.
_RECIPE_NAMES = frozenset(
    {
        "BUILDERS",
        "DECODER_TRAINERS",
        "Q1_DENSE_HIDDEN",
        "Q1_DENSE_WIDTHS",
        "Q1_SAMPLE_KINDS",
        "Q1_SAMPLE_SEEDS",
        "Q1_SAMPLE_SIZES",
        "Q2_DECODER_LAYERS",
        "Q2_DECODER_SEEDS",
        "RECIPES",
        "TASKS",
        "Recipe",
        "canonical_json",
        "q1_sample_name",
        "q1_width_sweep",
        "q2_decoder_name",
        "recipe",
    }
)


def __getattr__(name: str) -> Any:
    """The recipe catalogue's names, from :mod:`cnnbook.recipes` when first asked for.

    Looked up lazily because :mod:`cnnbook.recipes` imports the builders of this module.
    """
    if name in _RECIPE_NAMES:
        from cnnbook import recipes

        return getattr(recipes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
