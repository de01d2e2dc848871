"""cnnbook.cnn1d: shapes and parameter count against a torch twin of the network."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnbook.cnn1d import Spec, count_parameters


def _twin(spec: Spec) -> nn.Sequential:
    """The same architecture in torch, built independently of cnnbook's arithmetic."""
    conv = nn.Conv1d(1, 1, spec.kernel, stride=spec.stride, padding=spec.padding)
    pool = nn.AvgPool1d(spec.pool, stride=spec.pool_stride)
    with torch.no_grad():
        probe = pool(conv(torch.zeros(1, 1, spec.length)))
    return nn.Sequential(
        conv, nn.ReLU(), pool, nn.Flatten(), nn.Linear(probe.shape[-1], spec.hidden), nn.ReLU(),
        nn.Linear(spec.hidden, 1), nn.Sigmoid(),
    )  # fmt: skip


specs = st.builds(
    Spec,
    length=st.integers(1, 60),
    padding=st.integers(0, 3),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    pool=st.integers(1, 4),
    pool_stride=st.integers(1, 4),
    hidden=st.integers(1, 8),
)


def _valid(**kw: int) -> Spec | None:
    try:
        return Spec(**kw)
    except ValueError:
        return None


def test_assignment_network_numbers() -> None:
    spec = Spec(hidden=10)
    assert (spec.padded_length, spec.conv_length, spec.pooled_length) == (787, 786, 393)
    counts = count_parameters(spec)
    assert counts["total"] == 2 + 1 + 10 * 393 + 10 + 10 + 1
    assert counts["total"] == sum(p.numel() for p in _twin(spec).parameters())


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(1, 60),
    padding=st.integers(0, 3),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    pool=st.integers(1, 4),
    pool_stride=st.integers(1, 4),
    hidden=st.integers(1, 8),
)
def test_count_matches_torch_twin(**kw: int) -> None:
    spec = _valid(**kw)
    if spec is None:
        return
    twin = _twin(spec)
    x = torch.zeros(1, 1, spec.length)
    conv_out = twin[0](x)
    assert conv_out.shape[-1] == spec.conv_length
    assert twin[2](conv_out).shape[-1] == spec.pooled_length
    counts = count_parameters(spec)
    assert counts["total"] == sum(p.numel() for p in twin.parameters())
    assert counts["W_B"] == twin[4].weight.numel()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"length": 0}, "length"),
        ({"padding": -1}, "padding"),
        ({"length": 2, "padding": 0, "kernel": 3}, "Conv1 comes out empty"),
        ({"length": 3, "padding": 0, "kernel": 2, "pool": 3}, "AVGPOOL1 comes out empty"),
        ({"hidden": 0}, "hidden"),
    ],
)
def test_bad_spec_is_rejected(kw: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Spec(**kw)
