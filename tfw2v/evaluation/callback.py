"""A Keras callback that scores the model's word vectors while it trains."""

from __future__ import annotations

from typing import Any, Mapping

import keras

from tfw2v.evaluation.analogies import analogies
from tfw2v.evaluation.common import PathLike, bundled
from tfw2v.evaluation.similarity import similarity
from tfw2v.training.vectors import as_word_vectors

DEFAULT_SIMILARITY_SETS = ("wordsim353", "simlex999", "men")


class EvaluationCallback(keras.callbacks.Callback):
    """Evaluate ``self.model.word_vectors()`` at the end of every ``every``-th epoch and of the last one.

    The scores are added to the epoch's ``logs``, so the progress bar, ``History`` and a ``TensorBoard``
    callback listed *after* this one show them:

    * ``analogy_accuracy``, ``analogy_semantic_accuracy``, ``analogy_syntactic_accuracy`` (see
      :func:`tfw2v.evaluate.analogies`);
    * ``<name>_spearman`` for each word-pair set (see :func:`tfw2v.evaluate.similarity`).

    Epochs that are not evaluated get none of these keys. Full results are kept in ``self.results`` as
    ``{"epoch": int, "analogies": dict | None, "similarity": {name: dict}}``.

    Args:
      analogy_path: analogy questions; default the bundled ``questions-words.txt``; ``None`` skips analogies.
      similarity_paths: ``{name: path}`` of word-pair sets; default the bundled WordSim353, SimLex-999 and
        MEN (as ``wordsim353``, ``simlex999``, ``men``).
      every: evaluate every this many epochs (the final epoch is always evaluated).
      restrict_vocab, method: passed to :func:`tfw2v.evaluate.analogies`.
    """

    def __init__(
        self,
        analogy_path: PathLike | None = bundled("questions-words"),
        similarity_paths: Mapping[str, PathLike] | None = None,
        *,
        every: int = 1,
        restrict_vocab: int | None = 30000,
        method: str = "3cosadd",
    ):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.analogy_path = analogy_path
        self.similarity_paths = (
            {name: bundled(name) for name in DEFAULT_SIMILARITY_SETS}
            if similarity_paths is None
            else dict(similarity_paths)
        )
        self.every = every
        self.restrict_vocab = restrict_vocab
        self.method = method
        self.results: list[dict[str, Any]] = []

    def is_due(self, epoch: int) -> bool:
        """True for every ``every``-th epoch (counted from 1) and for the last epoch of ``fit``."""
        return (epoch + 1) % self.every == 0 or epoch + 1 == (self.params or {}).get("epochs")

    def evaluate(self) -> tuple[dict[str, Any], dict[str, float]]:
        """Score the model now; return ``(full_results, log_entries)``."""
        vectors = as_word_vectors(self.model)
        result: dict[str, Any] = {"analogies": None, "similarity": {}}
        logs: dict[str, float] = {}
        if self.analogy_path is not None:
            scores = analogies(vectors, self.analogy_path, restrict_vocab=self.restrict_vocab, method=self.method)
            result["analogies"] = scores
            for key in ("accuracy", "semantic_accuracy", "syntactic_accuracy"):
                logs[f"analogy_{key}"] = scores[key]
        for name, path in self.similarity_paths.items():
            scores = similarity(vectors, path)
            result["similarity"][name] = scores
            logs[f"{name}_spearman"] = scores["spearman"]
        return result, logs

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.is_due(epoch):
            return
        result, entries = self.evaluate()
        self.results.append({"epoch": epoch, **result})
        if logs is not None:
            logs.update(entries)
