"""Training and evaluation of the book's models (chapters 1 and 2), and loading them.

Training in float32 is fast but not reproducible across processors: torch picks
vectorised kernels for each CPU (ATen's per-ISA kernels, oneDNN, MKL), their last bits
differ, and the differences grow through training until accuracies differ. So the book
does not train while it builds. Each model is made once by its recipe
(:data:`cnnbook.recipes.RECIPES`) with :func:`train`, and its weights are committed with
the package (:mod:`cnnbook.artifacts`), beside a manifest that records the recipe's hash
(:mod:`cnnbook.hashing`), the loss history and the metrics reached. The chapters
:func:`load` those weights and evaluate them in float64, where the kernels' last-bit
differences (about 1e-16) cannot flip a printed digit.

- :func:`accuracy`: share of correct arg-max predictions, counted exactly;
- :func:`full_batch_adam`, :func:`minibatch_adam_cosine`: the two training loops;
- :func:`train`: a recipe from scratch; :func:`evaluate`: the metrics of a recipe's model;
- :func:`decoder_adam_cosine`, :func:`train_decoder`, :func:`evaluate_decoder`: the same
  for chapter 2's up-convolutional decoders, which learn to invert a frozen CNN's layer;
- :func:`make`, :func:`measure`: either kind of recipe, by its trainer;
- :func:`load`: a recipe's model from its committed weights (or re-trained).

Re-train everything with ``python tools/train_models.py``; re-train while reading by
setting ``CNNBOOK_RETRAIN=1`` before the chapter's kernel starts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

# load's code names these, and its recipe hash with them: they keep their names here
from cnnbook.artifacts import _manifest, _retrain_requested, weights_path
from cnnbook.inversion import features, mse
from cnnbook.recipes import DECODER_TRAINERS, Recipe, canonical_json, recipe


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
# A recipe's model from its committed weights
# ---------------------------------------------------------------------------------------


def load(name: str, *, retrain: bool | None = None) -> Trained:
    """A recipe's model in float64 and eval mode, from its committed weights.

    Parameters
    ----------
    name
        A key of :data:`cnnbook.recipes.RECIPES`.
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
