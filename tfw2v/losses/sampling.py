"""What all sampled objectives share: K noise ids, logits for labels and samples, and which pairs to skip.

For an example ``b`` with input vectors ``h_bp`` and labels ``y_bt`` the objective draws ``K`` ids ``n_bk`` from
the noise distribution ``Pn`` and computes, for every input vector, logits

    z_bp(w) = h_bp·u_w (+ b_w) - log E[w]

where ``E[w]`` is the expected count of ``w`` among the candidates (NCE: ``k·Pn(w)``; sampled softmax: the
probability that ``w`` is among them; NS and DS take ``E[w] = 1``, which is exactly "NCE with log(k·Pn) = 0").
A sample equal to the label it is scored against (an *accidental hit*) is skipped for that label, as
word2vec.c's ``if (target == word) continue`` and ``remove_accidental_hits=True`` do.

Sharing (``share_negatives``):

* ``"pair"`` (word2vec.c's): ``K`` fresh samples for every (input, target) pair. Only the fused kernel
  (:mod:`tfw2v.kernels`) draws them, inside the op; a model on the generic path refuses it at ``compile``.
* ``"example"``: ``n_bk`` has shape ``[B, K]``; one example's ``K`` samples are scored against every one of its
  ``P × T`` pairs, each label skipping its own accidental hits.
* ``"auto"`` (default): ``"pair"`` where the fused kernel trains, ``"example"`` on the generic path, where
  per-pair samples would gather ``T·K`` rows per example instead of ``K``. (CBOW has one pair per example, so
  there the two are the same.)
* ``"batch"``: ``[K]`` samples scored against every pair of the batch, like TF's candidate samplers
  (one ``[B·P, D] x [D, K]`` matmul instead of a ``[B, K, D]`` gather).

What sharing means for soft targets: with the *same* samples, one example with ``m`` labels of weight ``1/m``
is exactly the mean of its ``m`` single-label examples (loss and gradients). word2vec.c instead draws fresh
samples for every (centre, context) pair; since each label's term is an expectation over the same ``Pn``, both
have the same expected loss and expected gradient, and only the noise differs: one example's labels see
correlated negatives (``K`` samples per example instead of ``K`` per pair).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from tfw2v.losses import noise as noise_lib
from tfw2v.losses.base import Objective, pair_scores
from tfw2v.losses.tables import add_table, read_rows
from tfw2v.names import SHARE_NEGATIVES



class SampledObjective(Objective):
    """An objective over the labels and ``K`` noise samples; subclasses define :meth:`candidate_loss`.

    Args:
      vocab_size, dim: output table shape ``[V, D]``.
      counts: int64 ``[V]`` word counts in descending order (required by ``noise="unigram"``, now or through
        :meth:`set_counts`; a ``.keras`` file carries them as an asset).
      negatives: ``K ≥ 1`` samples per example (or per batch).
      noise: ``"unigram"`` (``count**noise_exponent``), ``"log_uniform"`` or ``"uniform"``.
      noise_exponent: exponent of the unigram noise (word2vec: 0.75).
      share_negatives: ``"auto"`` (default), ``"pair"``, ``"example"`` or ``"batch"`` (see the module
        docstring).
      seed: seed of the layer's ``keras.random.SeedGenerator``; same seed, same samples.

    ``call(hidden, labels, pair_weights, training=None, sampled_ids=None)``: ``sampled_ids`` (``[B, K]`` or
    ``[K]``) replaces the draw, e.g. to reuse :meth:`sample_negatives` output or samples made in ``tf.data``;
    ``K`` is then its last dimension. ``training`` does not change anything: the loss is the same sampled
    estimate in both modes.
    """

    use_bias: ClassVar[bool] = False

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        *,
        counts: np.ndarray | None = None,
        negatives: int = 5,
        noise: str = "unigram",
        noise_exponent: float = 0.75,
        share_negatives: str = "auto",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(vocab_size, dim, **kwargs)
        if int(negatives) < 1:
            raise ValueError(f"negatives must be >= 1, got {negatives}")
        if share_negatives not in SHARE_NEGATIVES:
            raise ValueError(f"share_negatives={share_negatives!r}: expected one of {SHARE_NEGATIVES}")
        if noise not in noise_lib.NAMES:
            raise ValueError(f"noise={noise!r}: expected one of {noise_lib.NAMES}")
        self.negatives = int(negatives)
        self.share_negatives = share_negatives
        self.noise_name = noise
        self.noise_exponent = float(noise_exponent)
        self.seed = None if seed is None else int(seed)
        self._noise = None if self.needs_counts else noise_lib.get(noise, self.vocab_size, None, noise_exponent)
        if counts is not None and self.needs_counts:
            self.set_counts(counts)
        # A fixed name: the state's path is its checkpoint key (Checkpointer), and Keras would number a second
        # model's generator "seed_generator_2", whose checkpoint then could not restore into the first.
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="seed_generator")
        if self.use_bias:
            self.output_biases = add_table(self, "output_biases", (self.vocab_size,), keras.initializers.Zeros())

    @property
    def needs_counts(self) -> bool:
        return self.noise_name == "unigram"

    def use_counts(self, counts: np.ndarray) -> None:
        self._noise = noise_lib.get(self.noise_name, self.vocab_size, counts, self.noise_exponent)

    @property
    def noise(self) -> noise_lib.NoiseDistribution:
        """The noise distribution ``Pn`` (built from the counts for ``"unigram"``)."""
        self.check_counts()
        return self._noise

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negatives": self.negatives, "noise": self.noise_name,
                "noise_exponent": self.noise_exponent, "share_negatives": self.share_negatives, "seed": self.seed}

    def sample_negatives(self, batch_size: int | tf.Tensor) -> tf.Tensor:
        """Fresh int32 noise ids: ``[batch_size, K]``, or ``[K]`` for ``share_negatives="batch"`` (one draw per
        replica under a strategy with several). Per-pair draws are made inside the fused kernel, not here."""
        shape = [self.negatives] if self.share_negatives == "batch" else [batch_size, self.negatives]
        noise = self.noise  # refuses before the generator advances when the counts are missing
        seed = self.seed_generator.next()
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            # Each replica holds its own copy of the generator's state, advancing in lockstep: without the
            # replica's id every replica would draw the same negatives for its part of the batch.
            seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group)
        return noise.sample(shape, seed)

    def log_expected_count(self, ids: tf.Tensor, num_sampled: int) -> tf.Tensor | float:
        """``log E[w]`` subtracted from the logits; NS and DS use ``E[w] = 1``."""
        return 0.0

    def logits(self, hidden: tf.Tensor, ids: tf.Tensor, num_sampled: int) -> tf.Tensor:
        """``z_bpn = h_bp·u_id (+ b_id) - log E[id]`` for ids ``[B, N]`` (per example) or ``[N]`` (shared):
        ``[B, P, N]``."""
        logits = pair_scores(hidden, self.output_rows(ids))
        offset = -self.log_expected_count(ids, num_sampled)
        if self.use_bias:
            offset += read_rows(self.output_biases, ids)
        if isinstance(offset, tf.Tensor) and ids.shape.rank == 2:
            offset = offset[:, None, :]  # each example's candidates, the same for its P input vectors
        return logits + offset

    def excluded(self, labels: tf.Tensor, sampled_ids: tf.Tensor) -> tf.Tensor:
        """bool ``[B, T, K]``: sample ``k`` does not count for label ``t`` (accidental hits)."""
        return tf.equal(labels[:, :, None], sampled_ids[..., None, :])

    def call(
        self,
        hidden: tf.Tensor,
        labels: tf.Tensor,
        pair_weights: tf.Tensor,
        training: bool | None = None,
        sampled_ids: tf.Tensor | None = None,
    ) -> tf.Tensor:
        labels = tf.cast(labels, tf.int32)
        if sampled_ids is None:
            sampled_ids = self.sample_negatives(tf.shape(hidden)[0])
        sampled_ids = tf.cast(sampled_ids, tf.int32)
        num_sampled = sampled_ids.shape[-1]
        if sampled_ids.shape.rank == 1:
            true_logits = self.logits(hidden, labels, num_sampled)
            sampled_logits = self.logits(hidden, sampled_ids, num_sampled)
        else:  # one gather for labels and samples: one IndexedSlices gradient, no concat of row gradients
            num_labels = tf.shape(labels)[1]
            both = self.logits(hidden, tf.concat([labels, sampled_ids], axis=1), num_sampled)
            true_logits, sampled_logits = both[..., :num_labels], both[..., num_labels:]
        excluded = self.excluded(labels, sampled_ids)[:, None]  # [B, 1, T, K]: the same for every input vector
        return self.candidate_loss(true_logits, sampled_logits, excluded, tf.cast(pair_weights, true_logits.dtype))

    @abc.abstractmethod
    def candidate_loss(
        self, true_logits: tf.Tensor, sampled_logits: tf.Tensor, excluded: tf.Tensor, pair_weights: tf.Tensor
    ) -> tf.Tensor:
        """``[B]`` losses from ``true_logits [B, P, T]``, ``sampled_logits [B, P, K]``, ``excluded`` (broadcastable
        to ``[B, P, T, K]``) and ``pair_weights [B, P, T]``."""
