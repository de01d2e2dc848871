"""Sanity checks of attribution maps (Adebayo et al. 2018; Nie et al. 2018), for chapter 2.

- :func:`rank_correlation` and :func:`pairwise_rank_correlation`: Spearman correlation
  between maps, ties at their mean rank;
- :func:`localisation` and :func:`outline`: how much of a map's positive attribution
  falls on an object, or on its edges;
- :func:`cascading_randomization`: the model-parameter randomisation test, from the top
  layer down.

The maps themselves come from :mod:`cnnbook.attribution`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbook.attribution import RULES, RuleName, Target, attribute
from cnnbook.attribution.rules import _rule


def _ranks(v: Tensor) -> Tensor:
    """Row-wise ranks ``1..M`` of an ``(N, M)`` tensor, ties sharing their mean rank."""
    n, m = v.shape
    s, order = v.sort(dim=1, stable=True)
    starts = torch.ones(n, m, dtype=torch.bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    group = starts.cumsum(dim=1) - 1  # index of each sorted entry's run of ties
    position = torch.arange(1, m + 1, dtype=torch.float64).expand(n, m)
    total = torch.zeros(n, m, dtype=torch.float64).scatter_add_(1, group, position)
    count = torch.zeros(n, m, dtype=torch.float64).scatter_add_(1, group, torch.ones_like(position))
    mean = (total / count.clamp(min=1)).gather(1, group)  # each run's mean rank
    return torch.empty_like(mean).scatter_(1, order, mean)


def _unit_ranks(v: Tensor, keep: Tensor | None = None) -> Tensor:
    """Each row's ranks, centred and scaled to unit length: ``rho(a, b) = (ua * ub).sum(1)``.

    ``v`` is ``(N, M)`` float64. Only the entries where ``keep`` is true are ranked
    (among themselves); the others get 0. A row without a ranking (constant, or holding
    a NaN) is NaN.
    """
    undefined = v.isnan().any(dim=1, keepdim=True)
    v = v.nan_to_num(0.0)
    if keep is None:
        r = _ranks(v)
        r = r - (v.shape[1] + 1) / 2
    else:
        # Left-out entries rank above every kept one, so the kept ones rank 1..k among
        # themselves; centring on (k + 1) / 2 and zeroing the rest leaves only them.
        r = _ranks(torch.where(keep, v, torch.inf))
        centre = (keep.sum(dim=1, keepdim=True) + 1).to(torch.float64) / 2
        r = torch.where(keep, r - centre, 0.0)
    r = r / torch.linalg.vector_norm(r, dim=1, keepdim=True)  # 0 / 0 = NaN if constant
    return torch.where(undefined, torch.nan, r)


def rank_correlation(a: Tensor, b: Tensor, where: Tensor | None = None) -> Tensor:
    """Spearman rank correlation between ``a[i]`` and ``b[i]`` for each example ``i``.

    Ties get their average rank (as ``scipy.stats.spearmanr``). A constant map has no
    ranking: its correlation is NaN (silently), and so is that of a map holding a NaN.
    Chapter 2 compares attribution maps with it, as Adebayo et al. (2018) do.

    Parameters
    ----------
    a, b
        Tensors of the same shape ``(N, ...)``; each example is flattened.
    where
        Optional boolean tensor of the same shape: correlate each example over the
        entries where it is true only (ranked among themselves).

    Returns
    -------
    torch.Tensor
        ``(N,)`` float64 correlations in ``[-1, 1]``.
    """
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(
            f"a and b must have the same shape (N, ...), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if where is not None and (where.shape != a.shape or where.dtype != torch.bool):
        raise ValueError(f"where must be a boolean tensor of shape {tuple(a.shape)}")
    n = a.shape[0]
    keep = None if where is None else where.reshape(n, -1)
    ua = _unit_ranks(a.detach().reshape(n, -1).to(torch.float64), keep)
    ub = _unit_ranks(b.detach().reshape(n, -1).to(torch.float64), keep)
    return (ua * ub).sum(dim=1)


def localisation(attributions: Tensor, masks: Tensor) -> Tensor:
    """Share of each map's positive attribution that falls inside the object mask.

    ``sum(max(A, 0) * mask) / sum(max(A, 0))``, summed over channels and pixels; NaN for
    a map with no positive value. Chance level is the mask's share of the image.
    Chapter 2 scores the three rules with it.

    Parameters
    ----------
    attributions
        ``(N, C, H, W)`` maps.
    masks
        ``(N, H, W)`` or ``(N, 1, H, W)`` boolean object masks.

    Returns
    -------
    torch.Tensor
        ``(N,)`` shares in ``[0, 1]``.
    """
    if attributions.ndim != 4:
        raise ValueError(f"attributions must be (N, C, H, W), got {tuple(attributions.shape)}")
    m = masks[:, None] if masks.ndim == 3 else masks
    n, _, h, w = attributions.shape
    if m.ndim != 4 or m.shape[0] != n or m.shape[1] != 1 or m.shape[2:] != (h, w):
        raise ValueError(f"masks must be (N, H, W) = ({n}, {h}, {w}), got {tuple(masks.shape)}")
    pos = torch.relu(attributions.detach()).to(torch.float64)
    inside = (pos * m.to(torch.float64)).sum(dim=(1, 2, 3))
    return inside / pos.sum(dim=(1, 2, 3))


def outline(masks: Tensor, width: int = 1) -> Tensor:
    """The band of pixels at most ``width`` pixels from an object's boundary (chapter 2).

    A pixel is in the band when its ``(2 width + 1)``-square neighbourhood holds both
    object and background (pixels beyond the image's border count as background), so
    the band straddles the boundary: ``width`` pixels inside, ``width`` outside. Scored
    with :func:`localisation`, it asks whether a map follows the object's edges.

    Parameters
    ----------
    masks
        ``(N, H, W)`` boolean object masks.
    width
        Half-width of the band, in pixels (``>= 1``).

    Returns
    -------
    torch.Tensor
        ``(N, H, W)`` boolean band.
    """
    if masks.ndim != 3 or masks.dtype != torch.bool:
        raise ValueError(f"masks must be boolean (N, H, W), got {masks.dtype} {tuple(masks.shape)}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    m = masks[:, None].to(torch.float64)
    k = 2 * width + 1
    any_object = F.max_pool2d(m, k, 1, width)  # padding counts as -inf: no object
    padded = F.pad(1.0 - m, (width,) * 4, value=1.0)  # beyond the border: background
    any_background = F.max_pool2d(padded, k, 1)
    return ((any_object > 0) & (any_background > 0))[:, 0]


def _parametrised_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Layers owning parameters directly, in the order ``named_modules`` lists them."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if any(True for _ in m.parameters(recurse=False)) and hasattr(m, "reset_parameters")
    ]


@dataclass(frozen=True)
class Cascade:
    """Outcome of :func:`cascading_randomization`.

    Attributes
    ----------
    layers
        Names of the layers, top first: step ``s`` has re-initialised ``layers[:s]``.
    correlation
        For each rule, an ``(S + 1, N)`` array: the rank correlation between each
        example's map from the trained model and from the model at step ``s``
        (row 0 compares the trained model with itself).
    maps
        For each rule, an ``(S + 1, N, ...)`` array of the maps themselves.
    """

    layers: list[str]
    correlation: dict[RuleName, np.ndarray]
    maps: dict[RuleName, np.ndarray]


def cascading_randomization(
    model: nn.Module,
    x: Tensor,
    target: Target,
    rules: Sequence[RuleName] = tuple(RULES),
    seed: int = 0,
    absolute: bool = True,
) -> Cascade:
    """Model-parameter randomisation test, cascading from the top (Adebayo et al. 2018).

    A copy of ``model`` has its layers re-initialised (``reset_parameters``) one at a
    time, from the output layer down to the first; after each step the maps of every
    rule are recomputed and compared with the trained model's maps by rank correlation.
    A map that explains the model should decorrelate as its weights are destroyed.
    ``model`` itself is not touched, and the global random state is left as it was.
    Used by chapter 2.

    Parameters
    ----------
    model
        Trained classifier.
    x, target
        As in :func:`attribute`.
    rules
        Rules to test.
    seed
        Seed of the re-initialisation.
    absolute
        Correlate ``|map|`` (Adebayo et al.'s main variant) rather than the signed map.

    Returns
    -------
    Cascade
    """
    for rule in rules:
        _rule(rule)
    clone = copy.deepcopy(model)
    layers = list(reversed(_parametrised_layers(clone)))
    if not layers:
        raise ValueError("model has no layer with parameters to randomise")
    maps: dict[RuleName, list[Tensor]] = {
        rule: [attribute(clone, x, target, rule)] for rule in rules
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _, layer in layers:
            with torch.no_grad():
                layer.reset_parameters()  # type: ignore[operator]
            for rule in rules:
                maps[rule].append(attribute(clone, x, target, rule))
    correlation = {}
    n = x.shape[0]
    for rule, steps in maps.items():
        u = [
            _unit_ranks((m.abs() if absolute else m).reshape(n, -1).to(torch.float64))
            for m in steps
        ]
        correlation[rule] = np.stack([(u[0] * v).sum(dim=1).numpy() for v in u])
    return Cascade(
        layers=[name for name, _ in layers],
        correlation=correlation,
        maps={rule: torch.stack(steps).numpy() for rule, steps in maps.items()},
    )


def pairwise_rank_correlation(
    maps: Tensor, absolute: bool = True, within_support: bool = False
) -> Tensor:
    """Rank correlation between every pair of an example's maps (chapter 2).

    Parameters
    ----------
    maps
        ``(K, N, ...)``: ``K`` maps of each of ``N`` examples (from :func:`class_maps`
        or :func:`unit_maps`). A map holding NaN gives NaN correlations.
    absolute
        Correlate ``|map|`` rather than the signed map.
    within_support
        Correlate an example's maps only over the entries where at least one of its
        ``K`` maps is non-zero. A hidden unit's projection is zero outside its receptive
        field; counted there, the zeros that all the projections of one place share
        would make any two of them look alike.

    Returns
    -------
    torch.Tensor
        ``(N, K, K)`` float64: entry ``[i, j, k]`` correlates maps ``j`` and ``k`` of
        example ``i`` (1 on the diagonal where a map has a ranking).
    """
    if maps.ndim < 2:
        raise ValueError(f"maps must be (K, N, ...), got {tuple(maps.shape)}")
    k, n = maps.shape[:2]
    m = maps.detach().abs() if absolute else maps.detach()
    m = m.reshape(k, n, -1).to(torch.float64)
    keep = ((m != 0) & ~m.isnan()).any(dim=0) if within_support else None
    u = torch.stack([_unit_ranks(m[i], keep) for i in range(k)], dim=1)  # (N, K, M)
    return torch.einsum("nim,njm->nij", u, u)
