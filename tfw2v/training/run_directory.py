"""A run directory: one folder that holds a model's whole life, from recipe to exported vectors.

    RUN/recipe.toml        the fully resolved recipe (``tfw2v train --recipe RUN/recipe.toml`` reproduces it)
    RUN/run.json           status: "training" or "complete", corpus words, vocabulary size, epochs done, speed
    RUN/phrases.txt        the phrase table joined before counting (only with ``[phrases]``; :mod:`tfw2v.text.phrase_file`)
    RUN/vocab.txt          the vocabulary, ``word count`` per line (word2vec.c ``-save-vocab`` format)
    RUN/checkpoints/       ``tf.train.CheckpointManager`` checkpoints (see :mod:`tfw2v.training.checkpointing`)
    RUN/logs/              TensorBoard: epoch scalars (``keras.callbacks.TensorBoard``, in ``train/``), step
                           scalars (``steps/``), and the Embedding Projector files (``tfw2v.export.projector``)
    RUN/progress.jsonl     step and epoch scalars as JSON lines
    RUN/history.json       the epoch logs
    RUN/evaluation.json    analogy and similarity scores and the probe words' neighbours
    RUN/model.keras        the finished model (``Word2Vec.load``, ``keras.models.load_model``), vocabulary included
    RUN/export/            saved_model/1/ (TF Serving, TF Hub), vectors.txt / vectors.bin (word2vec.c format)

This module knows the layout; :func:`load_run` / :func:`load_vectors` read a run's vectors back. Training a
run is :func:`tfw2v.training.run.train`; what a recipe builds is in :mod:`tfw2v.training.from_recipe`. Every problem a user can fix raises :class:`RunError`, a one-line message naming
the path.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Callable

from tfw2v.training import recipe as recipes
from tfw2v.training.recipe import Recipe, RecipeError

RUN_FORMAT = 1
RECIPE_FILE = "recipe.toml"
STATUS_FILE = "run.json"
VOCAB_FILE = "vocab.txt"
PHRASES_FILE = "phrases.txt"
CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"
PROGRESS_FILE = "progress.jsonl"
HISTORY_FILE = "history.json"
MODEL_FILE = "model.keras"
EVALUATION_FILE = "evaluation.json"
EXPORT_DIR = "export"
EXPORT_NAMES = {
    "saved_model": "saved_model",
    "word2vec": "vectors.txt",
    "word2vec-binary": "vectors.bin",
    "projector": "projector",
}


class RunError(ValueError):
    """A run directory that cannot be used as asked; the message names it."""


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _version() -> str:
    from tfw2v import __version__

    return __version__


# ---------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class RunDirectory:
    """Paths and bookkeeping of one run directory (nothing is created until :meth:`create`)."""

    path: Path

    def __post_init__(self):
        self.path = Path(self.path)

    recipe_file = property(lambda self: self.path / RECIPE_FILE)
    status_file = property(lambda self: self.path / STATUS_FILE)
    vocab_file = property(lambda self: self.path / VOCAB_FILE)
    phrases_file = property(lambda self: self.path / PHRASES_FILE)
    checkpoints = property(lambda self: self.path / CHECKPOINT_DIR)
    logs = property(lambda self: self.path / LOG_DIR)
    progress_file = property(lambda self: self.path / PROGRESS_FILE)
    history_file = property(lambda self: self.path / HISTORY_FILE)
    evaluation_file = property(lambda self: self.path / EVALUATION_FILE)
    export_dir = property(lambda self: self.path / EXPORT_DIR)
    model_file = property(lambda self: self.path / MODEL_FILE)

    # ---- what is there ------------------------------------------------------------------------------
    def is_run(self) -> bool:
        return self.path.is_dir() and (self.recipe_file.exists() or self.status_file.exists())

    def check_usable_for_training(self) -> None:
        """Raise :class:`RunError` unless the path is absent, an empty directory, or a run directory."""
        path = self.path
        if os.path.lexists(path) and not path.is_dir():
            raise RunError(f"{path}: exists and is not a directory; choose another --out")
        if path.is_dir() and not self.is_run() and any(path.iterdir()):
            raise RunError(f"{path}: is a non-empty directory that is not a tfw2v run (no {RECIPE_FILE}); "
                           "choose another --out")

    def check_run(self) -> None:
        """Raise :class:`RunError` unless this is a run directory with its recipe and vocabulary."""
        if not self.path.exists():
            raise RunError(f"{self.path}: no such run directory")
        if not self.path.is_dir():
            raise RunError(f"{self.path}: not a directory (expected a run directory or a word2vec file)")
        for needed in (self.recipe_file, self.vocab_file):
            if not needed.is_file():
                raise RunError(f"{self.path}: not a complete tfw2v run directory ({needed.name} is missing)")

    def read_status(self) -> dict[str, Any]:
        if not self.status_file.exists():
            return {}
        try:
            status = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RunError(f"{self.status_file}: corrupt run directory (unreadable status: {e})") from None
        if not isinstance(status, dict):
            raise RunError(f"{self.status_file}: corrupt run directory (status is not a JSON object)")
        return status

    def write_status(self, **updates: Any) -> dict[str, Any]:
        from tfw2v.export.atomic import atomic_file

        status = self.read_status()
        status.update(updates, format=RUN_FORMAT, updated=_now())
        with atomic_file(self.status_file) as f:
            json.dump(status, f, indent=2)
            f.write("\n")
        return status

    def read_recipe(self) -> Recipe:
        try:
            return recipes.load_resolved(self.recipe_file)
        except RecipeError as e:
            raise RunError(f"corrupt run directory: {e}") from None

    def write_recipe(self, recipe: Recipe, sources: list[str], command: str | None = None) -> None:
        from tfw2v.export.atomic import atomic_file

        header = [
            f"tfw2v {_version()} resolved recipe, written {_now()}",
            f"from: {', '.join(sources) if sources else 'defaults'}",
            *([f"command: {command}"] if command else []),
            f"reproduce with: tfw2v train --recipe {self.recipe_file}",
        ]
        with atomic_file(self.recipe_file) as f:
            f.write(recipe.to_toml(header))

    def write_json(self, path: Path, value: Any) -> None:
        from tfw2v.export.atomic import atomic_file

        with atomic_file(path) as f:
            json.dump(value, f, indent=2, allow_nan=True)
            f.write("\n")


def default_run_path(base: str | os.PathLike = "runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>`` (with ``-2``, ``-3``… when taken)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = Path(base) / stamp
    n = 1
    while os.path.lexists(candidate):
        n += 1
        candidate = Path(base) / f"{stamp}-{n}"
    return candidate


# ---------------------------------------------------------------------------------------------------------
def load_vectors(path: str | os.PathLike, *, say: Callable[[str], None] | None = None):
    """Word vectors from a run directory (see :func:`load_run`), a ``.keras`` file, or a word2vec.c text or
    binary file."""
    path = Path(path)
    if path.suffix == ".keras" and path.is_file():
        return load_keras(path).word_vectors()
    if path.is_dir() or not path.exists():
        return load_run(RunDirectory(path), say=say)[0]
    from tfw2v.export import read_word2vec_format

    try:
        return read_word2vec_format(path)
    except (ValueError, OSError) as e:
        raise RunError(f"{path}: cannot read word vectors ({e})") from None


def load_keras(path: str | os.PathLike):
    """The :class:`~tfw2v.training.model.Word2Vec` a ``.keras`` file holds; :class:`RunError` naming the file."""
    from tfw2v.training.model import Word2Vec

    try:
        return Word2Vec.load(path)
    except (ValueError, OSError, TypeError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunError(f"{path}: cannot load the model ({first[:300]})") from None


def load_run(run: RunDirectory, *, say: Callable[[str], None] | None = None):
    """``(WordVectors, recipe, status)`` of a run directory: from its ``model.keras`` once the run is complete,
    else from its newest restorable checkpoint."""
    from tfw2v.training.checkpointing import Checkpointer, CheckpointError
    from tfw2v.training.from_recipe import build_model, load_vocab

    run.check_run()
    recipe = run.read_recipe()
    status = run.read_status()
    if status.get("status") == "complete" and run.model_file.is_file():
        return load_keras(run.model_file).word_vectors(), recipe, status
    vocab = load_vocab(run, recipe, status.get("corpus_words"))
    model = build_model(recipe, vocab)
    try:
        position = Checkpointer(model, run.checkpoints).restore(warn=say)
    except CheckpointError as e:
        raise RunError(f"corrupt run directory: {e}") from None
    if position is None:
        raise RunError(f"{run.path}: has no checkpoint yet (training has not saved one)")
    epochs = recipe["training"]["epochs"]
    if say is not None and status.get("status") != "complete":
        epoch, step = position
        say(f"note: {run.path} is not finished; using its checkpoint at epoch {min(epoch + 1, epochs)}/{epochs}, "
            f"step {step}")
    return model.word_vectors(), recipe, status
