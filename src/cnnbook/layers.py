"""Torch layers that torch does not have, for chapter 1's networks (:mod:`cnnbook.models`).

- :class:`LocallyConnected1d`: a convolution's receptive field with a kernel per position;
- :class:`BlurPool1d`, :func:`binomial_filter`: anti-aliased downsampling;
- :class:`CircularMaxPool1d`: a stride-1 max pool that wraps around.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.equivariance.shifts import PaddingMode, check_padding_mode


def _pad_same(x: torch.Tensor, kernel_size: int, padding_mode: PaddingMode) -> torch.Tensor:
    left = (kernel_size - 1) // 2
    pad = (left, kernel_size - 1 - left)
    if padding_mode == "circular":
        return F.pad(x, pad, mode="circular")
    return F.pad(x, pad)


class LocallyConnected1d(nn.Module):
    """A 1-D layer with the receptive field of a convolution but its own kernel at every position.

    Local, but not shared: chapter 1 compares it with ``nn.Conv1d`` (shared) and
    ``nn.Linear`` (neither). ``y[b, o, i] = bias[o, i] + sum_{c, j} weight[i, o, c, j]
    x_pad[b, c, i + j]`` with "same" padding.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    length
        Signal length (the layer has one kernel per output position).
    kernel_size
        Odd receptive-field size.
    padding_mode
        ``"circular"`` or ``"zeros"``.
    bias
        Whether every position has its own bias.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        length: int,
        kernel_size: int,
        padding_mode: PaddingMode = "circular",
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_padding_mode(padding_mode)
        if kernel_size % 2 == 0 or kernel_size < 1:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        if kernel_size > length:
            raise ValueError(f"kernel_size {kernel_size} is larger than the length {length}")
        self.length = length
        self.kernel_size = kernel_size
        self.padding_mode = padding_mode
        bound = 1.0 / math.sqrt(in_channels * kernel_size)
        self.weight = nn.Parameter(
            torch.empty(length, out_channels, in_channels, kernel_size).uniform_(-bound, bound)
        )
        self.bias = (
            nn.Parameter(torch.empty(out_channels, length).uniform_(-bound, bound))
            if bias
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.length or x.shape[1] != self.weight.shape[2]:
            raise ValueError(
                f"mismatched dims: expected (batch, {self.weight.shape[2]}, {self.length}), "
                f"got {tuple(x.shape)}"
            )
        windows = _pad_same(x, self.kernel_size, self.padding_mode).unfold(-1, self.kernel_size, 1)
        y = torch.einsum("bcij,iocj->boi", windows, self.weight)
        return y if self.bias is None else y + self.bias


def binomial_filter(taps: int) -> np.ndarray:
    """The normalised binomial low-pass filter with ``taps`` taps (``[1, 2, 1] / 4`` for 3)."""
    if taps < 1:
        raise ValueError(f"taps must be positive, got {taps}")
    coeffs = np.array([math.comb(taps - 1, j) for j in range(taps)], dtype=np.float64)
    return coeffs / coeffs.sum()


class BlurPool1d(nn.Module):
    """Blur with a binomial filter, then subsample: anti-aliased downsampling (Zhang 2019).

    Chapter 1 swaps it in after a stride-1 max pool and measures how much shift
    consistency it restores. Circular padding; every channel is filtered alike.
    """

    filt: torch.Tensor  # the filter, a buffer (moves with the module, not trained)

    def __init__(self, stride: int = 2, taps: int = 3) -> None:
        super().__init__()
        if stride < 1:
            raise ValueError(f"stride must be positive, got {stride}")
        self.stride = stride
        self.taps = taps
        filt = torch.from_numpy(binomial_filter(taps))
        self.register_buffer("filt", filt, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            shape = "(batch, channels, length)"
            msg = f"mismatched dims: expected {shape}, got {x.shape}"
            raise ValueError(msg)
        channels = x.shape[1]
        weight = self.filt.to(x.dtype).expand(channels, 1, self.taps)
        padded = _pad_same(x, self.taps, "circular")
        return F.conv1d(padded, weight, stride=self.stride, groups=channels)


class CircularMaxPool1d(nn.Module):
    """Max over a window of ``kernel_size`` samples at every position (stride 1, circular)."""

    def __init__(self, kernel_size: int = 2) -> None:
        super().__init__()
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be positive, got {kernel_size}")
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (0, self.kernel_size - 1), mode="circular")
        return F.max_pool1d(padded, self.kernel_size, stride=1)
