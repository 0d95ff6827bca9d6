"""What a run reports and ships: evaluation scores, nearest neighbours, and the exported vectors."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Callable, TextIO

from tfw2v.training import recipe as recipes
from tfw2v.training.recipe import Recipe
from tfw2v.training.run_directory import EXPORT_NAMES, RunError


@dataclasses.dataclass
class Reporter:
    """Where a run prints: ``out`` for progress and results, ``err`` for notes."""

    out: TextIO = dataclasses.field(default_factory=lambda: sys.stdout)
    err: TextIO = dataclasses.field(default_factory=lambda: sys.stderr)

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()


def evaluate_vectors(vectors, recipe: Recipe) -> dict[str, Any]:
    """Analogies and word-pair similarity as the recipe's ``[evaluation]`` asks; plain JSON-able numbers."""
    from tfw2v import evaluate

    ev = recipe["evaluation"]
    result: dict[str, Any] = {"analogies": None, "similarity": {}}
    if ev["analogies"]:
        path = evaluation_file(ev["analogies"])
        result["analogies"] = {"file": ev["analogies"], "restrict_vocab": ev["restrict_vocab"],
                               **evaluate.analogies(vectors, path, restrict_vocab=ev["restrict_vocab"])}
    for name in ev["similarity"]:
        path = evaluation_file(name)
        result["similarity"][set_name(name)] = {"file": name, **evaluate.similarity(vectors, path)}
    return result


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


# ---------------------------------------------------------------------------------------------------------
def export_vectors(vectors, formats: list[str], to: Path, *, logdir: Path | None = None, projector_top: int = 0,
                   overwrite: bool = False, saved_model_version: int | None = None,
                   say: Callable[[str], None] = print) -> dict[str, str]:
    """Write ``formats`` under ``to`` (``saved_model/<version>``, ``vectors.txt``, ``vectors.bin``,
    ``projector/`` or ``logdir``); return ``{format: path}``.

    Existing vector and projector files are kept (:class:`RunError`) unless ``overwrite``. The SavedModel goes
    to the next free version, or to ``saved_model_version`` (replaced when ``overwrite``).
    """
    from tfw2v import export

    if os.path.lexists(to) and not to.is_dir():
        raise RunError(f"{to}: exists and is not a directory")
    targets = {fmt: logdir if fmt == "projector" and logdir is not None else to / EXPORT_NAMES[fmt] for fmt in formats}
    if not overwrite:  # check every format before writing any
        for fmt, target in targets.items():
            clash = target / "metadata.tsv" if fmt == "projector" else target
            if fmt != "saved_model" and os.path.lexists(clash):
                raise RunError(f"{clash}: already exists; not overwriting it (use --force, or another --to)")
    written: dict[str, str] = {}
    for fmt, target in targets.items():
        to.mkdir(parents=True, exist_ok=True)
        try:
            if fmt == "saved_model":
                written[fmt] = str(export.saved_model(vectors, target, version=saved_model_version,
                                                      overwrite=overwrite and saved_model_version is not None))
            elif fmt in ("word2vec", "word2vec-binary"):
                written[fmt] = str(export.word2vec_format(vectors, target, binary=fmt == "word2vec-binary"))
            elif fmt == "projector":
                target.mkdir(parents=True, exist_ok=True)
                written[fmt] = str(export.projector(vectors, target, top=projector_top or None))
        except FileExistsError as e:
            raise RunError(f"{e.filename}: already exists; not overwriting it") from None
        except ImportError as e:  # the projector needs TensorBoard
            say(f"  {fmt} skipped: {e}")
        except ValueError as e:  # a token the format cannot hold (whitespace in word2vec format, …)
            raise RunError(f"{fmt} export failed: {e}") from None
    return written
