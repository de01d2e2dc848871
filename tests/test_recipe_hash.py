"""cnnbook.hashing's recipe hash: it follows what the code does, not where it lives.

Oracle: the same source text loaded as other modules (a pure move), and copies of it
with one constant, one operator or one docstring changed; the hash must be unchanged by
the move and the docstring, and changed by the constant and the operator.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from cnnbook import hashing, recipes
from cnnbook.recipes import RECIPES

HELPER = '''
from torch import nn


def _hidden(length, hidden):
    """The hidden layer."""
    return nn.Linear(length, hidden * 1)
'''

BUILDER = '''
from torch import nn


def mlp(length, hidden, n_classes=2):
    """A builder that calls a helper of cnnbook."""
    layers = [nn.Flatten(), _hidden(length, hidden), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, n_classes))
'''


def _load(
    name: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> types.ModuleType:
    """``source`` as the module ``name``, from a file (``inspect`` reads sources from files)."""
    path = tmp_path / f"{name.replace('.', '_')}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def _one_module(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helper: str = HELPER
) -> Callable[..., object]:
    """Helper and builder in one module ``name``; return the builder."""
    module = _load(
        name, helper + BUILDER.replace("from torch import nn\n", ""), tmp_path, monkeypatch
    )
    builder: Callable[..., object] = module.mlp
    return builder


def _two_modules(
    prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., object]:
    """The same code with the helper moved to a module of its own; return the builder."""
    _load(f"{prefix}.helpers", HELPER, tmp_path, monkeypatch)
    imports = f"from {prefix}.helpers import _hidden\n"
    module = _load(f"{prefix}.builders", imports + BUILDER, tmp_path, monkeypatch)
    builder: Callable[..., object] = module.mlp
    return builder


def _hash_with(builder: Callable[..., object], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(recipes.BUILDERS, "mlp", builder)
    return hashing.recipe_hash(RECIPES["q1_dense"])


def test_a_move_to_another_module_keeps_the_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _one_module("cnnbook._hash_test_here", tmp_path, monkeypatch)
    there = _two_modules("cnnbook._hash_test_there", tmp_path, monkeypatch)
    assert here.__module__ != there.__module__
    assert {o.__module__ for o in hashing.code_closure(there)} == {
        "cnnbook._hash_test_there.builders",
        "cnnbook._hash_test_there.helpers",
    }, "the closure follows the import into the helper's module"
    assert _hash_with(here, monkeypatch) == _hash_with(there, monkeypatch)


@pytest.mark.parametrize(
    ("old", "new", "same"),
    [
        ("hidden * 1", "hidden * 2", False),  # a constant
        ("hidden * 1", "hidden + 1", False),  # an operator
        ('"""The hidden layer."""', '"""Another docstring."""', True),
        ('"""The hidden layer."""', "# a comment only", True),
    ],
)
def test_a_change_of_behaviour_changes_the_hash_and_of_docs_does_not(
    old: str, new: str, same: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert old in HELPER
    before = _hash_with(_one_module("cnnbook._hash_test_a", tmp_path, monkeypatch), monkeypatch)
    edited = _one_module(
        "cnnbook._hash_test_b", tmp_path, monkeypatch, helper=HELPER.replace(old, new)
    )
    assert (_hash_with(edited, monkeypatch) == before) is same


def test_objects_of_one_name_in_two_modules_both_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _one_module("cnnbook._hash_test_first", tmp_path, monkeypatch)
    other = HELPER.replace("hidden * 1", "hidden * 3")
    second = _one_module("cnnbook._hash_test_second", tmp_path, monkeypatch, helper=other)
    keys = [hashing._hash_key(o) for o in hashing.code_closure(first, second)]
    assert [name for name, _ in keys] == ["_hidden", "_hidden", "mlp", "mlp"]
    assert keys[0] != keys[1], "same name, different code: each is hashed"
    assert keys == [hashing._hash_key(o) for o in hashing.code_closure(second, first)]
