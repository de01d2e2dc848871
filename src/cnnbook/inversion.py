"""Chapter 2, the second idea: up-convolutional networks that invert a layer's features.

Dosovitskiy & Brox (2016) make a representation readable by *learning its inverse*: for
a trained network and one of its layers, a second network, built of up-convolutions
(a stride-2 transposed convolution, that is, zero-insertion upsampling then a
convolution, followed by a leaky ReLU), is trained to reconstruct the input image from
that layer's features, with the squared error in image space as its loss. Trained so,
it predicts the expected pre-image, the mean of the images that have these features,
and what its reconstructions keep, or lose, shows what the layer keeps.

- :func:`feature_layers`, :func:`features`: the layers of :func:`cnnbook.models.make_cnn`
  by name (``"block2"``, ``"fc1"``, ...), so that no chapter slices by index;
- :class:`UpConv`, :func:`make_decoder`: the up-convolution and the decoder of one layer;
- :class:`LinearDecoder`, :func:`fit_linear_decoder`, :func:`fit_linear_decoders`: the
  closed-form (ridge) baseline;
- :func:`mse`, :func:`centroid`, :func:`background_plane`, :func:`masked_correlation`: the
  measures of what a reconstruction keeps (intensity, the object's place, the ramp
  and the clutter of the background).

The decoders the chapter evaluates are recipes of :data:`cnnbook.recipes.RECIPES`,
trained by :func:`cnnbook.training.train_decoder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

# ---------------------------------------------------------------------------------------
# Named layers of the chapter's CNN
# ---------------------------------------------------------------------------------------


def feature_layers(model: nn.Module) -> dict[str, int]:
    """The named layers of a :func:`~cnnbook.models.make_cnn` network.

    Each name maps to the number of leading modules of ``model`` that compute that
    layer, so ``model[:feature_layers(model)[name]]`` is the network up to it. The
    names are ``"image"`` (no module: the input itself); ``"conv<k>"``, the output of
    the ``k``-th convolution's ReLU; ``"block<k>"``, the output of the ``k``-th block
    (after its max-pool; for the strided variant, the same as ``"conv<k>"``);
    ``"fc<k>"``, the ``k``-th hidden fully connected layer after its ReLU; and
    ``"logits"``, the class scores. The modules keep their indices, so naming them
    changes neither the ``state_dict`` keys nor the committed weights.

    Parameters
    ----------
    model
        A network built by :func:`~cnnbook.models.make_cnn`.

    Returns
    -------
    dict of str to int
        Names in the order of the forward pass.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"expected a make_cnn network (nn.Sequential), got {type(model).__name__}")
    names: dict[str, int] = {"image": 0}
    modules = list(model.children())
    n_conv = n_fc = 0
    for i, module in enumerate(modules):
        before = modules[i - 1] if i > 0 else None
        if isinstance(module, nn.ReLU) and isinstance(before, nn.Conv2d):
            n_conv += 1
            names[f"conv{n_conv}"] = i + 1
            if before.stride != (1, 1):
                names[f"block{n_conv}"] = i + 1
        elif isinstance(module, nn.MaxPool2d):
            names[f"block{n_conv}"] = i + 1
        elif isinstance(module, nn.ReLU) and isinstance(before, nn.Linear):
            n_fc += 1
            names[f"fc{n_fc}"] = i + 1
    if not modules or not isinstance(modules[-1], nn.Linear):
        raise ValueError("expected a make_cnn network, ending in its nn.Linear class scores")
    names["logits"] = len(modules)
    return names


def features(model: nn.Module, layer: str) -> nn.Sequential:
    """The network up to the named ``layer`` (see :func:`feature_layers`).

    The result shares its modules with ``model``, under the same indices: it is a
    view, not a copy.
    """
    names = feature_layers(model)
    if layer not in names:
        raise KeyError(f"no layer {layer!r}; the network has {tuple(names)}")
    return nn.Sequential(*list(model.children())[: names[layer]])


# ---------------------------------------------------------------------------------------
# The up-convolutional decoder
# ---------------------------------------------------------------------------------------

#: Slope of the decoders' leaky ReLUs for negative inputs (Dosovitskiy & Brox's choice).
LEAK = 0.2


class UpConv(nn.Sequential):
    """One up-convolution: doubles the height and width of its input.

    A transposed convolution with a 4x4 kernel, stride 2 and padding 1, that
    is: insert a zero between neighbouring values, pad by 2, correlate with
    the kernel flipped and its channel axes swapped. Then a leaky ReLU of
    slope :data:`LEAK`.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(
                in_channels,
                out_channels,
                4,
                stride=2,
                padding=1,
            ),
            nn.LeakyReLU(LEAK),
        )


def _decoder_width(size: int) -> int:
    """Channels of the decoder at a map of ``size`` x ``size``: 32 up to 8, 16 at 16, then 8."""
    return 32 if size <= 8 else 16 if size <= 16 else 8


def make_decoder(
    in_shape: Sequence[int], out_size: int = 32, out_channels: int = 1
) -> nn.Sequential:
    """The up-convolutional decoder of features of shape ``in_shape`` (chapter 2).

    Feature maps ``(C, h, w)`` with ``h == w`` a power-of-two fraction of
    ``out_size`` go through a 3x3 convolution and leaky ReLU, then one
    :class:`UpConv` per doubling up to ``out_size``. A vector ``(D,)`` (a fully
    connected layer or the class scores) goes through a fully connected layer to a
    32 x 4 x 4 map first. A last 3x3 convolution, without a nonlinearity, gives the
    image. The input ``(C, out_size, out_size)`` (the image itself) gets no up-convolution.

    Parameters
    ----------
    in_shape
        Shape of one example's features, ``(C, h, w)`` or ``(D,)``.
    out_size
        Side of the square image to reconstruct.
    out_channels
        Channels of that image.

    Returns
    -------
    torch.nn.Sequential
    """
    shape = tuple(int(s) for s in in_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"in_shape must be (C, h, h) or (D,) of positive sizes, got {shape}")
    layers: list[nn.Module] = []
    if len(shape) == 1:
        size, width = 4, _decoder_width(4)
        layers += [
            nn.Linear(shape[0], width * size * size),
            nn.LeakyReLU(LEAK),
            nn.Unflatten(1, (width, size, size)),
        ]
    elif len(shape) == 3 and shape[1] == shape[2]:
        size, width = shape[1], _decoder_width(shape[1])
        layers += [nn.Conv2d(shape[0], width, 3, padding=1), nn.LeakyReLU(LEAK)]
    else:
        raise ValueError(f"in_shape must be (C, h, h) or (D,), got {shape}")
    if out_size % size or (out_size // size) & (out_size // size - 1):
        raise ValueError(f"cannot up-sample {shape} to {out_size} by doublings")
    while size < out_size:
        size *= 2
        layers.append(UpConv(width, _decoder_width(size)))
        width = _decoder_width(size)
    layers.append(nn.Conv2d(width, out_channels, 3, padding=1))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------
# The closed-form linear baseline
# ---------------------------------------------------------------------------------------


class LinearDecoder(NamedTuple):
    """An affine map from flattened features to flattened images: ``phi @ weight + bias``."""

    weight: Tensor  # (D, P)
    bias: Tensor  # (P,)
    image_shape: tuple[int, ...]

    def __call__(self, phi: Tensor) -> Tensor:
        """Reconstructions ``(N, *image_shape)`` of features ``(N, ...)``."""
        flat = phi.reshape(phi.shape[0], -1).to(self.weight.dtype)
        return (flat @ self.weight + self.bias).reshape(phi.shape[0], *self.image_shape)


def fit_linear_decoder(phi: Tensor, images: Tensor, ridge: float = 0.0) -> LinearDecoder:
    """Least squares, or ridge, from features to images, in closed form (float64).

    Minimises ``sum ||phi_i W + b - x_i||^2 + lam ||W||^2`` with the bias not
    penalised, where ``lam = ridge * trace(Phi_c^T Phi_c) / D`` (``Phi_c`` the centred
    features, ``D`` their number), so that ``ridge`` does not depend on the features'
    scale. With ``ridge = 0`` the features' Gram matrix must be positive definite.

    Parameters
    ----------
    phi
        ``(N, ...)`` features of ``N`` training images.
    images
        ``(N, ...)`` the images.
    ridge
        Relative strength of the penalty, ``>= 0``.

    Returns
    -------
    LinearDecoder
    """
    return fit_linear_decoders(phi, images, (ridge,))[0]


def fit_linear_decoders(
    phi: Tensor, images: Tensor, ridges: Sequence[float]
) -> list[LinearDecoder]:
    """:func:`fit_linear_decoder` for several ``ridges`` at once, sharing the Gram matrix."""
    if phi.shape[0] != images.shape[0]:
        raise ValueError(f"mismatched dims: {phi.shape[0]} features for {images.shape[0]} images")
    if not ridges or min(ridges) < 0:
        raise ValueError(f"ridge must be >= 0, got {tuple(ridges)}")
    f = phi.reshape(phi.shape[0], -1).double()
    x = images.reshape(images.shape[0], -1).double()
    f_mean, x_mean = f.mean(dim=0), x.mean(dim=0)
    fc = f - f_mean
    gram, cross = fc.T @ fc, fc.T @ (x - x_mean)
    scale = float(torch.trace(gram)) / gram.shape[0]
    eye = torch.eye(gram.shape[0], dtype=gram.dtype)
    out = []
    for ridge in ridges:
        factor = torch.linalg.cholesky(gram + ridge * scale * eye)
        weight = torch.cholesky_solve(cross, factor)
        out.append(LinearDecoder(weight, x_mean - f_mean @ weight, tuple(images.shape[1:])))
    return out


# ---------------------------------------------------------------------------------------
# What a reconstruction keeps
# ---------------------------------------------------------------------------------------


def mse(reconstruction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each example, ``(N,)``: the decoders' loss."""
    if reconstruction.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(reconstruction.shape)}, {tuple(target.shape)}")
    return (reconstruction - target).pow(2).reshape(target.shape[0], -1).mean(dim=1)


def centroid(weights: Tensor) -> Tensor:
    """Centre of mass ``(row, column)`` of each non-negative map ``(N, H, W)``, ``(N, 2)``.

    Positions are pixel indices; a map whose weights sum to zero has a NaN centre.
    """
    if weights.ndim != 3:
        raise ValueError(f"weights must be (N, H, W), got {tuple(weights.shape)}")
    if bool((weights < 0).any()):
        raise ValueError("weights must be non-negative")
    _, h, w = weights.shape
    rows = torch.arange(h, dtype=weights.dtype)
    cols = torch.arange(w, dtype=weights.dtype)
    total = weights.sum(dim=(1, 2))
    row = (weights.sum(dim=2) * rows).sum(dim=1) / total
    col = (weights.sum(dim=1) * cols).sum(dim=1) / total
    return torch.stack([row, col], dim=1)


def _plane_design(h: int, w: int, dtype: torch.dtype) -> Tensor:
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=dtype), torch.arange(w, dtype=dtype), indexing="ij"
    )
    return torch.stack([torch.ones_like(rows), cols, rows], dim=-1).reshape(h * w, 3)


def background_plane(images: Tensor, masks: Tensor) -> Tensor:
    """The plane ``a + b * column + c * row`` fitted to each image's background, ``(N, 3)``.

    Least squares over the pixels outside the object's mask. The data's background is
    a ramp (a plane) plus clutter and noise, so ``(b, c)`` estimates the ramp's slope.

    Parameters
    ----------
    images
        ``(N, H, W)`` grey images.
    masks
        ``(N, H, W)`` bool, True on the object.

    Returns
    -------
    torch.Tensor
        ``(N, 3)``: ``(a, b, c)`` per image, in the images' dtype.
    """
    if images.ndim != 3 or images.shape != masks.shape:
        raise ValueError("images and masks must both be (N, H, W)")
    n, h, w = images.shape
    design = _plane_design(h, w, images.dtype)  # (HW, 3)
    keep = (~masks).reshape(n, h * w, 1).to(images.dtype)
    normal = torch.einsum("npi,pj->nij", keep * design, design)  # (N, 3, 3)
    rhs = torch.einsum("npi,np->ni", keep * design, images.reshape(n, h * w))
    return torch.linalg.solve(normal, rhs)


def plane_residual(images: Tensor, masks: Tensor) -> Tensor:
    """Each image minus its :func:`background_plane`: the background's clutter and noise."""
    n, h, w = images.shape
    plane = background_plane(images, masks) @ _plane_design(h, w, images.dtype).T
    return images - plane.reshape(n, h, w)


def masked_correlation(a: Tensor, b: Tensor, where: Tensor) -> Tensor:
    """Pearson correlation of ``a[i]`` and ``b[i]`` over the pixels ``where[i]``, ``(N,)``."""
    if not a.shape == b.shape == where.shape:
        raise ValueError("a, b and where must have the same shape")
    n = a.shape[0]
    keep = where.reshape(n, -1).to(a.dtype)
    count = keep.sum(dim=1, keepdim=True)
    av, bv = a.reshape(n, -1), b.reshape(n, -1)
    da = (av - (keep * av).sum(1, keepdim=True) / count) * keep
    db = (bv - (keep * bv).sum(1, keepdim=True) / count) * keep
    return (da * db).sum(1) / ((da * da).sum(1) * (db * db).sum(1)).sqrt()
