"""cnnbook.training, .artifacts, .hashing: loops, evaluation, committed weights, recipe hashes.

Oracles: a count done by hand on a fixed linear classifier; a second identical run (the
loops are deterministic on one machine); the recipes' own data for the re-evaluation of
the committed weights.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cnnbook import artifacts, hashing, models, recipes, training
from cnnbook.artifacts import artifact_problems
from cnnbook.data import place_patterns, wavelet
from cnnbook.hashing import recipe_hash
from cnnbook.models import make_cnn, mlp
from cnnbook.recipes import RECIPES, Recipe
from cnnbook.training import accuracy, full_batch_adam, load, minibatch_adam_cosine


def _fixed_classifier() -> nn.Linear:
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(2))  # predicts the index of the larger coordinate
    return layer


def test_accuracy_counts_correct_arg_max() -> None:
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])  # predictions 0, 1, 0, 1: two right
    model = _fixed_classifier()
    assert accuracy(model, x, y) == 0.5
    assert accuracy(model, torch.from_numpy(x), torch.from_numpy(y)) == 0.5
    assert accuracy(model.double(), x, y) == 0.5, "inputs follow the model's dtype"
    model.train()
    accuracy(model, x, y)
    assert model.training, "evaluation leaves the model's mode alone"
    with pytest.raises(ValueError, match="mismatched dims"):
        accuracy(model, x, y[:3])


def _toy_task(seed: int) -> tuple[np.ndarray, np.ndarray]:
    patterns = [wavelet(6, 1.0), wavelet(6, 2.0)]
    positions = [np.arange(0, 10)] * 2
    return place_patterns(patterns, positions, 24, 40, 0.1, np.random.default_rng(seed))


def test_full_batch_adam_is_deterministic_and_learns() -> None:
    x, y = _toy_task(0)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = mlp(24, 8)
        runs.append(full_batch_adam(model, x, y, steps=60, lr=1e-2))
    assert runs[0] == runs[1]
    assert runs[0][-1] < 0.5 * runs[0][0]
    assert not model.training
    logits = model(torch.from_numpy(x)).detach().numpy()
    assert accuracy(model, x, y) == pytest.approx(np.mean(logits.argmax(1) == y))
    with pytest.raises(ValueError, match="mismatched dims"):
        full_batch_adam(model, x, y[:-1])
    with pytest.raises(ValueError, match="steps"):
        full_batch_adam(model, x, y, steps=0)


def test_minibatch_adam_cosine_is_deterministic_and_learns() -> None:
    g = torch.Generator().manual_seed(21)
    labels = torch.arange(96) % 2
    images = torch.randn(96, 1, 8, 8, generator=g)
    images[:, :, :4, :4] += labels[:, None, None, None]  # class 1: a brighter top-left corner
    runs = []
    for _ in range(2):
        torch.manual_seed(22)
        model = make_cnn(2, widths=(4,), hidden=8, image_size=(8, 8))
        losses = minibatch_adam_cosine(model, images, labels, epochs=15, batch_size=16, seed=1)
        runs.append((model, losses))
    (m1, l1), (m2, l2) = runs
    assert l1 == l2
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p1, p2)
        assert p1.grad is None
    assert not m1.training
    assert l1[-1] < 0.5 * l1[0]
    predictions = m1(images).argmax(dim=1)
    assert accuracy(m1, images, labels) == int((predictions == labels).sum()) / len(labels)
    assert accuracy(m1, images, labels) > 0.9
    with pytest.raises(ValueError, match="labels"):
        minibatch_adam_cosine(m1, images, labels[:5])
    with pytest.raises(ValueError, match="epochs"):
        minibatch_adam_cosine(m1, images, labels, epochs=0)


# --- recipes and their hash -----------------------------------------------------------


def test_recipe_validation_and_description() -> None:
    rec = RECIPES["q2_cnn"]
    text = rec.describe()
    for part in ("make_cnn(", "shapes_task(", "epochs=12"):
        assert part in text
    assert rec.as_dict()["model_args"] == dict(rec.model_args)
    with pytest.raises(ValueError, match="unknown model"):
        Recipe("x", 1, "resnet", "shapes_task", "full_batch_adam")
    with pytest.raises(ValueError, match="unknown task"):
        Recipe("x", 1, "mlp", "imagenet", "full_batch_adam")
    with pytest.raises(ValueError, match="unknown trainer"):
        Recipe("x", 1, "mlp", "shapes_task", "sgd")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="no recipe"):
        recipes.recipe("q4_cnn")


def _mlp_with_new_docs() -> Callable[..., nn.Module]:
    def mlp(length: int, hidden: int, n_classes: int = 2) -> nn.Module:  # other annotation
        """Another docstring, other annotations."""
        if min(length, hidden, n_classes) < 1:  # and a comment
            raise ValueError("sizes must be positive")
        return nn.Sequential(
            nn.Flatten(), nn.Linear(length, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    return mlp


def _mlp_with_new_code() -> Callable[..., nn.Module]:
    def mlp(length: int, hidden: int, n_classes: int = 2) -> nn.Module:  # other annotation
        return nn.Sequential(nn.Flatten(), nn.Linear(length, n_classes))

    return mlp


def test_recipe_hash_follows_data_and_code_not_docs(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = RECIPES["q1_dense"]
    before = recipe_hash(rec)
    assert recipe_hash("q1_dense") == before
    changed = Recipe(**{**vars(rec), "trainer_args": {"steps": 201, "lr": 1e-2}})
    assert recipe_hash(changed) != before, "a change of data changes the hash"

    same_code_new_docs, new_code = _mlp_with_new_docs(), _mlp_with_new_code()
    for fn in (same_code_new_docs, new_code):
        fn.__module__, fn.__qualname__ = models.mlp.__module__, models.mlp.__qualname__
    monkeypatch.setitem(recipes.BUILDERS, "mlp", same_code_new_docs)
    assert recipe_hash(rec) == before, "docstrings, comments and annotations do not count"
    monkeypatch.setitem(recipes.BUILDERS, "mlp", new_code)
    assert recipe_hash(rec) != before, "a change of code changes the hash"


def test_code_closure_reaches_helpers() -> None:
    names = {obj.__qualname__ for obj in hashing.code_closure(models.locally_connected_classifier)}
    assert {"locally_connected_classifier", "LocallyConnected1d", "_pad_same"} <= names


# --- the committed weights ------------------------------------------------------------


def test_committed_weights_are_fresh() -> None:
    """Fails when a recipe changed but its weights were not re-trained, or a file changed."""
    assert artifact_problems() == [], "run 'python tools/train_models.py --stale'"


def test_freshness_check_catches_a_changed_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = RECIPES["q1_edge_zeros"]
    monkeypatch.setitem(RECIPES, rec.name, Recipe(**{**vars(rec), "seed": rec.seed + 1}))
    assert artifact_problems() == [f"{rec.name}: recipe changed since its weights were trained"]


def _weights_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the committed weights and manifest, which training then reads."""
    copy = tmp_path / "weights"
    shutil.copytree(artifacts.WEIGHTS_DIR, copy)
    monkeypatch.setattr(artifacts, "WEIGHTS_DIR", copy)
    monkeypatch.setattr(artifacts, "MANIFEST", copy / "manifest.json")
    return copy


def _flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    path.write_bytes(bytes(data))


def test_freshness_check_catches_an_altered_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = _weights_copy(tmp_path, monkeypatch)
    assert artifact_problems() == []
    _flip_a_bit(copy / "q1_dense.safetensors")
    (copy / "stray.safetensors").write_bytes(b"")
    assert artifact_problems() == [
        "q1_dense: weights file differs from the manifest's",
        "stray: weights file without a recipe",
    ]
    (copy / "q1_dense.safetensors").unlink()
    assert "q1_dense: no committed weights" in artifact_problems()


def _train_models_tool() -> types.ModuleType:
    path = Path(__file__).resolve().parents[1] / "tools" / "train_models.py"
    spec = importlib.util.spec_from_file_location("train_models_tool", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rehash_rewrites_hashes_only_and_refuses_on_a_changed_weights_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = _weights_copy(tmp_path, monkeypatch)
    manifest = json.loads((copy / "manifest.json").read_text())
    for entry in manifest.values():
        entry["recipe_hash"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    weights = {p.name: p.read_bytes() for p in copy.glob("*.safetensors")}
    tool = _train_models_tool()

    assert tool.main(["--rehash"]) == 0
    rewritten = json.loads((copy / "manifest.json").read_text())
    assert {k: v["recipe_hash"] for k, v in rewritten.items()} == {
        name: hashing.recipe_hash(name) for name in RECIPES
    }
    for entry in (*manifest.values(), *rewritten.values()):
        del entry["recipe_hash"]
    assert rewritten == manifest, "nothing but the hashes changes"
    assert {p.name: p.read_bytes() for p in copy.glob("*.safetensors")} == weights
    assert artifacts.artifact_problems() == []

    _flip_a_bit(copy / "q1_dense.safetensors")
    before = (copy / "manifest.json").read_text()
    assert tool.main(["--rehash"]) == 1
    assert (copy / "manifest.json").read_text() == before, "a refusal writes nothing"


def _family(name: str) -> bool:
    """Models of a sweep (many small recipes): re-evaluated with the re-training run.

    Of chapter 2's decoders, the seed-0 decoder of each layer is re-evaluated in every
    run and the other seeds with the re-training run.
    """
    if name.startswith("q2_decoder_"):
        return not name.endswith("_s0")
    return name.startswith(("q1_sample_", "q1_dense_h", "q2_cnn_s"))


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.retrain) if _family(n) else n for n in RECIPES],
)
def test_committed_weights_reproduce_their_metrics(name: str) -> None:
    """Evaluating the committed weights gives the manifest's metrics, count for count."""
    trained = load(name, retrain=False)
    assert next(trained.model.parameters()).dtype == torch.float64
    assert not trained.model.training
    assert training.measure(trained.model, RECIPES[name]) == trained.metrics


def test_load_keeps_the_callers_random_state() -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    load("q1_dense", retrain=False)
    assert torch.equal(torch.rand(3), expected)


def test_load_without_weights_says_how_to_make_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifacts, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(artifacts, "MANIFEST", tmp_path / "manifest.json")
    with pytest.raises(FileNotFoundError, match=r"tools/train_models\.py q1_dense"):
        load("q1_dense", retrain=False)


@pytest.mark.retrain
@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_retrains_to_its_committed_metrics(name: str) -> None:
    """Training from scratch on this machine reaches the manifest's metrics.

    Trained on one thread, as the tool trains, the run on the machine that made the
    weights is identical (more threads split sums differently); on another processor the
    float32 kernels differ in their last bits and the run drifts, so the accuracies are
    compared within 2 points and the final loss within a quarter of its value.
    """
    committed = artifacts.read_manifest()[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as tools/train_models.py trains: one thread
    try:
        fresh = training.make(name)
    finally:
        torch.set_num_threads(threads)
    for split, value in committed["metrics"].items():
        assert abs(fresh.metrics[split] - value) <= 0.02, (split, fresh.metrics[split], value)
    final = committed["losses"][-1]
    assert abs(fresh.losses[-1] - final) <= max(0.25 * final, 0.02)


def test_models_still_offers_the_recipe_catalogue() -> None:
    """The chapters import the catalogue from cnnbook.models: the very objects of recipes."""
    for name in models._RECIPE_NAMES:
        assert getattr(models, name) is getattr(recipes, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = models.no_such_name
