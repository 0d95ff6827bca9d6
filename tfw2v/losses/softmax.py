"""Full softmax: the exact reference objective, for small vocabularies."""

from __future__ import annotations

import tensorflow as tf

from tfw2v.losses.base import Objective, pair_scores, weighted_pairs


class Softmax(Objective):
    """``ℓ(h, y) = -log p(y | h)`` with ``p(y | h) = exp(z_y) / Σ_v exp(z_v)``, ``z_v = h·u_v + b_v``.

    So ``L_b = Σ_pt w_bpt · (logsumexp_v z_bpv - z_{bp, y_bt})``: a soft target over the labels of one example is
    exactly the mean of its single-label examples (the reference's appendix), losses and gradients.

    Weights: ``output_embeddings`` ``[V, D]`` and ``output_biases`` ``[V]``, both zero-initialised. This is
    the only objective that reads the whole table: cost ``O(B·V·D)`` and dense gradients.
    """

    def __init__(self, vocab_size: int, dim: int, **kwargs):
        super().__init__(vocab_size, dim, **kwargs)
        self.output_biases = self.add_weight(
            shape=(self.vocab_size,), initializer="zeros", name="output_biases"
        )

    #: One softmax over V scores all of a centre word's m context labels (the reference's soft multi-label
    #: target); scoring each (context, centre) pair would cost m softmaxes.
    skipgram_input = "centre"

    def call(
        self, hidden: tf.Tensor, labels: tf.Tensor, pair_weights: tf.Tensor, training: bool | None = None
    ) -> tf.Tensor:
        logits = pair_scores(hidden, self.output_embeddings) + self.output_biases  # [B, P, V]
        pair_labels = tf.broadcast_to(labels[:, None, :], tf.shape(pair_weights))
        label_logits = tf.gather(logits, pair_labels, batch_dims=2)  # [B, P, T]
        return weighted_pairs(pair_weights, tf.reduce_logsumexp(logits, axis=-1, keepdims=True) - label_logits)
