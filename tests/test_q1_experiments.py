"""Chapter 1's trained experiments: the data of the sample-efficiency curves, their
recipes, and the width of the chapter's code.

Oracles: the documented draw of :func:`cnnbook.data.positions_task` (noise-free
signals are the pattern at an allowed start, found by exhaustive comparison); the
recipes' own data; a line count of the chapter's source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnnbook import recipes
from cnnbook.data import positions_task, wavelet
from cnnbook.recipes import RECIPES, q1_sample_name, q1_width_sweep

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "q1_translation_equivariance.ipynb"
TESTS = ("seen positions", "unseen positions")


# --- positions_task with a training set of its own ------------------------------------


@pytest.mark.parametrize(("n_train", "train_seed"), [(20, 0), (100, 1), (None, 2)])
def test_own_training_set_leaves_the_test_splits_alone(
    n_train: int | None, train_seed: int
) -> None:
    default = positions_task()
    own = positions_task(n_train=n_train, train_seed=train_seed)
    for name in TESTS:
        np.testing.assert_array_equal(own[name].x, default[name].x)
        np.testing.assert_array_equal(own[name].y, default[name].y)
    size = 800 if n_train is None else n_train
    assert own["train"].x.shape == (size, 1, 48)
    assert own["train"].x.dtype == np.float32
    np.testing.assert_array_equal(own["train"].y, np.repeat([0, 1], size // 2))
    assert not np.array_equal(own["train"].x[:10], default["train"].x[:10])


def test_own_training_set_depends_on_its_seed_only() -> None:
    a = positions_task(n_train=40, train_seed=3, splits=("train",))["train"]
    b = positions_task(n_train=40, train_seed=3, splits=("train",))["train"]
    c = positions_task(n_train=40, train_seed=4, splits=("train",))["train"]
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_own_training_set_puts_the_patterns_in_the_left_half() -> None:
    train = positions_task(noise=0.0, n_train=60, train_seed=1, splits=("train",))["train"]
    patterns = [wavelet(10, 1.5), wavelet(10, 3.0)]
    for signal, label in zip(train.x[:, 0], train.y, strict=True):
        matches = []
        for start in range(48 - 10 + 1):
            expected = np.zeros(48)
            expected[start : start + 10] = patterns[label]
            if np.allclose(signal, expected, atol=1e-6):
                matches.append(start)
        assert len(matches) == 1
        assert 0 <= matches[0] <= 48 // 2 - 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_train": 20}, "train_seed"),
        ({"n_train": 21, "train_seed": 0}, "even"),
        ({"n_train": 0, "train_seed": 0}, "even"),
        ({"n_train": 20, "train_seed": -1}, "non-negative"),
    ],
)
def test_positions_task_rejects_bad_training_sizes(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        positions_task(**kwargs)


# --- the recipes --------------------------------------------------------------------


def test_sample_efficiency_recipes_cover_the_grid_and_share_the_tests() -> None:
    reference = RECIPES["q1_cnn"].data()
    for kind in recipes.Q1_SAMPLE_KINDS:
        for n_train in recipes.Q1_SAMPLE_SIZES:
            for seed in recipes.Q1_SAMPLE_SEEDS:
                rec = RECIPES[q1_sample_name(kind, n_train, seed)]
                assert rec.seed == seed
                assert rec.task_args["n_train"] == n_train
                assert rec.task_args["train_seed"] == seed
    rec = RECIPES[q1_sample_name("dense", 20, 1)]
    data = rec.data()
    assert data["train"].x.shape[0] == 20
    for name in TESTS:
        np.testing.assert_array_equal(data[name].x, reference[name].x)
    assert q1_sample_name("cnn", 100, 0) == "q1_sample_cnn_n100_s0"
    with pytest.raises(ValueError, match="unknown kind"):
        q1_sample_name("resnet", 100, 0)


def test_sample_efficiency_models_match_the_chapters_models() -> None:
    """Each kind of the curves is the architecture of the chapter's comparison."""
    pairs = {"cnn": "q1_cnn", "locally_connected": "q1_locally_connected", "dense": "q1_dense"}
    for kind, main in pairs.items():
        rec = RECIPES[q1_sample_name(kind, 800, 0)]
        assert rec.model == RECIPES[main].model
        assert dict(rec.model_args) == dict(RECIPES[main].model_args)
        assert dict(rec.trainer_args) == dict(RECIPES[main].trainer_args)


def test_width_sweep_names_and_the_kept_width() -> None:
    sweep = q1_width_sweep()
    assert tuple(sweep) == recipes.Q1_DENSE_WIDTHS
    assert list(sweep.values()).count("q1_dense") == 1
    for hidden, name in sweep.items():
        rec = RECIPES[name]
        assert rec.model == "mlp"
        assert rec.model_args["hidden"] == hidden
        assert dict(rec.task_args) == dict(RECIPES["q1_dense"].task_args)


def test_kept_width_follows_the_rule_on_the_committed_metrics() -> None:
    """The smallest width within a point of the widest network, at seen positions."""
    manifest = json.loads((ROOT / "src/cnnbook/weights/manifest.json").read_text())
    seen = {h: manifest[n]["metrics"]["seen positions"] for h, n in q1_width_sweep().items()}
    widest = seen[max(seen)]
    kept = min(h for h, acc in seen.items() if acc >= widest - 0.01)
    assert kept == recipes.Q1_DENSE_HIDDEN


# --- the chapter's code fits the page -------------------------------------------------

WIDTH = 80
