"""Hierarchical softmax over word2vec.c's Huffman tree."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfw2v.losses.huffman import build_huffman
from tfw2v.losses.base import Objective, pair_scores, weighted_pairs


class HierarchicalSoftmax(Objective):
    """``ℓ(h, y) = -Σ_j log σ((1 - 2·code_j) · h·u_{point_j})`` over the ``lengths[y]`` steps of ``y``'s path.

    ``code``/``point`` come from :func:`tfw2v.losses.huffman.build_huffman` (word2vec.c's convention: node
    ``point_j`` is trained towards ``1 - code_j``); ``u`` is row ``point_j`` of ``output_embeddings``
    (word2vec.c's ``syn1``: inner nodes use rows ``0 … V-2``, row ``V-1`` is never read). No bias. The
    ``p(w | h)`` sum to 1 over the vocabulary, and the loss is linear in the label weights, so a soft target
    is exactly the mean of its single-label examples. Cost per label is the tree's longest path (paths are
    padded to it and masked).

    Args:
      counts: int64 ``[V]`` word counts in descending order, ``V ≥ 2`` (the tree's inputs; a ``.keras`` file
        carries them as an asset, see :class:`~tfw2v.losses.base.Objective`).
    """

    def __init__(self, vocab_size: int, dim: int, *, counts: np.ndarray | None = None, **kwargs):
        super().__init__(vocab_size, dim, **kwargs)
        self.tree = None
        if counts is not None:
            self.set_counts(counts)

    @property
    def needs_counts(self) -> bool:
        return True

    def use_counts(self, counts: np.ndarray) -> None:
        self.tree = build_huffman(counts)

    def call(
        self, hidden: tf.Tensor, labels: tf.Tensor, pair_weights: tf.Tensor, training: bool | None = None
    ) -> tf.Tensor:
        self.check_counts()
        points = tf.gather(tf.constant(self.tree.points), labels)  # [B, T, L]
        signs = 1.0 - 2.0 * tf.cast(tf.gather(tf.constant(self.tree.codes), labels), hidden.dtype)
        on_path = tf.sequence_mask(
            tf.gather(tf.constant(self.tree.lengths), labels), self.tree.max_length, dtype=hidden.dtype
        )
        batch, num_labels, length = tf.shape(points)[0], tf.shape(points)[1], self.tree.max_length
        nodes = self.output_rows(tf.reshape(points, [batch, num_labels * length]))  # one [P, D] x [D, T·L] product
        scores = tf.reshape(pair_scores(hidden, nodes), [batch, -1, num_labels, length])  # [B, P, T, L]
        per_pair = tf.reduce_sum(on_path[:, None] * tf.nn.softplus(-signs[:, None] * scores), axis=-1)
        return weighted_pairs(pair_weights, per_pair)
