"""Chapter 3: the 1-D CNN of question 3, its shapes and its parameter count."""

from __future__ import annotations

from dataclasses import dataclass

PARAM_NAMES: tuple[str, ...] = ("W_C", "b_C", "W_B", "b_B", "W_A", "b_A")


@dataclass(frozen=True)
class Spec:
    """Hyper-parameters of the network ``X -> Conv1 + ReLU -> AVGPOOL1 -> FC1 + ReLU -> Z``.

    ``padding`` zeros are added at *each* end of the input; the convolution has one
    channel; the pooling averages windows of ``pool`` taken every ``pool_stride`` and
    drops trailing positions that do not fill a window.
    """

    length: int = 785
    padding: int = 1
    kernel: int = 2
    stride: int = 1
    pool: int = 2
    pool_stride: int = 2
    hidden: int = 16

    def __post_init__(self) -> None:
        for name in ("length", "kernel", "stride", "pool", "pool_stride", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"Spec.{name} must be >= 1, got {getattr(self, name)}")
        if self.padding < 0:
            raise ValueError(f"Spec.padding must be >= 0, got {self.padding}")
        if self.conv_length < 1:
            raise ValueError(
                f"Conv1 comes out empty: padded length {self.padded_length} < kernel {self.kernel}"
            )
        if self.pooled_length < 1:
            raise ValueError(
                f"AVGPOOL1 comes out empty: conv length {self.conv_length} < window {self.pool}"
            )

    @property
    def padded_length(self) -> int:
        """Length after zero padding, ``L + 2p``."""
        return self.length + 2 * self.padding

    @property
    def conv_length(self) -> int:
        """Length of Conv1's output, ``floor((L + 2p - k) / s) + 1`` (0 when empty)."""
        span = self.padded_length - self.kernel
        return span // self.stride + 1 if span >= 0 else 0

    @property
    def pooled_length(self) -> int:
        """Length of AVGPOOL1's output ``P``, ``floor((C - w) / s_pool) + 1`` (0 when empty)."""
        span = self.conv_length - self.pool
        return span // self.pool_stride + 1 if span >= 0 else 0


def count_parameters(spec: Spec) -> dict[str, int]:
    """Number of trainable parameters of each group and in total.

    Conv1 has ``k`` weights and one bias; pooling has none; FC1 has ``m * P`` weights
    and ``m`` biases; the output unit has ``m`` weights and one bias.
    """
    counts = {
        "W_C": spec.kernel,
        "b_C": 1,
        "W_B": spec.hidden * spec.pooled_length,
        "b_B": spec.hidden,
        "W_A": spec.hidden,
        "b_A": 1,
    }
    counts["total"] = sum(counts.values())
    return counts
