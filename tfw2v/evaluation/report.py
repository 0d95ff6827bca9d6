"""A run's evaluation as its recipe asks for it: scores with their files, nearest neighbours, and the lines
that print them (used by ``tfw2v.training.run``, ``tfw2v evaluate`` and ``tfw2v study``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tfw2v.evaluation.callback import EvaluationCallback, score
from tfw2v.training import recipe as recipes
from tfw2v.training.recipe import Recipe
from tfw2v.training.run_directory import RunError


def evaluate_vectors(vectors, recipe: Recipe) -> dict[str, Any]:
    """Analogies and word-pair similarity as the recipe's ``[evaluation]`` asks; plain JSON-able numbers, each
    set with the ``file`` it came from."""
    ev = recipe["evaluation"]
    result = score(vectors, evaluation_file(ev["analogies"]) if ev["analogies"] else None, similarity_sets(recipe),
                   restrict_vocab=ev["restrict_vocab"])
    if result["analogies"] is not None:
        result["analogies"] = {"file": ev["analogies"], "restrict_vocab": ev["restrict_vocab"], **result["analogies"]}
    names = {set_name(name): name for name in ev["similarity"]}
    result["similarity"] = {key: {"file": names[key], **scores} for key, scores in result["similarity"].items()}
    return result


def similarity_sets(recipe: Recipe) -> dict[str, str]:
    """``{set name: path}`` of the recipe's word-pair sets."""
    return {set_name(name): evaluation_file(name) for name in recipe["evaluation"]["similarity"]}


def epoch_evaluation(recipe: Recipe) -> EvaluationCallback | None:
    """The callback that scores every ``[evaluation] every``-th epoch during training (``None`` when ``every``
    is 0); the finished model is scored by :func:`evaluate_vectors`, so the last epoch is left to it."""
    ev = recipe["evaluation"]
    if not ev["every"]:
        return None
    return EvaluationCallback(evaluation_file(ev["analogies"]) if ev["analogies"] else None, similarity_sets(recipe),
                              every=ev["every"], final=False, restrict_vocab=ev["restrict_vocab"])


def evaluation_file(name: str) -> str:
    """The file a recipe's evaluation entry names (``bundled:NAME`` or a path); :class:`RunError` if missing."""
    path = recipes.bundled_path(name)
    if not os.path.isfile(path):
        raise RunError(f"{path}: no such evaluation file")
    return path


def set_name(name: str) -> str:
    """``bundled:wordsim353`` → ``wordsim353``; ``/data/simlex.txt`` → ``simlex``."""
    if name.startswith(recipes.BUNDLED_PREFIX):
        return name[len(recipes.BUNDLED_PREFIX):]
    return Path(name).name.split(".")[0]


def neighbours(vectors, words: list[str], k: int) -> dict[str, list[tuple[str, float]] | None]:
    """``{word: [(neighbour, cosine), ...]}``; ``None`` for a word outside the vocabulary. Each query is first
    tokenized like the corpus (so ``King`` finds ``king`` in a lower-cased run)."""
    out: dict[str, list[tuple[str, float]] | None] = {}
    for word in words:
        key = query_token(vectors, word)
        out[word] = vectors.most_similar(key, k) if key is not None else None
    return out


def query_token(vectors, word: str) -> str | None:
    if word in vectors:
        return word
    try:
        tokens = vectors.tokenizer.tokenize_python(word)
    except Exception:  # a query that the tokenizer rejects is simply not found
        return None
    return tokens[0] if len(tokens) == 1 and tokens[0] in vectors else None


def format_evaluation(result: dict[str, Any]) -> list[str]:
    lines = []
    a = result.get("analogies")
    if a:
        lines.append(
            f"  analogies ({set_name(a['file'])}, top {a['restrict_vocab']:,} words): accuracy "
            f"{100 * a['accuracy']:.2f}% (semantic {100 * a['semantic_accuracy']:.2f}%, syntactic "
            f"{100 * a['syntactic_accuracy']:.2f}%); {a['correct']:,}/{a['total']:,} correct, "
            f"{a['skipped']:,} skipped (unknown words)"
        )
    for name, s in result.get("similarity", {}).items():
        lines.append(f"  {name}: Spearman {s['spearman']:.3f}, Pearson {s['pearson']:.3f} "
                     f"({s['pairs']:,} pairs, {s['oov']:,} with unknown words)")
    return lines or ["  (no evaluation sets configured)"]


def format_neighbours(found: dict[str, Any]) -> list[str]:
    width = max((len(w) for w in found), default=0)
    lines = []
    for word, near in found.items():
        if near is None:
            lines.append(f"  {word:<{width}}  (not in the vocabulary)")
        else:
            lines.append(f"  {word:<{width}}  " + ", ".join(f"{w} {s:.3f}" for w, s in near))
    return lines
