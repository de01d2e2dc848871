"""The committed weights of the book's models: where they live, their manifest, saving
them, and whether they are still fresh (used by chapters 1 and 2 through
:func:`cnnbook.training.load`, and by ``tools/train_models.py``).

The module is called ``artifacts`` and not ``weights`` because ``cnnbook/weights/`` is
already the package's folder of weights files (safetensors) and manifest; a module of the
same name would clash with it.

- :data:`WEIGHTS_DIR`, :data:`MANIFEST`, :func:`weights_path`: where the files are;
- :func:`file_sha256`, :func:`read_manifest`: what they hold;
- :func:`save`: a trained model's weights and its manifest entry;
- :func:`artifact_problems`: what the freshness test compares (recipe hashes of
  :mod:`cnnbook.hashing`, file hashes) with the manifest.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_file

from cnnbook.recipes import RECIPES, recipe

if TYPE_CHECKING:
    from cnnbook.training import Trained

#: The package's folder of committed weights and their manifest.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
#: Set to 1 before a chapter's kernel starts to re-train its models instead of loading them.
RETRAIN_VARIABLE = "CNNBOOK_RETRAIN"

_MANIFEST_CACHE: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}


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


def _retrain_requested() -> bool:
    return os.environ.get(RETRAIN_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def save(name: str, trained: Trained) -> None:
    """Write ``trained``'s weights and its manifest entry (the other entries are kept)."""
    from cnnbook.hashing import recipe_hash  # it imports training, which imports this module

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


def artifact_problems() -> list[str]:
    """What is wrong with the committed weights: one line per problem, empty when fresh.

    A recipe whose manifest entry or weights file is missing, whose recipe (data or
    code) changed since its weights were trained, or whose weights file is not the one
    the manifest records; a weights file or manifest entry without a recipe.
    """
    from cnnbook.hashing import recipe_hash  # it imports training, which imports this module

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
