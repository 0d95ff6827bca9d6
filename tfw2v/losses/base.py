"""The one interface every objective implements (cf. fastText's ``Loss`` in src/loss.cc).

An objective turns hidden vectors and soft multi-label targets into one loss per example:

    L_b = Σ_t w_bt · ℓ(h_b, y_bt)

``hidden`` ``h`` is ``[B, D]``; ``labels`` ``y`` is ``[B, T]`` int32/int64 and ``label_weights`` ``w`` is
``[B, T]`` float32. The weights of one example sum to 1 (a skip-gram centre word with its m context words
carries ``1/m`` on each), and padding carries weight 0: its id may be any valid id and changes neither the
loss nor any gradient. With these weights one soft-target example is the mean of its m single-label examples
(see ``sampling.py`` for what sharing samples among the labels changes).

The same call also takes ``hidden`` ``[B, T, D]`` with ``labels`` ``[B, 1]``: ``T`` hidden vectors that share
one label, ``L_b = Σ_t w_bt · ℓ(h_bt, y_b)``. This is word2vec.c's skip-gram orientation, where each context
word's vector is the input and the centre word the target; sampled objectives then score one example's ``T``
hidden vectors against the label and the same ``K`` samples, so each hidden vector gets its own K-sample term
(Ji et al., 2016, "Parallelizing word2vec in shared and distributed memory") at the cost of ``T + 1 + K`` rows.

Each objective owns the output side of word2vec: the table ``output_embeddings`` ``[V, D]``, zero-initialised
like word2vec.c's ``syn1neg``/``syn1``, and whatever biases its family uses.
"""

from __future__ import annotations

import abc
import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

#: The asset file (inside a ``.keras`` archive) that holds an objective's word counts.
COUNTS_ASSET = "counts.npy"


def read_rows(table: keras.Variable, ids: tf.Tensor) -> tf.Tensor:
    """``table[ids]`` read sparsely: a ``ResourceGather`` of just those rows, never a read of the whole table.

    ``tf.gather`` on a Keras variable first converts it to a dense tensor (a read of all ``V`` rows); while
    that read is alive, the step's sparse update must copy the whole table. Gathering through the underlying
    ``tf.Variable`` reads only the rows, so a step's cost does not grow with the vocabulary.
    """
    return tf.gather(table.value, ids)


class Objective(keras.layers.Layer, metaclass=abc.ABCMeta):
    """Base layer: ``objective(hidden, labels, label_weights, training=None) -> [B]`` float32 losses.

    Subclasses implement :meth:`call`. Every objective except full ``softmax`` reads the output table with
    :meth:`output_rows` (``tf.gather``), so its gradient is a ``tf.IndexedSlices`` over the rows it touched
    and its cost does not grow with V.

    Objectives whose state derives from the word counts (the Huffman tree, unigram noise) report
    :attr:`needs_counts`, take them as ``counts=`` or through :meth:`set_counts`, and carry them as an asset of a
    ``.keras`` file (:data:`COUNTS_ASSET`), so ``get_config`` stays small and ``from_config`` + the assets give
    the objective back.
    """

    #: Skip-gram form this objective trains best in: ``False`` = word2vec.c's (each context vector predicts the
    #: centre, ``hidden [B, T, D]``); ``True`` = the soft-target form (the centre predicts its ``T`` contexts,
    #: ``hidden [B, D]``), for objectives whose cost is one normaliser per hidden vector (full softmax).
    scores_soft_targets_at_once: bool = False

    def __init__(self, vocab_size: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        if int(vocab_size) < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        if int(dim) < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.vocab_size = int(vocab_size)
        self.dim = int(dim)
        self.output_embeddings = self.add_weight(
            shape=(self.vocab_size, self.dim), initializer="zeros", name="output_embeddings"
        )
        self.counts: np.ndarray | None = None
        self.built = True  # every weight's shape is known from (vocab_size, dim): nothing waits for inputs

    # ---- word counts: constructor argument, or a .keras asset ----------------------------------------
    @property
    def needs_counts(self) -> bool:
        """Whether this objective is built from word counts (then :meth:`set_counts` must run before ``call``)."""
        return False

    def set_counts(self, counts: np.ndarray) -> None:
        """Build what derives from the word counts (int64 ``[V]``, descending): see :meth:`use_counts`."""
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (self.vocab_size,):
            raise ValueError(f"counts has shape {counts.shape}, expected ({self.vocab_size},) for vocab_size="
                             f"{self.vocab_size}")
        self.counts = counts
        self.use_counts(counts)

    def use_counts(self, counts: np.ndarray) -> None:
        """Subclass hook of :meth:`set_counts`."""

    def check_counts(self) -> None:
        """``ValueError`` when the objective needs counts and has none yet."""
        if self.needs_counts and self.counts is None:
            raise ValueError(f"{type(self).__name__} was built without word counts: pass counts=, call "
                             "set_counts(), or load it with its .keras file")

    def save_assets(self, dir_path: str) -> None:
        if self.counts is not None:
            np.save(os.path.join(dir_path, COUNTS_ASSET), self.counts)

    def load_assets(self, dir_path: str | None) -> None:
        path = None if dir_path is None else os.path.join(dir_path, COUNTS_ASSET)  # None: nothing was saved
        if path is not None and os.path.exists(path):
            self.set_counts(np.load(path))
        self.check_counts()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocab_size": self.vocab_size, "dim": self.dim}

    def output_rows(self, ids: tf.Tensor) -> tf.Tensor:
        """Rows ``u_id`` of the output table, shape ``ids.shape + [D]`` (sparse gradient)."""
        return read_rows(self.output_embeddings, ids)

    @abc.abstractmethod
    def call(
        self, hidden: tf.Tensor, labels: tf.Tensor, label_weights: tf.Tensor, training: bool | None = None
    ) -> tf.Tensor:
        """Per-example loss ``L_b = Σ_t w_bt · ℓ(h_b, y_bt)``, float32 ``[B]``."""
