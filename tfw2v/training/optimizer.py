"""word2vec's optimizer: plain SGD with sparse row updates and a learning rate that decays by words read."""

from __future__ import annotations

import keras
import tensorflow as tf


def linear_decay(alpha: float, words_seen: tf.Tensor, total_words: tf.Tensor, floor: float = 1e-4) -> tf.Tensor:
    """word2vec.c's schedule: ``alpha · max(floor, 1 − words_seen / total_words)``.

    It falls linearly from ``alpha`` to ``alpha·floor`` over all corpus words of all epochs.
    """
    progress = tf.cast(words_seen, tf.float64) / tf.maximum(tf.cast(total_words, tf.float64), 1.0)
    return tf.cast(alpha * tf.maximum(1.0 - progress, floor), tf.float32)


class Word2VecSGD(keras.optimizers.Optimizer):
    """SGD without momentum whose sparse updates average the repeated rows of a batch.

    word2vec.c applies one pair at a time, so a frequent word's row moves a little per pair, each step seeing
    the last. A batch computes all of a row's ``n`` gradients at the same parameters; summing them moves the
    row ``n`` times as far in one jump, and at batch sizes ≥ 4096 frequent rows (``the`` as a negative, say)
    overshoot and training diverges. This optimizer applies, for each row ``r`` touched by ``n_r > 0``
    non-zero gradient slices,

        ``row_r ← row_r − lr · (Σ_i g_i) / n_r``

    (rows seen once get exactly the plain SGD step). Padding slices (all-zero gradients) are not counted.
    Cost is proportional to the slices in the batch, never to the vocabulary. Dense gradients (full softmax's
    output table and biases) are capped row by row by :meth:`cap_dense_gradients` first, then applied as
    ``lr · g``.

    ``tf.unique`` has no XLA kernel, so under ``jit_compile=True`` pass ``dense_row_counts=True``: the
    occurrences are then counted in a ``[V]`` buffer (a memset per step, cheap on an accelerator) with the
    same arithmetic.
    """

    def __init__(
        self,
        learning_rate=0.025,
        *,
        max_row_repeats: float = 32.0,
        dense_row_counts: bool = False,
        name: str = "word2vec_sgd",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if max_row_repeats <= 0:
            raise ValueError(f"max_row_repeats={max_row_repeats!r}: must be > 0")
        self.max_row_repeats = float(max_row_repeats)
        self.dense_row_counts = dense_row_counts

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = tf.cast(learning_rate, variable.dtype)
        if not isinstance(gradient, tf.IndexedSlices):
            self.assign_sub(variable, tf.cast(gradient, variable.dtype) * learning_rate)
            return
        values = tf.cast(gradient.values, variable.dtype)
        nonzero = tf.not_equal(values, 0)
        if values.shape.rank > 1:
            nonzero = tf.reduce_any(nonzero, axis=list(range(1, values.shape.rank)))
        occurrences = _occurrences(
            gradient.indices, tf.cast(nonzero, variable.dtype), variable.shape[0],  # static: no read of the table
            self.dense_row_counts,
        )
        scale = learning_rate * tf.minimum(1.0, self.max_row_repeats / tf.maximum(occurrences, 1))
        scale = tf.reshape(scale, [-1] + [1] * (values.shape.rank - 1))
        self.assign_sub(variable, tf.IndexedSlices(values * scale, gradient.indices, gradient.dense_shape))

    def cap_dense_gradients(self, gradients: list, hidden_norm: tf.Tensor) -> list:
        """Cap each dense gradient's rows like repeated sparse rows: row ``r`` is clipped to ``c`` pairs' worth.

        For row ``r`` of a dense gradient ``G`` (its slice along axis 0) and ``c = max_row_repeats``,

            ``G_r ← G_r · min(1, c · ν / |G_r|)``,

        with ``ν = |h|`` (the batch's mean hidden norm) for a table (rank ≥ 2) and ``ν = 1`` for biases (rank 1).
        Full softmax's row ``r`` gets ``Σ_n a_nr · h_n`` in its table and ``Σ_n a_nr`` in its bias from the
        pairs ``n``, each with ``|a_nr| = |∂ℓ_n/∂z_r| ≤ 1``. One pair's gradient thus has norm at most ``ν``,
        and ``|G_r| / ν`` estimates how many pairs pushed row ``r``. Capping that at ``c`` lets a frequent row move
        as far as ``c`` aligned pairs, as a sparse row touched ``n_r > c`` times moves ``c`` times its mean; rows
        with little mass are untouched. The biases need it most: unclipped, a frequent word's bias moves by
        ``lr · Σ_n a_nr``, which grows with the batch (at batch 4096 full softmax diverged). Sparse gradients,
        ``None`` and scalars pass unchanged.
        """
        limit = self.max_row_repeats * tf.cast(hidden_norm, tf.float32)

        def cap(g):
            if g is None or isinstance(g, tf.IndexedSlices) or g.shape.rank == 0:
                return g
            if g.shape.rank == 1:
                return tf.clip_by_value(g, -self.max_row_repeats, self.max_row_repeats)
            return tf.clip_by_norm(g, tf.cast(limit, g.dtype), axes=list(range(1, g.shape.rank)))

        return [cap(g) for g in gradients]

    def get_config(self):
        return {**super().get_config(), "max_row_repeats": self.max_row_repeats,
                "dense_row_counts": self.dense_row_counts}


def _occurrences(indices: tf.Tensor, touched: tf.Tensor, num_rows: tf.Tensor, dense: bool) -> tf.Tensor:
    """For each slice, how many touched slices share its row."""
    if dense:
        per_row = tf.math.unsorted_segment_sum(touched, indices, num_rows)
        return tf.gather(per_row, indices)
    rows, position = tf.unique(indices)
    per_row = tf.math.unsorted_segment_sum(touched, position, tf.shape(rows)[0])
    return tf.gather(per_row, position)

