"""Re-train the book's models from their recipes and commit-ready weights and manifest.

    python tools/train_models.py                # every recipe
    python tools/train_models.py q2_cnn         # some of them
    python tools/train_models.py --stale        # only those whose recipe changed

Each recipe of ``cnnbook.models.RECIPES`` is trained from scratch, single-threaded, in
float32 (a decoder of chapter 2 on the committed weights of the network it inverts,
so train that network first); its weights go to
``src/cnnbook/weights/<name>.safetensors`` and its recipe hash, loss history and
metrics to ``src/cnnbook/weights/manifest.json``. Then
re-execute the notebooks (``python tools/execute_notebooks.py``) and commit all three.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from cnnbook import reproducible
from cnnbook.models import RECIPES
from cnnbook.training import make, read_manifest, recipe_hash, save


def stale() -> list[str]:
    """Recipes whose manifest entry is missing or records another recipe hash."""
    manifest = read_manifest()
    return [
        name for name in RECIPES if manifest.get(name, {}).get("recipe_hash") != recipe_hash(name)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="recipes to train (default: all)")
    parser.add_argument("--stale", action="store_true", help="train only stale recipes")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(RECIPES))
    if unknown:
        parser.error(f"unknown recipes {unknown}; known: {sorted(RECIPES)}")
    names = args.names or (stale() if args.stale else list(RECIPES))
    reproducible(seed=0)  # one thread, deterministic algorithms
    for name in names:
        start = time.perf_counter()
        trained = make(name)
        save(name, trained)
        metrics = ", ".join(f"{k} {v:.1%}" for k, v in trained.metrics.items())
        print(f"{name}: {time.perf_counter() - start:.1f} s, {metrics}")
    print(f"{len(names)} trained with torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
