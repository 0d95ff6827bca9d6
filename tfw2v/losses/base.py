"""The one interface every objective implements (cf. fastText's ``Loss::forward`` in src/loss.h).

An objective scores pairs of an input-side vector and an output word, and returns one loss per example:

    L_b = Σ_p Σ_t w_bpt · ℓ(h_bp, y_bt)

``hidden`` ``h`` is ``[B, P, D]`` (the example's ``P`` input vectors), ``labels`` ``y`` is ``[B, T]`` int32/int64
and ``pair_weights`` ``w`` is ``[B, P, T]`` float32, the weight of the pair ``(h_bp, y_bt)``. Padding carries
weight 0: its id may be any valid id and its vector any vector, and it changes neither the loss nor any
gradient. Sampled objectives draw one example's ``K`` samples once and score every one of its pairs against
them (see ``sampling.py``).

The one signature covers every way word2vec forms pairs (the model's ``scored_pairs`` builds them):

* CBOW: ``P = T = 1``, the mean of the context rows against the centre word.
* skip-gram as word2vec.c trains it: ``P = m`` context rows against ``T = 1`` centre word, weights ``1/m``;
  each context vector gets its own K-sample term (Ji et al., 2016, "Parallelizing word2vec in shared and
  distributed memory") at the cost of ``1 + K`` rows per example.
* skip-gram as a soft multi-label target (the reference's form): ``P = 1`` centre row against ``T = m``
  context words, weights ``1/m``; with the same samples it is exactly the mean of its ``m`` single-label
  examples. Full softmax trains this way (:attr:`Objective.skipgram_input`), since its cost is one
  ``V``-wide normaliser per input vector.

Each objective owns the output side of word2vec: the table ``output_embeddings`` ``[V, D]``, zero-initialised
like word2vec.c's ``syn1neg``/``syn1``, and whatever biases its family uses.
"""

from __future__ import annotations

import abc
import os
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from tfw2v.losses.tables import add_table, read_rows

#: The asset file (inside a ``.keras`` archive) that holds an objective's word counts.
COUNTS_ASSET = "counts.npy"


def pair_scores(hidden: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """``s_bpn = h_bp · r_bn``: scores ``[B, P, N]`` of ``hidden [B, P, D]`` against ``rows`` ``[B, N, D]`` (each
    example's own rows) or ``[N, D]`` (rows shared by the batch).

    With one input vector per example the per-example product is a broadcast multiply and sum: on CPU, ``B``
    tiny ``[1, D] x [D, N]`` matmuls cost several times more than one elementwise pass.
    """
    if len(rows.shape) == 2:
        batch, inputs = tf.shape(hidden)[0], tf.shape(hidden)[1]
        flat = tf.matmul(tf.reshape(hidden, [-1, tf.shape(hidden)[2]]), rows, transpose_b=True)
        return tf.reshape(flat, [batch, inputs, tf.shape(rows)[0]])
    if hidden.shape[1] == 1:
        return tf.reduce_sum(hidden * rows, axis=-1)[:, None, :]
    return tf.matmul(hidden, rows, transpose_b=True)


def weighted_pairs(pair_weights: tf.Tensor, per_pair: tf.Tensor) -> tf.Tensor:
    """``L_b = Σ_p Σ_t w_bpt · ℓ_bpt``: the ``[B]`` example losses from ``[B, P, T]`` pair losses."""
    return tf.reduce_sum(tf.cast(pair_weights, per_pair.dtype) * per_pair, axis=[1, 2])


class Objective(keras.layers.Layer, metaclass=abc.ABCMeta):
    """Base layer: ``objective(hidden, labels, pair_weights, training=None) -> [B]`` float32 losses.

    Subclasses implement :meth:`call`. Every objective except full ``softmax`` reads the output table with
    :meth:`output_rows` (``tf.gather``), so its gradient is a ``tf.IndexedSlices`` over the rows it touched
    and its cost does not grow with V.

    Objectives whose state derives from the word counts (the Huffman tree, unigram noise) report
    :attr:`needs_counts`, take them as ``counts=`` or through :meth:`set_counts`, and carry them as an asset of a
    ``.keras`` file (:data:`COUNTS_ASSET`), so ``get_config`` stays small and ``from_config`` + the assets give
    the objective back.
    """

    #: Which word of a skip-gram pair is the input vector: ``"context"`` (word2vec.c's: ``m`` context rows
    #: against the centre word) or ``"centre"`` (the centre row against its ``m`` contexts at once), for an
    #: objective whose cost is one normaliser per input vector (full softmax).
    skipgram_input: ClassVar[str] = "context"

    def __init__(self, vocab_size: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        if int(vocab_size) < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        if int(dim) < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.vocab_size = int(vocab_size)
        self.dim = int(dim)
        self.output_embeddings = add_table(self, "output_embeddings", (self.vocab_size, self.dim),
                                           keras.initializers.Zeros())
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

    def __call__(self, hidden, labels, pair_weights, *args, **kwargs):
        """Check the ranks of the one signature (:meth:`call`), then score."""
        for name, value, rank in (("hidden", hidden, 3), ("labels", labels, 2), ("pair_weights", pair_weights, 3)):
            if len(value.shape) != rank:
                raise ValueError(f"{type(self).__name__}: {name} must have rank {rank} (hidden [B, P, D], labels "
                                 f"[B, T], pair_weights [B, P, T]), got shape {tuple(value.shape)}")
        return super().__call__(hidden, labels, pair_weights, *args, **kwargs)

    def output_rows(self, ids: tf.Tensor) -> tf.Tensor:
        """Rows ``u_id`` of the output table, shape ``ids.shape + [D]`` (sparse gradient)."""
        return read_rows(self.output_embeddings, ids)

    @abc.abstractmethod
    def call(
        self, hidden: tf.Tensor, labels: tf.Tensor, pair_weights: tf.Tensor, training: bool | None = None
    ) -> tf.Tensor:
        """Per-example loss ``L_b = Σ_p Σ_t w_bpt · ℓ(h_bp, y_bt)``, float32 ``[B]``, from ``hidden [B, P, D]``,
        ``labels [B, T]`` and ``pair_weights [B, P, T]``."""
