"""Projections of hidden units back to the input (Zeiler & Fergus 2014), for chapter 2.

- :func:`strongest_units`: where a feature map's strongest activation lies;
- :func:`project_unit`: project that activation back to the input under a rule;
- :func:`unit_maps`: several units of one layer projected from the same place.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cnnbook.attribution.maps import _check_input, attribute
from cnnbook.attribution.rules import RuleName, _rule


def strongest_units(activations: Tensor, channel: int) -> Tensor:
    """Flat index (into ``activations[i].flatten()``) of each example's strongest unit.

    Zeiler & Fergus project, for a chosen feature map, its strongest activation on each
    image; this finds it. Ties go to the first position in row-major order.

    Parameters
    ----------
    activations
        ``(N, C, H, W)`` feature maps.
    channel
        Feature map to search, ``0 <= channel < C``.

    Returns
    -------
    torch.Tensor
        ``(N,)`` int64 indices into the flattened ``(C, H, W)`` map.
    """
    if activations.ndim != 4:
        raise ValueError(f"activations must be (N, C, H, W), got {tuple(activations.shape)}")
    n, c, h, w = activations.shape
    if not 0 <= channel < c:
        raise ValueError(f"channel must be in 0..{c - 1}, got {channel}")
    position = activations[:, channel].reshape(n, h * w).argmax(dim=1)
    return channel * h * w + position


def project_unit(
    features: nn.Module, x: Tensor, channel: int, rule: RuleName = "deconvnet"
) -> Tensor:
    """Project one hidden activation back to the input (Zeiler & Fergus 2014, chapter 2).

    For each example, the strongest activation of feature map ``channel`` of
    ``features(x)`` is kept, every other activation of that layer is set to zero, and the
    result is sent back to the input under ``rule``. It is :func:`attribute` applied to
    ``features`` followed by a flatten, with that unit as the target.

    Parameters
    ----------
    features
        The network up to the layer of interest, returning ``(N, C, H, W)``.
    x
        Input batch.
    channel
        Feature map whose strongest unit is projected.
    rule
        ``"gradient"``, ``"deconvnet"`` (the paper's choice) or ``"guided"``.

    Returns
    -------
    torch.Tensor
        The projection, same shape as ``x``.
    """
    _rule(rule)
    with torch.no_grad():
        units = strongest_units(features(_check_input(x)), channel)
    return attribute(nn.Sequential(features, nn.Flatten()), x, units, rule)


def unit_maps(features: nn.Module, x: Tensor, rule: RuleName, units: int = 8) -> Tensor:
    """Projections of several units of one layer, all at the same place (chapter 2).

    For each example, the place (row, column) where the layer's strongest activation
    lies is found, and the ``units`` channels most active there are projected back to
    the input under ``rule``, one at a time, as :func:`project_unit` does. The maps
    differ only in which unit is projected, so comparing them
    (:func:`pairwise_rank_correlation`) measures how much a map depends on the unit
    (Mahendran & Vedaldi 2016). A unit that is not active there (activation 0) has no
    projection: its map is NaN.

    Parameters
    ----------
    features, x
        As in :func:`project_unit`.
    rule
        As in :func:`attribute`.
    units
        Number of channels projected, ``1 <= units <= C``.

    Returns
    -------
    torch.Tensor
        ``(units, N, ...)``: entry ``[j, i]`` projects example ``i``'s ``j``-th most
        active channel at its place (NaN where that unit is not active).
    """
    _rule(rule)
    with torch.no_grad():
        act = features(_check_input(x))
    if act.ndim != 4:
        raise ValueError(f"features must return (N, C, H, W), got {tuple(act.shape)}")
    n, c, h, w = act.shape
    if not 1 <= units <= c:
        raise ValueError(f"units must be in 1..{c}, got {units}")
    place = act.amax(dim=1).reshape(n, h * w).argmax(dim=1)  # (N,)
    at_place = act.reshape(n, c, h * w)[torch.arange(n), :, place]  # (N, C)
    value, channel = at_place.sort(dim=1, descending=True, stable=True)
    net = nn.Sequential(features, nn.Flatten())
    maps = []
    for j in range(units):
        m = attribute(net, x, channel[:, j] * h * w + place, rule)
        inactive = (value[:, j] <= 0).reshape(n, *([1] * (m.ndim - 1)))
        maps.append(torch.where(inactive, torch.nan, m))
    return torch.stack(maps)
