"""Chapter 4: dilated convolution, its output size, its Kronecker form, receptive fields.

Conventions used throughout (and in the chapter's proofs):

- a *dilated correlation* with rate ``D`` is the sheet's definition,
  ``(K *_D I)(i, j) = sum_m sum_n K(m, n) I(i + D m, j + D n)``, with the kernel
  indexed from 0 (``m = 0, ..., F - 1``), computed only where the kernel lies
  wholly inside the image (a *valid* correlation, what
  ``torch.nn.functional.conv2d`` computes with ``padding=0``); ``D = 1`` is the
  plain correlation of deep-learning libraries;
- the *dilated kernel* is ``K' = K (x) A`` (Kronecker product) with ``A`` the
  ``D x D`` matrix whose only non-zero entry is a 1 at ``(0, 0)``; it is
  ``F D`` wide, of which the last ``D - 1`` rows and columns are zero, and it is
  trimmed to its footprint ``D (F - 1) + 1`` before a plain correlation;
- the *receptive field* of a unit is the set of input positions it can depend
  on. For a stack of stride-1 layers with kernels ``K_l`` and dilations ``D_l``
  the set of offsets along one axis is the sum set
  ``{sum_l D_l m_l : 0 <= m_l < K_l}``; its width is
  ``1 + sum_l D_l (K_l - 1)``. It is measured as the support of the gradient of
  one output unit with respect to the input of a torch network.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn


def _positive(value: int, what: str) -> int:
    """``value`` as a Python int; raise unless it is an integer of at least 1."""
    try:
        number = operator.index(value)
    except TypeError as err:
        raise ValueError(f"{what} must be an integer, got {value!r}") from err
    if number < 1:
        raise ValueError(f"{what} must be at least 1, got {number}")
    return number


# ---------------------------------------------------------------------------------------
# The operator and its output size (parts (b) and (c))
# ---------------------------------------------------------------------------------------


def dilated_extent(kernel_size: int, dilation: int) -> int:
    """Width ``D (F - 1) + 1`` that ``F`` taps span when dilated by ``D``.

    Used by chapter 4 (parts (a) and (c)): the first and last taps sit at
    offsets 0 and ``D (F - 1)``.
    """
    f = _positive(kernel_size, "kernel_size")
    d = _positive(dilation, "dilation")
    return d * (f - 1) + 1


def output_size(size: int, kernel_size: int, dilation: int) -> int:
    """Length of a valid dilated correlation along one axis: ``M - D (F - 1)``.

    Used by chapter 4 (part (b)); the sheet writes it ``M - DF + D``. Output
    ``i`` needs input ``i + D m`` for every tap ``m = 0, ..., F - 1``, that is
    ``0 <= i <= M - 1 - D (F - 1)``.

    Parameters
    ----------
    size
        Input length ``M`` along the axis.
    kernel_size
        Kernel length ``F`` along the axis.
    dilation
        Dilation rate ``D``.

    Raises
    ------
    ValueError
        If the dilated kernel is longer than the input (no position of full
        overlap).
    """
    m = _positive(size, "size")
    extent = dilated_extent(kernel_size, dilation)
    if extent > m:
        raise ValueError(f"a kernel spanning {extent} does not fit an input of {m}")
    return m - extent + 1


def dilated_correlate(
    kernel: npt.ArrayLike,
    image: npt.ArrayLike,
    dilation: int,
) -> np.ndarray:
    """The sheet's dilated correlation ``(K *_D I)(i, j)``, tap by tap.

    Used by chapter 4 (parts (b) and (c)), as the definition the other
    forms are checked against: one term ``K(m, n) I(i + D m, j + D n)`` per
    kernel entry, for all output positions ``(i, j)`` of full overlap at
    once.

    Parameters
    ----------
    kernel
        ``(F1, F2)`` kernel ``K``.
    image
        ``(M, N)`` input ``I``.
    dilation
        Dilation rate ``D`` (1 gives the plain correlation).

    Returns
    -------
    numpy.ndarray
        ``(M - D (F1 - 1), N - D (F2 - 1))`` output.
    """
    kernel, image = np.asarray(kernel), np.asarray(image)
    if kernel.ndim != 2 or image.ndim != 2:
        shapes = f"{kernel.shape} and {image.shape}"
        raise ValueError(f"expected a 2-D kernel and image, got {shapes}")
    D = _positive(dilation, "dilation")
    rows = output_size(image.shape[0], kernel.shape[0], D)
    cols = output_size(image.shape[1], kernel.shape[1], D)
    dtype = np.result_type(kernel, image, np.float64)
    out = np.zeros((rows, cols), dtype=dtype)
    for m in range(kernel.shape[0]):
        for n in range(kernel.shape[1]):
            window = image[D * m : D * m + rows, D * n : D * n + cols]
            out += kernel[m, n] * window
    return out


def selector(dilation: int) -> np.ndarray:
    """The ``D x D`` matrix ``A = e_1 e_1^T``: 1 at ``(0, 0)``, else 0.

    Used by chapter 4 (part (c)): ``K (x) A`` puts ``K(p, q)`` at
    ``(p D, q D)`` and zeros in between.
    """
    D = _positive(dilation, "dilation")
    A = np.zeros((D, D))
    A[0, 0] = 1.0
    return A


def dilated_kernel(
    kernel: npt.ArrayLike,
    dilation: int,
    *,
    trim: bool = True,
) -> np.ndarray:
    """The dilated kernel ``K' = K (x) A`` (``numpy.kron``), trimmed to fit.

    Used by chapter 4 (part (c)). ``K (x) A`` is ``(F1 D, F2 D)``; its
    last ``D - 1`` rows and columns are zero. With ``trim`` (the default)
    they are cut off, leaving the ``(D (F1 - 1) + 1, D (F2 - 1) + 1)``
    kernel whose plain valid correlation equals the dilated one.

    Parameters
    ----------
    kernel
        ``(F1, F2)`` kernel ``K``.
    dilation
        Dilation rate ``D``.
    trim
        Cut off the trailing zero rows and columns.
    """
    K = np.asarray(kernel)
    if K.ndim != 2:
        raise ValueError(f"expected a 2-D kernel, got shape {K.shape}")
    D = _positive(dilation, "dilation")
    full = np.kron(K, selector(D))
    if not trim:
        return full
    rows, cols = (dilated_extent(f, D) for f in K.shape)
    return full[:rows, :cols]


# ---------------------------------------------------------------------------------------
# Receptive fields (part (a)) and the gridding artefact
# ---------------------------------------------------------------------------------------


def _layers(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> list[tuple[int, int]]:
    if len(kernel_sizes) != len(dilations):
        raise ValueError(
            f"one dilation per layer: {len(kernel_sizes)} kernels, {len(dilations)} dilations"
        )
    return [
        (_positive(k, "kernel size"), _positive(d, "dilation"))
        for k, d in zip(kernel_sizes, dilations, strict=True)
    ]


def receptive_field(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> int:
    """Width ``1 + sum_l D_l (K_l - 1)`` of the receptive field of a stride-1 stack.

    Used by chapter 4 (part (a)): ``K`` for one plain layer, ``D (K - 1) + 1``
    for one dilated layer. An empty stack (the input itself) has width 1.
    """
    return 1 + sum(d * (k - 1) for k, d in _layers(kernel_sizes, dilations))


def receptive_offsets(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> np.ndarray:
    """The input offsets one unit of a stride-1 stack sees, along one axis (sorted).

    Used by chapter 4 (the gridding artefact): layer ``l`` adds ``D_l m`` with
    ``0 <= m < K_l`` to every offset seen so far, so the set is
    ``{sum_l D_l m_l : 0 <= m_l < K_l}``. Its smallest element is 0 and its largest
    ``receptive_field(...) - 1``; offsets in between that are missing are inputs
    the unit never sees.
    """
    offsets = np.zeros(1, dtype=np.int64)
    for k, d in _layers(kernel_sizes, dilations):
        offsets = np.unique(offsets[:, None] + d * np.arange(k)[None, :])
    return offsets


def hole_free(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> bool:
    """Whether a stride-1 stack sees every input within its receptive field.

    Used by chapter 4 (the gridding artefact and its remedy). The offsets do not
    depend on the order of the layers, so take them in increasing dilation: the
    stack is hole-free if and only if each dilation is at most the width seen by
    the layers of smaller dilation before it,
    ``D_(j) <= 1 + sum_{i < j} D_(i) (K_(i) - 1)``. Layers with a kernel of 1
    see nothing new and are left out.
    """
    width = 1
    layers = _layers(kernel_sizes, dilations)
    for d, k in sorted((d, k) for k, d in layers if k > 1):
        if d > width:
            return False
        width += d * (k - 1)
    return True


def dilated_stack(
    kernel_sizes: Sequence[int],
    dilations: Sequence[int],
    *,
    ndim: int = 1,
    channels: int = 1,
    bias: bool = False,
    weight_range: tuple[float, float] = (0.5, 1.5),
    seed: int = 0,
) -> nn.Sequential:
    """A stack of stride-1, unpadded, dilated convolutions in float64 (torch layers).

    Used by chapter 4 to measure receptive fields and count parameters. The
    weights are drawn uniformly from ``weight_range``: all positive, so that the
    gradient of an output unit with respect to the input is a sum of positive
    path products, non-zero exactly on the receptive field (a linear stack with
    signed weights could cancel by chance).

    Parameters
    ----------
    kernel_sizes, dilations
        One kernel size and one dilation per layer (square kernels when
        ``ndim == 2``).
    ndim
        1 for ``Conv1d`` layers, 2 for ``Conv2d``.
    channels
        Input and output channels of every layer.
    bias
        Give every layer a bias (zero); it changes the parameter count, not the
        field.
    weight_range
        Bounds ``(low, high)`` of the weights, ``0 < low <= high``; ``(1, 1)``
        makes the input gradient count the paths from each input to the unit.
    seed
        Seed of the weights.
    """
    if ndim not in (1, 2):
        raise ValueError(f"ndim must be 1 or 2, got {ndim}")
    c = _positive(channels, "channels")
    low, high = weight_range
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got {weight_range}")
    conv = nn.Conv1d if ndim == 1 else nn.Conv2d
    generator = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for k, d in _layers(kernel_sizes, dilations):
        layer = conv(c, c, k, dilation=d, bias=bias, dtype=torch.float64)
        with torch.no_grad():
            u = torch.rand(layer.weight.shape, generator=generator, dtype=torch.float64)
            layer.weight.copy_(low + (high - low) * u)
            if layer.bias is not None:
                layer.bias.zero_()
        layers.append(layer)
    return nn.Sequential(*layers)


def receptive_field_map(
    network: nn.Module,
    input_shape: Sequence[int],
) -> np.ndarray:
    """Gradient of the centre output unit (channel 0) w.r.t. the input.

    Used by chapter 4 (part (a) and the gridding artefact). Its support,
    the inputs where it is non-zero, is the unit's measured receptive field
    (for a network whose paths cannot cancel, such as
    :func:`dilated_stack`); its values count the weighted paths from each
    input to the unit.

    Parameters
    ----------
    network
        A torch module taking ``(1, C, *input_shape)`` float64 inputs.
    input_shape
        Spatial shape of the input, large enough for the field to fit.

    Returns
    -------
    numpy.ndarray
        ``input_shape`` array, summed over the input channels.
    """
    shape = tuple(_positive(s, "input size") for s in input_shape)
    first = next(p for p in network.parameters())
    channels = first.shape[1]
    x = torch.ones((1, channels, *shape), dtype=torch.float64)
    x.requires_grad_(True)
    out = network(x)
    centre = tuple(s // 2 for s in out.shape[2:])
    out[(0, 0, *centre)].backward()
    assert x.grad is not None
    return x.grad[0].sum(dim=0).detach().numpy()


def support_extent(field: npt.ArrayLike) -> tuple[int, ...]:
    """Width of the smallest box that holds every non-zero entry, along each axis.

    Used by chapter 4: the measured width of a receptive field from its map.
    """
    nonzero = np.nonzero(np.asarray(field))
    if nonzero[0].size == 0:
        raise ValueError("the map has no non-zero entry")
    return tuple(int(ix.max() - ix.min() + 1) for ix in nonzero)


def coverage(field: npt.ArrayLike) -> float:
    """Share of the receptive field's box whose inputs the unit actually sees.

    Used by chapter 4 (the gridding artefact): 1 for a hole-free stack, less
    when the dilations leave inputs no output sees.
    """
    seen = np.asarray(field) != 0
    return float(seen.sum() / np.prod(support_extent(seen)))
