"""Numbers as the prose writes them: the strings the chapters glue into their text.

- :func:`format_error`: a relative error, or a bound when it is at rounding level
  (chapters 1 and 4);
- :func:`power`: a power of ten with a superscript exponent, ``10⁻⁸`` (chapter 3);
- :func:`format_in_m`: a count affine in the width ``m``, in LaTeX (chapter 3);
- :func:`percent_range`: the range of some shares, ``71\u201384 %`` (chapter 3);
- :func:`spread`: a mean and standard deviation, ``0.42 ± 0.03`` (for chapter 2's
  seeds).

Each function returns text only; the numbers come from the chapters' code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_error(value: float, tiny: float = 1e-12) -> str:
    """A relative error as text for the prose: values below ``tiny`` as the bound only.

    Rounding-level errors differ in their last digits between machines (and a relative
    error that goes through divisions, as a normalised correlation does, can reach a few
    1e-14); the chapter states them as a bound so that its text does not depend on the
    processor. An exact zero is stated as the bound too: whether a sum cancels exactly
    depends on the order in which the processor's kernels add. Larger values get two
    significant digits.
    """
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"an error must be finite and non-negative, got {value}")
    if value < tiny:
        return f"below {tiny:.0e}"
    return f"{value:.2g}"


def power(value: float) -> str:
    """A power of ten as text with a superscript exponent: ``0.01`` gives ``10⁻²``.

    Chapter 3's tolerances and learning rates. ``value`` must be a power of ten (to
    within rounding), so that the text is the number and not an approximation of it.
    """
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"a power of ten is finite and positive, got {value}")
    exponent = round(math.log10(value))
    if not math.isclose(value, 10.0**exponent, rel_tol=1e-9):
        raise ValueError(f"{value} is not a power of ten")
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def format_in_m(a: int, b: int) -> str:
    r"""LaTeX for ``a * m + b``, as the book writes a count: ``395\,m + 4``.

    Terms that are zero are left out and a coefficient 1 is not written
    (``m + 1``, ``393\,m``, ``3``); ``0`` when both are zero. Used by chapter 3 with
    :func:`cnnbook.cnn1d.count_in_m`.
    """
    if a < 0 or b < 0:
        raise ValueError(f"a count has no negative terms, got a={a}, b={b}")
    slope = "" if a == 0 else "m" if a == 1 else f"{a}\\,m"
    if not slope:
        return str(b)
    return slope if b == 0 else f"{slope} + {b}"


def percent_range(shares: Sequence[float]) -> str:
    """The range of some shares (fractions of 1) in whole percent: ``71\u201384 %``.

    One number when the lowest and highest round to the same percent (``84 %``).
    Chapter 3's runs that did and did not learn.
    """
    if not shares:
        raise ValueError("no shares to give the range of")
    low, high = f"{100 * min(shares):.0f}", f"{100 * max(shares):.0f}"
    return f"{low} %" if low == high else f"{low}\u2013{high} %"


def spread(values: npt.ArrayLike, digits: int = 2) -> str:
    """Mean ± sample standard deviation (``ddof=1``), both with ``digits`` decimals.

    What the text reports over networks trained from several seeds.
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    if v.size < 2:
        raise ValueError(f"a standard deviation needs two values or more, got {v.size}")
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"
