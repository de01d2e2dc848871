"""Re-train the book's models from their recipes and commit-ready weights and manifest.

    python tools/train_models.py                # every recipe
    python tools/train_models.py q2_cnn         # some of them
    python tools/train_models.py --stale        # only those whose recipe changed
    python tools/train_models.py --rehash       # new recipe hashes, same weights

Each recipe of ``cnnbook.recipes.RECIPES`` is trained from scratch, single-threaded, in
float32 (a decoder of chapter 2 on the committed weights of the network it inverts,
so train that network first); its weights go to
``src/cnnbook/weights/<name>.safetensors`` and its recipe hash, loss history and
metrics to ``src/cnnbook/weights/manifest.json``. Then
re-execute the notebooks (``python tools/execute_notebooks.py``) and commit all three.

``--rehash`` trains nothing and leaves every weights file as it is: it writes each
recipe's current hash into the manifest. It is for a change of how the hash is
computed (or a move of code it covers), not of what a recipe computes, which needs a
re-training. It refuses, and writes nothing, when a weights file is missing or its
SHA-256 differs from the manifest's, or when a recipe's data differ from the
manifest's record.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from cnnbook import artifacts, reproducible
from cnnbook.artifacts import file_sha256, read_manifest, save, weights_path
from cnnbook.hashing import recipe_hash
from cnnbook.recipes import RECIPES, canonical_json
from cnnbook.training import make


def stale() -> list[str]:
    """Recipes whose manifest entry is missing or records another recipe hash."""
    manifest = read_manifest()
    return [
        name for name in RECIPES if manifest.get(name, {}).get("recipe_hash") != recipe_hash(name)
    ]


def rehash_problems(manifest: dict[str, dict[str, object]]) -> list[str]:
    """Why the manifest's recipe hashes cannot be rewritten: one line per recipe."""
    problems = []
    for name, rec in RECIPES.items():
        entry, path = manifest.get(name), weights_path(name)
        if entry is None or not path.exists():
            problems.append(f"{name}: no committed weights")
        elif entry["weights_sha256"] != file_sha256(path):
            problems.append(f"{name}: weights file differs from the manifest's")
        elif canonical_json(entry["recipe"]) != canonical_json(rec.as_dict()):
            problems.append(f"{name}: recipe data changed; re-train it")
    return problems


def rehash() -> int:
    """Write every recipe's current hash into the manifest; the weights are not touched."""
    manifest = read_manifest()
    problems = rehash_problems(manifest)
    if problems:
        print("refusing to rehash:", *problems, sep="\n", file=sys.stderr)
        return 1
    changed = 0
    for name in RECIPES:
        new = recipe_hash(name)
        changed += manifest[name]["recipe_hash"] != new
        manifest[name]["recipe_hash"] = new
    text = json.dumps(dict(sorted(manifest.items())), indent=1) + "\n"
    artifacts.MANIFEST.write_text(text)
    print(f"{changed} of {len(RECIPES)} recipe hashes rewritten; no weights touched")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="recipes to train (default: all)")
    parser.add_argument("--stale", action="store_true", help="train only stale recipes")
    parser.add_argument(
        "--rehash", action="store_true", help="rewrite the recipe hashes, train nothing"
    )
    args = parser.parse_args(argv)
    if args.rehash:
        if args.names or args.stale:
            parser.error("--rehash takes no recipe names and no --stale")
        return rehash()
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
