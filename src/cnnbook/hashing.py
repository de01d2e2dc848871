"""The recipe hash: a SHA-256 of a recipe's data and of the code it runs, which the
manifest of the committed weights records and the freshness test compares (see
:mod:`cnnbook.artifacts`; the models of chapters 1 and 2).

The code is hashed from its syntax tree, without docstrings, comments or annotations,
object by object under each object's qualified name without its module, so that
documenting code or moving it to another module of cnnbook leaves every hash unchanged
and a change of what it computes does not.

- :func:`recipe_hash`: a recipe's hash;
- :func:`code_closure`: the cnnbook functions and classes a piece of code reaches.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from typing import Any

from cnnbook.artifacts import file_sha256, weights_path
from cnnbook.recipes import BUILDERS, DECODER_TRAINERS, TASKS, Recipe, canonical_json, recipe
from cnnbook.training import TRAINERS, evaluate, evaluate_decoder, train, train_decoder


@functools.cache
def _normalised_source(obj: Callable[..., Any] | type) -> str:
    """The code of ``obj`` without docstrings, comments, type annotations or formatting."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


#: Names that carry a recipe's data, which is hashed as data, not as code.
_RECIPE_DATA = frozenset({"Recipe", "recipe"})


@functools.cache
def _referenced(obj: Callable[..., Any] | type) -> tuple[Callable[..., Any] | type, ...]:
    """Functions and classes of cnnbook that the code of ``obj`` names."""
    return tuple(_names_in(obj))


def _names_in(obj: Callable[..., Any] | type) -> Iterator[Callable[..., Any] | type]:
    namespace = vars(sys.modules[obj.__module__])
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(obj)))):
        value: object = None
        if isinstance(node, ast.Name):
            value = namespace.get(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = namespace.get(node.value.id)
            if isinstance(owner, types.ModuleType):
                value = getattr(owner, node.attr, None)
        if (
            (inspect.isfunction(value) or inspect.isclass(value))
            and getattr(value, "__module__", "").startswith("cnnbook.")
            and value.__name__ not in _RECIPE_DATA
        ):
            yield value


def _hash_key(obj: Callable[..., Any] | type) -> tuple[str, str]:
    """What identifies ``obj``'s code in a hash: its qualified name and normalised source.

    The module is left out, so that moving a function or class to another module of
    cnnbook leaves every hash unchanged; the source breaks ties between objects of the
    same name in different modules.
    """
    return obj.__qualname__, _normalised_source(obj)


def code_closure(*roots: Callable[..., Any] | type) -> list[Callable[..., Any] | type]:
    """``roots`` and every cnnbook function or class they reach, sorted by :func:`_hash_key`.

    The order depends on what the code is, not on where it lives.
    """
    seen: set[Callable[..., Any] | type] = set()
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if obj in seen:
            continue
        seen.add(obj)
        stack.extend(_referenced(obj))
    return sorted(seen, key=_hash_key)


def recipe_hash(name: str | Recipe) -> str:
    """SHA-256 of a recipe's data and of the code it runs (builder, task, trainer).

    The code is hashed without docstrings and comments, with every cnnbook function
    and class it calls, each under its qualified name without its module, so that a
    change to what the recipe computes changes the hash, and a change to its
    documentation or a move to another module does not.
    """
    rec = name if isinstance(name, Recipe) else recipe(name)
    digest = hashlib.sha256(canonical_json(rec.as_dict()).encode())
    steps: tuple[Callable[..., Any], ...] = (train, evaluate)
    if rec.trainer in DECODER_TRAINERS:  # a decoder depends on its encoder's weights too
        encoder = rec.trainer_args["encoder"]
        digest.update(recipe_hash(encoder).encode())
        digest.update(file_sha256(weights_path(encoder)).encode())
        steps = (train_decoder, evaluate_decoder)
    roots = (BUILDERS[rec.model], TASKS[rec.task], TRAINERS[rec.trainer], *steps)
    for obj in code_closure(*roots):
        qualname, source = _hash_key(obj)
        digest.update(qualname.encode())
        digest.update(source.encode())
    return digest.hexdigest()
