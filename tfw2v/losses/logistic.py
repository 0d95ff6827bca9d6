"""Logistic objectives: negative sampling (word2vec's default) and noise-contrastive estimation."""

from __future__ import annotations

import math

import tensorflow as tf

from tfw2v.losses.base import weighted_pairs
from tfw2v.losses.sampling import SampledObjective


class NegativeSampling(SampledObjective):
    """``ℓ(h, y) = -log σ(s_y) - Σ_k [n_k ≠ y] · log σ(-s_{n_k})`` with ``s_w = h·u_w`` and no bias.

    With the ``K`` samples ``n_bk`` shared by an example's pairs this is computed as

        L_b = Σ_pt w_bpt · softplus(-s_{bp,y_bt}) + Σ_pk c_bpk · softplus(s_{bp,n_bk}),
        c_bpk = Σ_t w_bpt · [n_bk ≠ y_bt]

    i.e. ``B·(T + K)`` rows gathered, not ``B·P·T·(K + 1)``. Per-score gradients (the reference's):
    ``∂(-L)/∂s_y = 1 - σ(s_y)`` and ``∂(-L)/∂s_{n_k} = -σ(s_{n_k})``.
    """

    def candidate_loss(
        self, true_logits: tf.Tensor, sampled_logits: tf.Tensor, excluded: tf.Tensor, pair_weights: tf.Tensor
    ) -> tf.Tensor:
        sample_weights = tf.reduce_sum(pair_weights[..., None] * tf.cast(~excluded, pair_weights.dtype), axis=2)
        return weighted_pairs(pair_weights, tf.nn.softplus(-true_logits)) + tf.reduce_sum(
            sample_weights * tf.nn.softplus(sampled_logits), axis=[1, 2]
        )


class NCE(NegativeSampling):
    """``tf.nn.nce_loss``: negative sampling on ``Δs_w = s_w + b_w - log(k·Pn(w))``, with a bias.

    ``ℓ(h, y) = -log σ(Δs_y) - Σ_k [n_k ≠ y] · log σ(-Δs_{n_k})``, where ``k·Pn(w)`` is the expected count
    of ``w`` among the ``k`` samples (drawn with replacement). With ``k·Pn(w) = 1`` (e.g. uniform noise and
    ``k = V``) and zero biases this is :class:`NegativeSampling` exactly. Equals ``tf.nn.nce_loss`` with
    ``remove_accidental_hits=True`` and ``sampled_values`` carrying ``k·Pn`` for a single label; for ``T > 1``
    it is the soft-target mean of single-label losses, not ``nce_loss``'s ``1/num_true`` sigmoid labels.

    Weights: ``output_embeddings`` ``[V, D]`` and ``output_biases`` ``[V]``, zero-initialised, read sparsely.
    """

    use_bias = True

    def log_expected_count(self, ids: tf.Tensor, num_sampled: int) -> tf.Tensor:
        """``log(k·Pn(w))``."""
        return math.log(num_sampled) + self.noise.log_prob(ids)
