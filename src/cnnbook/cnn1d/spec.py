"""The network of question 3: its hyper-parameters, parameter counts and initial values.

- :class:`Spec`: sizes, padding, strides and the derived lengths of chapter 3's network;
- :data:`PARAM_NAMES`, :data:`Params`: the six parameter groups, in the sheet's names;
- :func:`count_parameters`, :func:`count_in_m`: the network's parameters, per group and
  as ``a * m + b`` in the FC1 width;
- :func:`init_params`, :func:`check_params`: random parameters, and the checks every
  entry point applies to parameters and inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

PARAM_NAMES: tuple[str, ...] = ("W_C", "b_C", "W_A", "b_M", "W_F", "b_F")

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class Spec:
    """Hyper-parameters of the network ``X -> Conv1 + ReLU -> AVGPOOL1 -> FC1 + ReLU -> Z``.

    ``padding`` zeros are added at *each* end of the input (``padding_right``, when given,
    overrides the number at the right end, so that padding at one end only can be
    expressed); the convolution has one channel and is a cross-correlation with stride
    ``stride``; the pooling averages windows of ``pool`` taken every ``pool_stride`` and
    drops trailing positions that do not fill a window; FC1 has ``hidden`` units (the
    sheet's Figure 1 gives 20, the default).

    Used by chapter 3. Raises ``ValueError`` when a size is out of range or a layer comes
    out empty.
    """

    length: int = 785
    padding: int = 1
    kernel: int = 2
    stride: int = 1
    pool: int = 2
    pool_stride: int = 2
    hidden: int = 20
    padding_right: int | None = None

    def __post_init__(self) -> None:
        for name in ("length", "padding", "kernel", "stride", "pool", "pool_stride", "hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"Spec.{name} must be an integer, got {value!r}")
        if self.padding_right is not None and (
            isinstance(self.padding_right, bool)
            or not isinstance(self.padding_right, int | np.integer)
        ):
            raise ValueError(f"Spec.padding_right must be an integer, got {self.padding_right!r}")
        for name in ("length", "kernel", "stride", "pool", "pool_stride", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"Spec.{name} must be >= 1, got {getattr(self, name)}")
        if self.padding < 0:
            raise ValueError(f"Spec.padding must be >= 0, got {self.padding}")
        if self.padding_right is not None and self.padding_right < 0:
            raise ValueError(f"Spec.padding_right must be >= 0, got {self.padding_right}")
        if self.conv_length < 1:
            raise ValueError(
                f"Conv1 comes out empty: padded length {self.padded_length} < kernel {self.kernel}"
            )
        if self.pooled_length < 1:
            raise ValueError(
                f"AVGPOOL1 comes out empty: conv length {self.conv_length} < window {self.pool}"
            )

    @property
    def pad_left(self) -> int:
        """Zeros added before the first sample."""
        return self.padding

    @property
    def pad_right(self) -> int:
        """Zeros added after the last sample (``padding`` unless ``padding_right`` is set)."""
        return self.padding if self.padding_right is None else self.padding_right

    @property
    def padded_length(self) -> int:
        """Length after zero padding, ``L + 2p`` (or ``L + p_left + p_right``)."""
        return self.length + self.pad_left + self.pad_right

    @property
    def conv_length(self) -> int:
        """Length of Conv1's output, ``floor((L + 2p - k) / s) + 1`` (0 when empty)."""
        span = self.padded_length - self.kernel
        return span // self.stride + 1 if span >= 0 else 0

    @property
    def pooled_length(self) -> int:
        """Length of AVGPOOL1's output ``L_P``, ``floor((L_C - w) / s_pool) + 1`` (0 when empty)."""
        span = self.conv_length - self.pool
        return span // self.pool_stride + 1 if span >= 0 else 0

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each parameter group, keyed by the sheet's names."""
        m, length_p = self.hidden, self.pooled_length
        return {
            "W_C": (self.kernel,),
            "b_C": (),
            "W_A": (m, length_p),
            "b_M": (m,),
            "W_F": (m,),
            "b_F": (),
        }


def count_parameters(spec: Spec) -> dict[str, int]:
    """Number of trainable parameters of each group and in total.

    Conv1 has ``k`` weights and one bias; pooling has none; FC1 has ``m * L_P`` weights
    and ``m`` biases; the output unit has ``m`` weights and one bias. Used by chapter 3.

    Returns
    -------
    dict
        Keys ``"W_C", "b_C", "W_A", "b_M", "W_F", "b_F", "total"``.
    """
    counts = {
        "W_C": spec.kernel,
        "b_C": 1,
        "W_A": spec.hidden * spec.pooled_length,
        "b_M": spec.hidden,
        "W_F": spec.hidden,
        "b_F": 1,
    }
    counts["total"] = sum(counts.values())
    return counts


def count_in_m(spec: Spec) -> dict[str, tuple[int, int]]:
    """Each group's count, and the total, as ``a * m + b`` in the FC1 width ``m``.

    Every count of :func:`count_parameters` is affine in ``m = spec.hidden``
    (no group has a term in ``m`` squared), so two widths fix it: ``a`` is the
    count at ``m = 2`` minus the count at ``m = 1``, and ``b`` what is left.
    The ``hidden`` of ``spec`` itself is ignored. Used by chapter 3, whose
    answer ``395 m + 4`` is ``count_in_m(Spec())["total"] == (395, 4)``.

    Returns
    -------
    dict
        Same keys as :func:`count_parameters`, each mapped to ``(a, b)``.
    """
    one = count_parameters(replace(spec, hidden=1))
    two = count_parameters(replace(spec, hidden=2))
    return {name: (two[name] - one[name], 2 * one[name] - two[name]) for name in one}


def init_params(spec: Spec, seed: int = 0) -> Params:
    """Random parameters, drawn as torch draws them by default for ``Conv1d`` and ``Linear``.

    Every weight and bias of a layer is uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``,
    with ``fan_in`` = ``k`` (Conv1), ``L_P`` (FC1) and ``m`` (Z). Used by chapter 3.

    Returns
    -------
    dict
        ``W_C (k,)``, ``b_C ()``, ``W_A (m, L_P)``, ``b_M (m,)``, ``W_F (m,)``, ``b_F ()``,
        float64.
    """
    rng = np.random.default_rng(seed)
    fan_in = {"W_C": spec.kernel, "W_A": spec.pooled_length, "W_F": spec.hidden}
    fan_in |= {"b_C": spec.kernel, "b_M": spec.pooled_length, "b_F": spec.hidden}
    params: Params = {}
    for name, shape in spec.shapes().items():
        bound = 1.0 / np.sqrt(fan_in[name])
        params[name] = rng.uniform(-bound, bound, size=shape)
    return params


def _real_array(value: npt.ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{what} holds non-finite values (NaN or inf)")
    return array


def check_params(spec: Spec, params: Mapping[str, npt.ArrayLike]) -> Params:
    """Validate a params dict against ``spec`` and return it as float64 arrays.

    Raises ``ValueError`` on missing or unexpected keys, wrong shapes, and non-real or
    non-finite values. Used by chapter 3.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"params is missing keys {missing}")
    extra = sorted(set(params) - set(PARAM_NAMES))
    if extra:
        raise ValueError(f"params has unexpected keys {extra}")
    checked: Params = {}
    for name, shape in spec.shapes().items():
        array = _real_array(params[name], f"params[{name!r}]")
        if array.shape != shape:
            raise ValueError(f"params[{name!r}] has shape {array.shape}, expected {shape}")
        checked[name] = array
    return checked


def _check_x(spec: Spec, x: npt.ArrayLike) -> tuple[np.ndarray, bool]:
    """Return ``x`` as a float64 ``(N, L)`` array and whether it was a single example."""
    array = _real_array(x, "x")
    if array.ndim not in (1, 2):
        raise ValueError(f"x must be (L,) or (N, L), got shape {array.shape}")
    if array.shape[-1] != spec.length:
        raise ValueError(f"x has length {array.shape[-1]}, the Spec says {spec.length}")
    single = array.ndim == 1
    if not single and array.shape[0] == 0:
        raise ValueError("x holds no examples (N = 0)")
    return (array[None, :] if single else array), single


def _check_y(y: npt.ArrayLike, n: int, single: bool) -> np.ndarray:
    array = _real_array(y, "y")
    expected: tuple[int, ...] = () if single else (n,)
    if array.shape != expected:
        raise ValueError(f"y has shape {array.shape}, expected {expected} to match x")
    if not np.isin(array, (0.0, 1.0)).all():
        raise ValueError("y must hold labels 0 or 1 only")
    return array.reshape(n)
