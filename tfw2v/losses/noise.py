"""Noise distributions over word ids, sampled in-graph without TF's candidate-sampler ops.

TF's candidate samplers (``tf.random.fixed_unigram_candidate_sampler`` and friends) are CPU-only and have no
XLA kernel. A :class:`NoiseDistribution` samples with Walker's alias method instead: one uniform bucket
``i ∈ [0, V)`` and one uniform ``u ∈ [0, 1)`` per sample, answer ``i`` if ``u < threshold[i]`` else
``alias[i]``. That is two ``tf.gather`` calls from precomputed ``[V]`` tables, O(1) per sample whatever V is,
exact up to the float32 thresholds (unlike word2vec.c's 1e8-entry unigram table, whose rounding drops the
rarest words), and it compiles under ``tf.function(jit_compile=True)``.

Samples are drawn with replacement: ``k`` draws contain word ``w`` ``k·P(w)`` times on average.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfw2v.names import NOISE_DISTRIBUTIONS

NAMES = NOISE_DISTRIBUTIONS


class NoiseDistribution:
    """A fixed distribution ``P`` over ids ``0 … V-1`` with XLA-safe sampling.

    Attributes:
      probabilities: float64 ``[V]``, non-negative, sums to 1.
    """

    def __init__(self, probabilities: np.ndarray):
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.ndim != 1 or probabilities.size == 0:
            raise ValueError(f"probabilities must be a non-empty vector, got shape {probabilities.shape}")
        if np.any(probabilities < 0) or not np.isfinite(probabilities).all():
            raise ValueError("probabilities must be finite and non-negative")
        total = probabilities.sum()
        if total <= 0:
            raise ValueError("probabilities must not be all zero")
        self.probabilities = probabilities / total
        #: Walker's alias tables: bucket ``i`` answers ``i`` with probability ``threshold[i]``, else ``alias[i]``.
        self.threshold, self.alias = _alias_tables(self.probabilities)
        with np.errstate(divide="ignore"):
            self._log_probabilities = np.log(self.probabilities).astype(np.float32)

    @property
    def vocab_size(self) -> int:
        return int(self.probabilities.size)

    def log_prob(self, ids: tf.Tensor) -> tf.Tensor:
        """``log P(id)`` as float32, same shape as ``ids`` (``-inf`` for ids of probability 0)."""
        return tf.gather(tf.constant(self._log_probabilities), ids)

    def sample(
        self, shape: Sequence[int] | tf.Tensor, seed: keras.random.SeedGenerator | tf.Tensor
    ) -> tf.Tensor:
        """Draw int32 ids of the given shape, independently and with replacement.

        Args:
          shape: output shape (may be a tensor, e.g. ``[tf.shape(x)[0], K]``).
          seed: a ``keras.random.SeedGenerator`` (advances its state: fresh samples at every call, works
            inside ``tf.function(jit_compile=True)``), or a stateless seed tensor of shape ``[2]`` (same seed,
            same samples: what a ``tf.data`` pipeline passes, e.g. from ``tf.data.Dataset.random``).
        """
        if isinstance(seed, keras.random.SeedGenerator):
            seed = seed.next()
        bucket_seed, accept_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        bucket = tf.random.stateless_uniform(
            shape, bucket_seed, minval=0, maxval=self.vocab_size, dtype=tf.int32
        )
        u = tf.random.stateless_uniform(shape, accept_seed, dtype=tf.float32)
        keep = u < tf.gather(tf.constant(self.threshold), bucket)
        return tf.where(keep, bucket, tf.gather(tf.constant(self.alias), bucket))


def _alias_tables(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's O(V) construction of the alias tables: bucket ``i`` keeps ``i`` with probability
    ``threshold[i]`` and hands the rest of its ``1/V`` mass to ``alias[i]``."""
    size = probabilities.size
    scaled = (probabilities * size).tolist()
    threshold = [1.0] * size
    alias = list(range(size))
    small = [i for i, s in enumerate(scaled) if s < 1.0]
    large = [i for i, s in enumerate(scaled) if s >= 1.0]
    while small and large:
        poor, rich = small.pop(), large[-1]
        threshold[poor] = scaled[poor]
        alias[poor] = rich
        scaled[rich] -= 1.0 - scaled[poor]
        if scaled[rich] < 1.0:
            small.append(large.pop())
    # Whatever is left over differs from 1 only by rounding: those buckets keep themselves (threshold 1).
    return np.asarray(threshold, dtype=np.float32), np.asarray(alias, dtype=np.int32)


def unigram(counts: np.ndarray, exponent: float = 0.75) -> NoiseDistribution:
    """word2vec's noise: ``P(w) = count(w)**exponent / Σ_v count(v)**exponent``."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or np.any(counts < 0):
        raise ValueError("counts must be a vector of non-negative word counts")
    return NoiseDistribution(counts**exponent)


def log_uniform(vocab_size: int) -> NoiseDistribution:
    """Zipfian over ids, as ``tf.random.log_uniform_candidate_sampler``:
    ``P(k) = (log(k+2) - log(k+1)) / log(V+1)`` (ids must be sorted by descending frequency)."""
    k = np.arange(vocab_size, dtype=np.float64)
    return NoiseDistribution((np.log(k + 2) - np.log(k + 1)) / np.log(vocab_size + 1))


def uniform(vocab_size: int) -> NoiseDistribution:
    """``P(w) = 1/V``."""
    return NoiseDistribution(np.full(vocab_size, 1.0 / vocab_size))


def get(
    name: str, vocab_size: int, counts: np.ndarray | None = None, exponent: float = 0.75
) -> NoiseDistribution:
    """The noise distribution called ``name`` (one of :data:`NAMES`) over ``vocab_size`` ids.

    ``counts`` (``[vocab_size]``) is required for ``"unigram"`` and ignored otherwise.
    """
    if name == "unigram":
        if counts is None:
            raise ValueError('counts is required for noise="unigram"')
        if len(counts) != vocab_size:
            raise ValueError(f"counts has {len(counts)} entries, expected vocab_size={vocab_size}")
        return unigram(counts, exponent)
    if name == "log_uniform":
        return log_uniform(vocab_size)
    if name == "uniform":
        return uniform(vocab_size)
    raise ValueError(f"noise={name!r}: expected one of {NAMES}")
