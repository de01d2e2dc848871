"""The recipes of the models the book trains (chapters 1 and 2): the catalogue.

A *recipe* names everything that makes a trained model: the data (a task of
:mod:`cnnbook.data` and its arguments), the architecture (a builder of
:mod:`cnnbook.models` and its arguments), the seed, the optimiser and its schedule.
:mod:`cnnbook.training` turns a recipe into weights; the weights are committed with the
package (:mod:`cnnbook.artifacts`) and the chapters evaluate them, so every machine
evaluates the same numbers.

- :class:`Recipe`, :data:`BUILDERS`, :data:`TASKS`: what a recipe can name;
- :data:`RECIPES`, :func:`recipe`: every recipe of the book, by name;
- :func:`q1_width_sweep`, :func:`q1_sample_name`: chapter 1's sweeps of the dense
  baseline's width and of the training set's size;
- :data:`Q2_DECODER_LAYERS`, :func:`q2_decoder_name`: chapter 2's decoders, one per
  inverted layer of ``q2_cnn`` and seed;
- :func:`canonical_json`: the text a recipe's data is hashed from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from cnnbook.data import Split, edges_task, positions_task, shapes_task
from cnnbook.inversion import make_decoder
from cnnbook.models import global_pool_classifier, locally_connected_classifier, make_cnn, mlp

#: The architectures a recipe can name.
BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "global_pool_classifier": global_pool_classifier,
    "locally_connected_classifier": locally_connected_classifier,
    "mlp": mlp,
    "make_cnn": make_cnn,
    "make_decoder": make_decoder,
}

#: The data sets a recipe can name (functions of :mod:`cnnbook.data`).
TASKS: dict[str, Callable[..., dict[str, Split]]] = {
    "positions_task": positions_task,
    "edges_task": edges_task,
    "shapes_task": shapes_task,
}

Trainer = Literal["full_batch_adam", "minibatch_adam_cosine", "decoder_adam_cosine"]

#: Trainers of decoders: their recipes train on a frozen network's features, named by
#: ``trainer_args["encoder"]`` (a recipe) and ``trainer_args["layer"]``.
DECODER_TRAINERS = frozenset({"decoder_adam_cosine"})

#: Data sets made for recipes, by task, arguments and split (see :meth:`Recipe.data`).
_DATA_CACHE: dict[str, dict[str, Split]] = {}
_DATA_CACHE_SIZE = 6


@dataclass(frozen=True)
class Recipe:
    """Everything that makes one trained model of the book.

    Attributes
    ----------
    name
        The model's name, also the name of its weights file.
    chapter
        The chapter that evaluates it.
    model, model_args
        A key of :data:`BUILDERS` and its keyword arguments.
    task, task_args
        A key of :data:`TASKS` and its keyword arguments; the model trains on the
        task's ``"train"`` split.
    trainer, trainer_args
        ``"full_batch_adam"`` (``steps``, ``lr``), ``"minibatch_adam_cosine"``
        (``epochs``, ``batch_size``, ``lr``), or ``"decoder_adam_cosine"`` (the same,
        plus the ``encoder`` recipe and its ``layer`` whose features the decoder
        inverts); see :mod:`cnnbook.training`.
    seed
        Seed of torch's generator before the model is built (its initial weights) and
        of the batch order.
    """

    name: str
    chapter: int
    model: str
    task: str
    trainer: Trainer
    seed: int = 0
    model_args: Mapping[str, Any] = field(default_factory=dict)
    task_args: Mapping[str, Any] = field(default_factory=dict)
    trainer_args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in BUILDERS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {tuple(BUILDERS)}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {tuple(TASKS)}")
        if self.trainer not in ("full_batch_adam", "minibatch_adam_cosine", *DECODER_TRAINERS):
            raise ValueError(f"unknown trainer {self.trainer!r}")
        if self.trainer in DECODER_TRAINERS and not {"encoder", "layer"} <= set(self.trainer_args):
            raise ValueError("a decoder's trainer_args must name its encoder and layer")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain data (what its hash is computed from, with the code)."""
        return {
            "name": self.name,
            "chapter": self.chapter,
            "model": self.model,
            "model_args": dict(self.model_args),
            "task": self.task,
            "task_args": dict(self.task_args),
            "trainer": self.trainer,
            "trainer_args": dict(self.trainer_args),
            "seed": self.seed,
        }

    def describe(self) -> str:
        """A few lines a chapter prints to show how its model was made."""

        def call(name: str, args: Mapping[str, Any]) -> str:
            return f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"

        return "\n".join(
            [
                f"recipe {self.name!r}",
                f"  data:    {call(self.task, self.task_args)}, split 'train'",
                f"  model:   {call(self.model, self.model_args)}",
                f"  trainer: {call(self.trainer, self.trainer_args)}",
                f"  seed:    {self.seed}",
            ]
        )

    def build(self) -> nn.Module:
        """The architecture, freshly initialised from torch's current random state."""
        return BUILDERS[self.model](**self.model_args)

    def data(self, split: str | None = None) -> dict[str, Split]:
        """Every split of the recipe's task, or only ``split`` where the task can skip the rest.

        Recipes that share a task share its data: the last few data sets made are kept,
        and each call returns fresh copies of their arrays.
        """
        key = canonical_json([self.task, dict(self.task_args), split])
        if key not in _DATA_CACHE:
            while len(_DATA_CACHE) >= _DATA_CACHE_SIZE:
                _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
            kwargs = {"splits": (split,)} if split else {}
            _DATA_CACHE[key] = TASKS[self.task](**self.task_args, **kwargs)
        return {
            name: Split(
                split.x.copy(),
                split.y.copy(),
                None if split.masks is None else split.masks.copy(),
            )
            for name, split in _DATA_CACHE[key].items()
        }


def _recipes(*recipes: Recipe) -> dict[str, Recipe]:
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise ValueError(f"recipe names must be unique: {names}")
    return {r.name: r for r in recipes}


_Q1_POSITIONS = {"length": 48, "width": 10, "n_per_class": 400, "noise": 0.2, "seed": 0}
_Q1_EDGES = {"length": 32, "width": 7, "n_per_class": 300, "noise": 0.2, "seed": 0}
_Q1_ADAM = {"steps": 200, "lr": 1e-2}
_Q1_CNN = {"n_classes": 2, "width": 8, "depth": 2, "kernel_size": 9}

#: Chapter 1's capacity sweep: hidden widths of the dense baseline, and the width
#: it keeps, the smallest whose accuracy at seen positions is within a point of the
#: widest network's (the chapter checks this choice against the trained sweep).
Q1_DENSE_WIDTHS = (4, 8, 16, 32, 64, 128, 256)
Q1_DENSE_HIDDEN = 64

#: Chapter 1's sample-efficiency curves: model kinds, training-set sizes and seeds.
Q1_SAMPLE_KINDS = ("cnn", "locally_connected", "dense")
Q1_SAMPLE_SIZES = (20, 50, 100, 200, 400, 800, 1600, 3200)
Q1_SAMPLE_SEEDS = (0, 1, 2)
_Q1_SAMPLE_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "cnn": ("global_pool_classifier", _Q1_CNN),
    "locally_connected": ("locally_connected_classifier", {"length": 48, **_Q1_CNN}),
    "dense": ("mlp", {"length": 48, "hidden": Q1_DENSE_HIDDEN}),
}


def q1_width_sweep() -> dict[int, str]:
    """Chapter 1's capacity sweep: the recipe name of each hidden width.

    The width the chapter keeps is the recipe ``"q1_dense"``; the others are
    ``"q1_dense_h<width>"``. All train on the same data as ``"q1_dense"``.
    """
    return {
        hidden: "q1_dense" if hidden == Q1_DENSE_HIDDEN else f"q1_dense_h{hidden}"
        for hidden in Q1_DENSE_WIDTHS
    }


def q1_sample_name(kind: str, n_train: int, seed: int) -> str:
    """The recipe of one point of chapter 1's sample-efficiency curves.

    Parameters
    ----------
    kind
        One of :data:`Q1_SAMPLE_KINDS`: ``"cnn"`` (shared weights),
        ``"locally_connected"`` (its untied twin) or ``"dense"``.
    n_train
        Training-set size, one of :data:`Q1_SAMPLE_SIZES`.
    seed
        Seed of the initial weights and of the training set's draw, one of
        :data:`Q1_SAMPLE_SEEDS`.

    Returns
    -------
    str
        ``"q1_sample_<kind>_n<n_train>_s<seed>"``, e.g. ``"q1_sample_cnn_n100_s0"``.
    """
    if kind not in Q1_SAMPLE_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {Q1_SAMPLE_KINDS}")
    return f"q1_sample_{kind}_n{n_train}_s{seed}"


#: Every model the book trains, by name.
RECIPES: dict[str, Recipe] = _recipes(
    Recipe(
        "q1_cnn",
        1,
        "global_pool_classifier",
        "positions_task",
        "full_batch_adam",
        model_args=_Q1_CNN,
        task_args=_Q1_POSITIONS,
        trainer_args=_Q1_ADAM,
    ),
    Recipe(
        "q1_locally_connected",
        1,
        "locally_connected_classifier",
        "positions_task",
        "full_batch_adam",
        model_args={"length": 48, **_Q1_CNN},
        task_args=_Q1_POSITIONS,
        trainer_args=_Q1_ADAM,
    ),
    Recipe(
        "q1_dense",
        1,
        "mlp",
        "positions_task",
        "full_batch_adam",
        model_args={"length": 48, "hidden": Q1_DENSE_HIDDEN},
        task_args=_Q1_POSITIONS,
        trainer_args=_Q1_ADAM,
    ),
    *(
        Recipe(
            f"q1_edge_{mode}",
            1,
            "global_pool_classifier",
            "edges_task",
            "full_batch_adam",
            model_args={
                "n_classes": 2,
                "width": 4,
                "depth": 3,
                "kernel_size": 5,
                "padding_mode": mode,
            },
            task_args=_Q1_EDGES,
            trainer_args=_Q1_ADAM,
        )
        for mode in ("zeros", "circular")
    ),
    Recipe(
        "q2_cnn",
        2,
        "make_cnn",
        "shapes_task",
        "minibatch_adam_cosine",
        model_args={"n_classes": 3, "widths": (8, 16, 32), "hidden": 64},
        task_args={"n_train": 3200, "n_test": 800, "size": 32, "seed": 0},
        trainer_args={"epochs": 12, "batch_size": 32, "lr": 3e-3},
    ),
    # chapter 1, capacity of the dense baseline
    *(
        Recipe(
            name,
            1,
            "mlp",
            "positions_task",
            "full_batch_adam",
            model_args={"length": 48, "hidden": hidden},
            task_args=_Q1_POSITIONS,
            trainer_args=_Q1_ADAM,
        )
        for hidden, name in q1_width_sweep().items()
        if name != "q1_dense"
    ),
    # chapter 1, sample efficiency
    *(
        Recipe(
            q1_sample_name(kind, n_train, seed),
            1,
            _Q1_SAMPLE_MODELS[kind][0],
            "positions_task",
            "full_batch_adam",
            seed=seed,
            model_args=_Q1_SAMPLE_MODELS[kind][1],
            task_args={**_Q1_POSITIONS, "n_train": n_train, "train_seed": seed},
            trainer_args=_Q1_ADAM,
        )
        for kind in Q1_SAMPLE_KINDS
        for n_train in Q1_SAMPLE_SIZES
        for seed in Q1_SAMPLE_SEEDS
    ),
    # Chapter 2's spread: q2_cnn again from other seeds (initial weights and batch
    # order), and a deeper twin with five max-pools instead of three, from three seeds.
    *(
        Recipe(
            f"q2_cnn_s{seed}",
            2,
            "make_cnn",
            "shapes_task",
            "minibatch_adam_cosine",
            seed=seed,
            model_args={"n_classes": 3, "widths": (8, 16, 32), "hidden": 64},
            task_args={"n_train": 3200, "n_test": 800, "size": 32, "seed": 0},
            trainer_args={"epochs": 12, "batch_size": 32, "lr": 3e-3},
        )
        for seed in range(1, 5)
    ),
    *(
        Recipe(
            "q2_deep" if seed == 0 else f"q2_deep_s{seed}",
            2,
            "make_cnn",
            "shapes_task",
            "minibatch_adam_cosine",
            seed=seed,
            model_args={"n_classes": 3, "widths": (8, 16, 32, 32, 32), "hidden": 64},
            task_args={"n_train": 3200, "n_test": 800, "size": 32, "seed": 0},
            trainer_args={"epochs": 12, "batch_size": 32, "lr": 3e-3},
        )
        for seed in range(3)
    ),
)


#: Chapter 2's inversion experiment: the layers of ``q2_cnn`` a decoder inverts, with the
#: shape of one image's features there, and the decoders' seeds.
Q2_DECODER_LAYERS: dict[str, tuple[int, ...]] = {
    "block1": (8, 16, 16),
    "block2": (16, 8, 8),
    "block3": (32, 4, 4),
    "fc1": (64,),
    "logits": (3,),
}
Q2_DECODER_SEEDS = (0, 1, 2)


def q2_decoder_name(layer: str, seed: int) -> str:
    """The recipe of the decoder of ``q2_cnn``'s ``layer`` from ``seed``.

    Returns ``"q2_decoder_<layer>_s<seed>"``, e.g. ``"q2_decoder_block2_s0"``.
    """
    if layer not in Q2_DECODER_LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {tuple(Q2_DECODER_LAYERS)}")
    return f"q2_decoder_{layer}_s{seed}"


RECIPES.update(
    _recipes(
        *(
            Recipe(
                q2_decoder_name(layer, seed),
                2,
                "make_decoder",
                "shapes_task",
                "decoder_adam_cosine",
                seed=seed,
                model_args={"in_shape": shape},
                task_args={"n_train": 3200, "n_test": 800, "size": 32, "seed": 0},
                trainer_args={
                    "encoder": "q2_cnn",
                    "layer": layer,
                    "epochs": 6,
                    "batch_size": 16,
                    "lr": 2e-3,
                },
            )
            for layer, shape in Q2_DECODER_LAYERS.items()
            for seed in Q2_DECODER_SEEDS
        )
    )
)


def recipe(name: str) -> Recipe:
    """The recipe called ``name``."""
    if name not in RECIPES:
        raise KeyError(f"no recipe {name!r}; the book trains {tuple(RECIPES)}")
    return RECIPES[name]


def canonical_json(value: object) -> str:
    """JSON with sorted keys and tuples as lists: the same text for the same recipe."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
