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
      every: evaluate every this many epochs.
      final: also evaluate the final epoch whatever ``every`` says (``False`` when the caller scores the
        finished model itself).
      restrict_vocab, method: passed to :func:`tfw2v.evaluate.analogies`.

    An epoch cut short (``model.stop_training``, e.g. by a stop signal) is not evaluated.
    """

    def __init__(
        self,
        analogy_path: PathLike | None = bundled("questions-words"),
        similarity_paths: Mapping[str, PathLike] | None = None,
        *,
        every: int = 1,
        final: bool = True,
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
        self.final = final
        self.restrict_vocab = restrict_vocab
        self.method = method
        self.results: list[dict[str, Any]] = []

    def is_due(self, epoch: int) -> bool:
        """True for every ``every``-th epoch (counted from 1) and, when ``final``, for the run's last epoch."""
        last = epoch + 1 == (self.params or {}).get("epochs")
        if last and not self.final:
            return False
        return (epoch + 1) % self.every == 0 or last

    def evaluate(self) -> tuple[dict[str, Any], dict[str, float]]:
        """Score the model now; return ``(full_results, log_entries)``."""
        result = score(as_word_vectors(self.model), self.analogy_path, self.similarity_paths,
                       restrict_vocab=self.restrict_vocab, method=self.method)
        return result, log_entries(result)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.is_due(epoch) or getattr(self.model, "stop_training", False):
            return
        result, entries = self.evaluate()
        self.results.append({"epoch": epoch, **result})
        if logs is not None:
            logs.update(entries)


def score(vectors: Any, analogy_path: PathLike | None, similarity_paths: Mapping[str, PathLike], *,
          restrict_vocab: int | None = 30000, method: str = "3cosadd") -> dict[str, Any]:
    """``{"analogies": scores | None, "similarity": {name: scores}}`` of ``vectors`` on the given sets."""
    result: dict[str, Any] = {"analogies": None, "similarity": {}}
    if analogy_path is not None:
        result["analogies"] = analogies(vectors, analogy_path, restrict_vocab=restrict_vocab, method=method)
    for name, path in similarity_paths.items():
        result["similarity"][name] = similarity(vectors, path)
    return result


def log_entries(result: dict[str, Any]) -> dict[str, float]:
    """The Keras log keys of a :func:`score` result: ``analogy_accuracy`` (and its semantic and syntactic
    parts) and ``<name>_spearman``."""
    logs: dict[str, float] = {}
    if result["analogies"] is not None:
        for key in ("accuracy", "semantic_accuracy", "syntactic_accuracy"):
            logs[f"analogy_{key}"] = result["analogies"][key]
    for name, scores in result["similarity"].items():
        logs[f"{name}_spearman"] = scores["spearman"]
    return logs
