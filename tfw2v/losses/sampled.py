"""Softmax over the label and sampled candidates: "downsampled" softmax and TF's sampled softmax."""

from __future__ import annotations

import tensorflow as tf

from tfw2v.losses.base import weighted_pairs
from tfw2v.losses.sampling import SampledObjective


class DownsampledSoftmax(SampledObjective):
    """L_DS of ``references/ns-vs-downsampled-softmax.txt``: the softmax over the label and ``K`` samples.

    ``ℓ(h, y) = -s_y + log(exp(s_y) + Σ_k [n_k ≠ y] · exp(s_{n_k}))``, ``s_w = h·u_w``, no bias and no log-Q
    correction; duplicate samples each count. Per-score gradients: ``∂(-L)/∂s_y = 1 - f(s_y)`` and
    ``∂(-L)/∂s_{n_k} = -f(s_{n_k})`` with ``f`` the softmax over the candidates, i.e. negative sampling's
    gradients with softmax weights instead of sigmoids. With all ``V`` ids as samples it is the full softmax;
    with ``k`` random draws it does not approach it as ``k`` grows (the denominator grows with ``k``).

    Labels of one example share its samples but never compete with each other: each label ``t`` has its own
    softmax over ``{y_t} ∪ {n_k ≠ y_t}``, so a soft target is the mean of its single-label examples given the
    same samples.
    """

    def candidate_loss(
        self, true_logits: tf.Tensor, sampled_logits: tf.Tensor, excluded: tf.Tensor, pair_weights: tf.Tensor
    ) -> tf.Tensor:
        negatives = tf.where(excluded, -float("inf"), sampled_logits[:, :, None, :])  # [B, P, T, K]
        candidates = tf.concat([true_logits[..., None], negatives], axis=-1)
        return weighted_pairs(pair_weights, tf.reduce_logsumexp(candidates, axis=-1) - true_logits)


class SampledSoftmax(DownsampledSoftmax):
    """``tf.nn.sampled_softmax_loss`` with TF's default ``unique=True`` candidate semantics.

    ``ℓ(h, y) = -z_y + log(exp(z_y) + Σ_{n ∈ S, n ≠ y} exp(z_n))``, ``z_w = h·u_w + b_w - log Q(w)``, where
    ``S`` is the *set* of distinct ids among the ``k`` draws (duplicates are dropped) and
    ``Q(w) = 1 - (1 - Pn(w))**k`` is the probability that ``w`` is in ``S`` — the expected count that TF's
    unique samplers report. As ``k`` grows, ``S`` covers the vocabulary, ``Q → 1`` and the loss becomes the
    full softmax. With ``k·Pn`` (sampling with replacement) instead, the label's own ``-log(k·Pn(y))`` would
    grow without bound and the loss would not converge once accidental hits are removed.

    Equals ``tf.nn.sampled_softmax_loss(..., remove_accidental_hits=True)`` given the same distinct
    candidates and these ``Q`` as ``sampled_values``, for one label. For ``T > 1`` each label has its own
    softmax (as in :class:`DownsampledSoftmax`) instead of TF's shared one with ``1/num_true`` targets.

    Weights: ``output_embeddings`` ``[V, D]`` and ``output_biases`` ``[V]``, zero-initialised, read sparsely.
    """

    use_bias = True

    def log_expected_count(self, ids: tf.Tensor, num_sampled: int) -> tf.Tensor:
        """``log Q(w) = log(1 - (1 - Pn(w))**k)``."""
        log_not_drawn = num_sampled * tf.math.log1p(-tf.exp(self.noise.log_prob(ids)))
        return tf.math.log(-tf.math.expm1(log_not_drawn))

    def excluded(self, labels: tf.Tensor, sampled_ids: tf.Tensor) -> tf.Tensor:
        """Accidental hits, and every repeat of an id drawn earlier in the same sample (found by a stable
        sort, O(k log k))."""
        batch_dims = sampled_ids.shape.rank - 1
        order = tf.argsort(sampled_ids, axis=-1, stable=True)
        ordered = tf.gather(sampled_ids, order, batch_dims=batch_dims)
        repeats_in_order = tf.concat(
            [tf.zeros_like(ordered[..., :1], dtype=tf.bool), ordered[..., 1:] == ordered[..., :-1]], axis=-1
        )
        repeats = tf.gather(repeats_in_order, tf.argsort(order, axis=-1), batch_dims=batch_dims)
        return super().excluded(labels, sampled_ids) | repeats[..., None, :]
