"""Training and evaluation of the book's models, and their committed weights.

Training in float32 is fast but not reproducible across processors: torch picks
vectorised kernels for each CPU (ATen's per-ISA kernels, oneDNN, MKL), their last bits
differ, and the differences grow through training until accuracies differ. So the book
does not train while it builds. Each model is made once by its recipe
(:data:`cnnbook.models.RECIPES`) with :func:`train`, and its weights are committed with
the package, beside a manifest that records the recipe's hash, the loss history and the
metrics reached. The chapters :func:`load` those weights and evaluate them in float64,
where the kernels' last-bit differences (about 1e-16) cannot flip a printed digit.

- :func:`accuracy`: share of correct arg-max predictions, counted exactly;
- :func:`full_batch_adam`, :func:`minibatch_adam_cosine`: the two training loops;
- :func:`train`: a recipe from scratch; :func:`evaluate`: the metrics of a recipe's model;
- :func:`decoder_adam_cosine`, :func:`train_decoder`, :func:`evaluate_decoder`: the same
  for chapter 2's up-convolutional decoders, which learn to invert a frozen CNN's layer;
- :func:`make`, :func:`measure`: either kind of recipe, by its trainer;
- :func:`save`, :func:`load`: the committed weights and the manifest;
- :func:`recipe_hash`: what the freshness test compares with the manifest.

Re-train everything with ``python tools/train_models.py``; re-train while reading by
setting ``CNNBOOK_RETRAIN=1`` before the chapter's kernel starts.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import inspect
import json
import os
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from cnnbook.inversion import features, mse
from cnnbook.models import DECODER_TRAINERS, Recipe, canonical_json, recipe

#: Where the committed weights and their manifest live (inside the package).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
#: The environment variable that makes :func:`load` re-train instead of loading.
RETRAIN_VARIABLE = "CNNBOOK_RETRAIN"

_MANIFEST_CACHE: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}


def _as_tensor(value: np.ndarray | Tensor) -> Tensor:
    return value if isinstance(value, Tensor) else torch.from_numpy(np.asarray(value))


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        return p.dtype
    return torch.get_default_dtype()


def accuracy(model: nn.Module, x: np.ndarray | Tensor, y: np.ndarray | Tensor) -> float:
    """Share of inputs whose highest score is the label (chapters 1 and 2).

    ``x`` is cast to the dtype of the model's parameters and ``y`` to int64; numpy
    arrays are accepted. The model's mode is left as it is: call ``model.eval()`` first
    for a model with dropout or batch norm.

    Parameters
    ----------
    model
        Classifier returning ``(N, K)`` scores.
    x, y
        Inputs ``(N, ...)`` and labels ``(N,)``.

    Returns
    -------
    float
        The number of correct predictions divided by ``N`` (an exact count).
    """
    tx, ty = _as_tensor(x), _as_tensor(y)
    if tx.shape[0] != ty.shape[0]:
        raise ValueError(f"mismatched dims: {tx.shape[0]} inputs for {ty.shape[0]} labels")
    with torch.no_grad():
        predictions = model(tx.to(_model_dtype(model))).argmax(dim=1)
    return int((predictions == ty.long()).sum()) / tx.shape[0]


def _check_pair(x: np.ndarray | Tensor, y: np.ndarray | Tensor) -> tuple[Tensor, Tensor]:
    tx, ty = _as_tensor(x), _as_tensor(y)
    if tx.shape[0] != ty.shape[0]:
        raise ValueError(f"mismatched dims: {tx.shape[0]} inputs for {ty.shape[0]} labels")
    return tx.float(), ty.long()


def full_batch_adam(
    model: nn.Module,
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    *,
    steps: int = 200,
    lr: float = 1e-2,
) -> list[float]:
    """Full-batch Adam on the cross-entropy, in float32; return the loss at every step.

    Chapter 1's classifiers. Deterministic on one machine given torch's seed. The model
    is left in eval mode.
    """
    if steps < 1 or lr <= 0:
        raise ValueError("need steps >= 1 and lr > 0")
    tx, ty = _check_pair(x, y)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        optimiser.zero_grad()
        loss = F.cross_entropy(model(tx), ty)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    model.eval()
    optimiser.zero_grad(set_to_none=True)
    return losses


def minibatch_adam_cosine(
    model: nn.Module,
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Mini-batch Adam with a cosine schedule on the cross-entropy; return the epoch losses.

    Chapter 2's CNN. The batch order comes from a generator seeded with ``seed``. The
    model is left in eval mode.

    Parameters
    ----------
    model
        Classifier returning ``(N, K)`` scores.
    x, y
        Training set, ``(N, ...)`` and ``(N,)``.
    epochs, batch_size, lr
        Optimisation schedule.
    seed
        Seed of the batch order.

    Returns
    -------
    list of float
        Mean training loss of each epoch.
    """
    tx, ty = _check_pair(x, y)
    return _adam_cosine(
        model, tx, ty, F.cross_entropy, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed
    )


def _adam_cosine(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_of: Callable[[Tensor, Tensor], Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> list[float]:
    """The loop of :func:`minibatch_adam_cosine` and :func:`decoder_adam_cosine`.

    Mini-batch Adam with a cosine schedule over all steps on ``loss_of(model(inputs),
    targets)``, a batch mean; the batch order comes from a generator seeded with
    ``seed``. Returns the mean loss of each epoch and leaves the model in eval mode.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError("epochs and batch_size must be >= 1 and lr > 0")
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-inputs.shape[0] // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    model.train()
    losses = []
    for _ in range(epochs):
        order = torch.randperm(inputs.shape[0], generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = loss_of(model(inputs[idx]), targets[idx])
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        losses.append(total / inputs.shape[0])
    model.eval()
    optimiser.zero_grad(set_to_none=True)
    return losses


def _batch_mse(reconstruction: Tensor, image: Tensor) -> Tensor:
    """:func:`cnnbook.inversion.mse` averaged over the batch."""
    return mse(reconstruction, image).mean()


def decoder_adam_cosine(
    model: nn.Module,
    phi: Tensor,
    x: Tensor,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
) -> list[float]:
    """Mini-batch Adam with a cosine schedule on the squared error ``decoder(phi) - x``.

    Chapter 2's up-convolutional decoders: ``phi`` are a frozen network's features of
    the images ``x``, and the loss is :func:`cnnbook.inversion.mse`, averaged over the
    batch (Dosovitskiy & Brox's loss in image space). The batch order comes from a
    generator seeded with ``seed``; the model is left in eval mode.

    Returns
    -------
    list of float
        Mean training loss of each epoch.
    """
    if phi.shape[0] != x.shape[0]:
        raise ValueError(f"mismatched dims: {phi.shape[0]} features for {x.shape[0]} images")
    return _adam_cosine(
        model, phi, x, _batch_mse, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed
    )


#: The training loops a recipe can name.
TRAINERS: dict[str, Callable[..., list[float]]] = {
    "full_batch_adam": full_batch_adam,
    "minibatch_adam_cosine": minibatch_adam_cosine,
    "decoder_adam_cosine": decoder_adam_cosine,
}


class Trained(NamedTuple):
    """A model of the book with its training history and metrics."""

    model: nn.Module
    losses: list[float]
    metrics: dict[str, float]


def evaluate(model: nn.Module, rec: Recipe) -> dict[str, float]:
    """Accuracy of ``model`` on every split of ``rec``'s task, in float64.

    The model is evaluated as a float64 copy, so the counts do not depend on the
    processor's kernels; ``model`` itself is not changed.
    """
    double = _as_float64(model)
    return {name: accuracy(double, split.x, split.y) for name, split in rec.data().items()}


def _as_float64(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).double().eval()


def train(name: str | Recipe) -> Trained:
    """Make a recipe's model from scratch on this machine (float32, as committed).

    torch's global generator is seeded with the recipe's seed before the model is
    built and restored afterwards; the training loop gets the seed too where it draws
    batches.
    """
    rec = name if isinstance(name, Recipe) else recipe(name)
    split = rec.data("train")["train"]
    args = dict(rec.trainer_args)
    if rec.trainer == "minibatch_adam_cosine":
        args["seed"] = rec.seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rec.seed)
        model = rec.build()
        losses = TRAINERS[rec.trainer](model, split.x, split.y, **args)
    model.eval()
    return Trained(model, losses, evaluate(model, rec))


# ---------------------------------------------------------------------------------------
# Chapter 2's decoders: recipes that invert a frozen network's layer
# ---------------------------------------------------------------------------------------


#: Features of the recipes' encoders, by encoder, layer, task and split (see
#: :func:`decoder_inputs`): the three seeds of a layer's decoder share them.
_FEATURE_CACHE: dict[str, tuple[Tensor, Tensor]] = {}
_FEATURE_CACHE_SIZE = 4


def decoder_inputs(rec: Recipe, split: str) -> tuple[Tensor, Tensor]:
    """Features and images of one split of a decoder recipe, in float64.

    The features are those of the layer ``trainer_args["layer"]`` of the committed
    network ``trainer_args["encoder"]``, evaluated in float64 and frozen. The last few
    are kept; each call returns fresh copies.
    """
    encoder, layer = rec.trainer_args["encoder"], rec.trainer_args["layer"]
    key = canonical_json([encoder, layer, rec.task, dict(rec.task_args), split])
    if key not in _FEATURE_CACHE:
        while len(_FEATURE_CACHE) >= _FEATURE_CACHE_SIZE:
            _FEATURE_CACHE.pop(next(iter(_FEATURE_CACHE)))
        net = features(load(encoder).model, layer)
        x = torch.from_numpy(rec.data(split)[split].x).double()
        with torch.no_grad():
            _FEATURE_CACHE[key] = (net(x), x)
    phi, x = _FEATURE_CACHE[key]
    return phi.clone(), x.clone()


def train_decoder(rec: Recipe) -> Trained:
    """Train a decoder recipe from scratch (float32, as committed); see :func:`train`."""
    phi, x = decoder_inputs(rec, "train")
    args = {k: v for k, v in rec.trainer_args.items() if k not in ("encoder", "layer")}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rec.seed)
        model = rec.build()
        losses = TRAINERS[rec.trainer](model, phi.float(), x.float(), seed=rec.seed, **args)
    model.eval()
    return Trained(model, losses, evaluate_decoder(model, rec))


def evaluate_decoder(model: nn.Module, rec: Recipe) -> dict[str, float]:
    """Relative reconstruction error of a decoder on the test split, in float64.

    The mean squared error of the test reconstructions divided by that of the mean
    training image (so 1 is no better than the mean image, 0 is exact), rounded to 4
    decimals, so that no processor's last bits show.
    """
    double = _as_float64(model)
    phi, x = decoder_inputs(rec, "test")
    mean_image = torch.from_numpy(rec.data("train")["train"].x).double().mean(dim=0)
    with torch.no_grad():
        batches = zip(phi.split(200), x.split(200), strict=True)
        error = torch.cat([mse(double(p), t) for p, t in batches])
    baseline = mse(mean_image.expand_as(x), x)
    return {"test": round(float(error.mean() / baseline.mean()), 4)}


def make(name: str | Recipe) -> Trained:
    """Train any recipe from scratch: :func:`train_decoder` or :func:`train`, by its trainer."""
    rec = name if isinstance(name, Recipe) else recipe(name)
    return train_decoder(rec) if rec.trainer in DECODER_TRAINERS else train(rec)


def measure(model: nn.Module, rec: Recipe) -> dict[str, float]:
    """The metrics of any recipe's model: :func:`evaluate_decoder` or :func:`evaluate`."""
    return evaluate_decoder(model, rec) if rec.trainer in DECODER_TRAINERS else evaluate(model, rec)


# ---------------------------------------------------------------------------------------
# The recipe's hash: its data and the code it runs
# ---------------------------------------------------------------------------------------


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
    from cnnbook.models import BUILDERS, TASKS

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


# ---------------------------------------------------------------------------------------
# Committed weights
# ---------------------------------------------------------------------------------------


def weights_path(name: str) -> Path:
    """The committed weights of the recipe called ``name``."""
    return WEIGHTS_DIR / f"{name}.safetensors"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest() -> dict[str, dict[str, Any]]:
    """The parsed manifest, read once per version of the file (not to be modified)."""
    if not MANIFEST.exists():
        return {}
    stat = MANIFEST.stat()
    key = (str(MANIFEST), stat.st_mtime_ns, stat.st_size)
    if key not in _MANIFEST_CACHE:  # a chapter loads dozens of models: parse the file once
        _MANIFEST_CACHE.clear()
        _MANIFEST_CACHE[key] = json.loads(MANIFEST.read_text())
    return _MANIFEST_CACHE[key]


def read_manifest() -> dict[str, dict[str, Any]]:
    """The manifest: for each model, its recipe and hash, weights hash, losses, metrics."""
    return copy.deepcopy(_manifest())


def save(name: str, trained: Trained) -> None:
    """Write ``trained``'s weights and its manifest entry (the other entries are kept)."""
    rec = recipe(name)
    WEIGHTS_DIR.mkdir(exist_ok=True)
    state = {k: v.detach().float().contiguous() for k, v in trained.model.state_dict().items()}
    save_file(state, weights_path(name))  # tensors only: the same weights, the same bytes
    manifest = read_manifest()
    manifest[name] = {
        "recipe": rec.as_dict(),
        "recipe_hash": recipe_hash(rec),
        "weights_sha256": file_sha256(weights_path(name)),
        "torch": torch.__version__.split("+")[0],
        "losses": [float(f"{v:.6g}") for v in trained.losses],
        "metrics": trained.metrics,
    }
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")


def _retrain_requested() -> bool:
    return os.environ.get(RETRAIN_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def load(name: str, *, retrain: bool | None = None) -> Trained:
    """A recipe's model in float64 and eval mode, from its committed weights.

    Parameters
    ----------
    name
        A key of :data:`cnnbook.models.RECIPES`.
    retrain
        Train the model from scratch on this machine instead (a few seconds to a
        minute; the numbers may then differ from the committed ones in the last
        digits). ``None`` reads the environment variable ``CNNBOOK_RETRAIN``.

    Returns
    -------
    Trained
        The model (converted to float64), the loss history and the metrics; from the
        manifest when loaded, from this run when re-trained.
    """
    rec = recipe(name)
    if retrain if retrain is not None else _retrain_requested():
        fresh = make(rec)
        return Trained(_as_float64(fresh.model), fresh.losses, fresh.metrics)
    entry = _manifest().get(name)
    path = weights_path(name)
    if entry is None or not path.exists():
        raise FileNotFoundError(
            f"no committed weights for {name!r}; make them with "
            f"'python tools/train_models.py {name}'"
        )
    with torch.random.fork_rng(devices=[]):  # building draws initial weights: keep the
        model = rec.build()  # caller's random state as it was
    model.load_state_dict(load_file(path))
    return Trained(_as_float64(model), list(entry["losses"]), dict(entry["metrics"]))


def artifact_problems() -> list[str]:
    """What is wrong with the committed weights: one line per problem, empty when fresh.

    A recipe whose manifest entry or weights file is missing, whose recipe (data or
    code) changed since its weights were trained, or whose weights file is not the one
    the manifest records; a weights file or manifest entry without a recipe.
    """
    from cnnbook.models import RECIPES

    manifest = read_manifest()
    problems = []
    for name in RECIPES:
        entry, path = manifest.get(name), weights_path(name)
        if entry is None or not path.exists():
            problems.append(f"{name}: no committed weights")
            continue
        if entry["recipe_hash"] != recipe_hash(name):
            problems.append(f"{name}: recipe changed since its weights were trained")
        if entry["weights_sha256"] != file_sha256(path):
            problems.append(f"{name}: weights file differs from the manifest's")
    for name in sorted(set(manifest) - set(RECIPES)):
        problems.append(f"{name}: manifest entry without a recipe")
    for path in sorted(WEIGHTS_DIR.glob("*.safetensors")):
        if path.stem not in RECIPES:
            problems.append(f"{path.stem}: weights file without a recipe")
    return problems
