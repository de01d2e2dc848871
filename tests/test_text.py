"""cnnbook.text: numbers as the prose writes them.

Oracles: the text read back (parsed, or evaluated as the expression it writes) and
compared with the number; Python's ``round`` and ``statistics`` for the ranges and
spreads; a few cases written out by hand.
"""

from __future__ import annotations

import math
import re
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnbook.text import format_error, format_in_m, percent_range, power, spread

_DIGITS = dict(zip("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789", strict=True))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "below 1e-12"),
        (3e-17, "below 1e-12"),
        (4.6e-14, "below 1e-12"),
        (0.3361, "0.34"),
        (2e-12, "2e-12"),
    ],
)
def test_format_error_by_hand(value: float, text: str) -> None:
    assert format_error(value) == text


@given(st.floats(1e-12, 1e6))
def test_format_error_keeps_two_significant_digits(value: float) -> None:
    shown = float(format_error(value))
    unit = 10.0 ** (math.floor(math.log10(value)) - 1)  # of the second significant digit
    assert abs(shown - value) <= 0.5 * unit * (1 + 1e-9)


def test_format_error_bound_and_rejections() -> None:
    assert format_error(5e-9, tiny=1e-8) == "below 1e-08"
    assert format_error(1e-8, tiny=1e-8) == "1e-08", "the bound itself is a value"
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="non-negative"):
            format_error(bad)


@pytest.mark.parametrize("exponent", range(-16, 17))
def test_power_reads_back_as_its_exponent(exponent: int) -> None:
    text = power(10.0**exponent)
    assert text.startswith("10")
    assert int("".join(_DIGITS[c] for c in text[2:])) == exponent


def test_power_by_hand_and_rejections() -> None:
    assert power(0.01) == "10⁻²"
    assert power(1e-8) == "10⁻⁸"
    assert power(1.0) == "10⁰"
    for bad in (0.02, 3.0, 0.0, -0.01, math.inf, math.nan):
        with pytest.raises(ValueError, match="power of ten"):
            power(bad)


@pytest.mark.parametrize(
    ("a", "b", "latex"),
    [(395, 4, r"395\,m + 4"), (393, 0, r"393\,m"), (1, 1, "m + 1"), (1, 0, "m"),
     (0, 3, "3"), (0, 0, "0")],
)  # fmt: skip
def test_format_in_m_by_hand(a: int, b: int, latex: str) -> None:
    assert format_in_m(a, b) == latex


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(1, 100))
def test_format_in_m_evaluates_to_the_count(a: int, b: int, m: int) -> None:
    expression = format_in_m(a, b).replace(r"\,", "*")
    assert eval(expression, {"__builtins__": {}}, {"m": m}) == a * m + b
    assert re.match(r"0\*|1\*", expression) is None, "no coefficient 0 or 1 is written"


def test_format_in_m_rejects_negative_terms() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_in_m(-1, 4)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_percent_range_rounds_the_extremes(shares: list[float]) -> None:
    low, high = round(100 * min(shares)), round(100 * max(shares))
    expected = f"{low} %" if low == high else f"{low}\u2013{high} %"
    assert percent_range(shares) == expected


def test_percent_range_by_hand() -> None:
    assert percent_range([0.712, 0.84, 0.8]) == "71\u201384 %"
    assert percent_range([0.8401, 0.8399]) == "84 %"
    with pytest.raises(ValueError, match="no shares"):
        percent_range([])


@given(st.lists(st.floats(-100, 100), min_size=2, max_size=10), st.integers(0, 4))
def test_spread_is_mean_and_sample_sd(values: list[float], digits: int) -> None:
    mean, sd = (float(part) for part in spread(values, digits).split(" ± "))
    tolerance = 0.5 * 10.0**-digits + 1e-9
    assert abs(mean - statistics.fmean(values)) <= tolerance
    assert abs(sd - statistics.stdev(values)) <= tolerance


def test_spread_by_hand_and_rejections() -> None:
    assert spread(np.array([1.0, 2.0, 3.0])) == "2.00 ± 1.00"
    with pytest.raises(ValueError, match="two values"):
        spread([1.0])
