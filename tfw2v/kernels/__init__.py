"""The fused CPU training kernel: one batch of word2vec.c's SGD, in place on the embedding tables.

The generic path computes a batch's loss with TF ops, differentiates it and applies the summed gradients; every
stage is a memory-bound pass over ``[B, T+1+K, D]`` rows. The fused op (``word2vec_sgd.cc``) instead walks the
batch pair by pair as word2vec.c does, with the rows in L1 cache, Hogwild across examples on TF's intra-op
thread pool. Within an example it follows word2vec.c's order: score the target and the negatives against the
input row, accumulate the input's gradient, update the output rows, then the input row (CBOW: every context
row gets the full gradient). Each pair sees the updates of the pairs before it, so the generic path's cap on
rows repeated in a batch (:class:`tfw2v.optimizer.Word2VecSGD`) has nothing to correct and is not applied.

With one thread (``max_threads=1``, or ``tf.config.threading.set_intra_op_parallelism_threads(1)``) a step is
deterministic; with more, examples on different threads race on shared rows as word2vec.c's threads do, so
results vary in the last bits from run to run.

:func:`library` builds the op at first use (:mod:`tfw2v.kernels.build`) and remembers the outcome: the op
module, or the :class:`KernelUnavailable` that says why there is none.
"""

from __future__ import annotations

import threading
from typing import Literal

import numpy as np
import tensorflow as tf

from tfw2v.kernels.build import KernelUnavailable

OBJECTIVES = ("ns", "nce", "ds", "hs")

_lock = threading.Lock()
_outcome: list = []  # [module] or [KernelUnavailable], once tried


@tf.autograph.experimental.do_not_convert
def library():
    """The loaded op library (built at first use); raises :class:`KernelUnavailable` if it cannot be had."""
    from tfw2v.kernels import build

    with _lock:
        if not _outcome:
            try:
                _outcome.append(build.load_library())
            except KernelUnavailable as e:
                _outcome.append(e)
    if isinstance(_outcome[0], KernelUnavailable):
        raise _outcome[0]
    return _outcome[0]


@tf.autograph.experimental.do_not_convert
def sgd_step(
    input_table: tf.Variable,
    output_table: tf.Variable,
    batch: dict[str, tf.Tensor],
    negatives: tf.Tensor,
    learning_rate: tf.Tensor | float,
    *,
    architecture: Literal["skipgram", "cbow"],
    objective: str,
    output_bias: tf.Variable | None = None,
    logit_offset: tf.Tensor | np.ndarray | None = None,
    huffman: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    max_threads: int = 0,
) -> tf.Tensor:
    """Apply one batch in place; return the per-example loss ``L_b = Σ_t w_bt ℓ_t`` (float32 ``[B]``).

    Args:
      input_table, output_table: ``[V, D]`` float32 resource variables (Keras variables work), updated in place.
      batch: the pipeline's ``inputs``, ``input_weights``, ``labels``, ``label_weights``.
      negatives: int ``[B, K]`` noise ids (``[B, 0]`` for ``hs``).
      learning_rate: the step's rate, applied to every pair.
      architecture: ``"skipgram"`` (each context row predicts the centre) or ``"cbow"``.
      objective: one of :data:`OBJECTIVES`.
      output_bias: ``nce`` only: the ``[V]`` biases.
      logit_offset: ``nce`` only: ``log(k·Pn(w))`` ``[V]``, subtracted from the logits.
      huffman: ``hs`` only: ``(points [V, L], codes [V, L], lengths [V])``.
      max_threads: cap on the intra-op threads used (0: all of TF's pool).
    Raises:
      tf.errors.InvalidArgumentError: an id outside ``[0, V)``; no table is changed.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r}: the fused kernel supports {OBJECTIVES}")
    empty_ids = tf.zeros([0, 0], tf.int32)
    points, codes, lengths = huffman if huffman is not None else (empty_ids, empty_ids, tf.zeros([0], tf.int32))
    return library().word2_vec_sgd(
        input_table=input_table.handle,
        output_table=output_table.handle,
        output_bias=[output_bias.handle] if output_bias is not None else [],
        inputs=tf.cast(batch["inputs"], tf.int32),
        input_weights=tf.cast(batch["input_weights"], tf.float32),
        labels=tf.cast(batch["labels"], tf.int32),
        label_weights=tf.cast(batch["label_weights"], tf.float32),
        negatives=tf.cast(negatives, tf.int32),
        learning_rate=tf.cast(learning_rate, tf.float32),
        logit_offset=tf.zeros([0]) if logit_offset is None else tf.cast(logit_offset, tf.float32),
        hs_points=tf.cast(points, tf.int32),
        hs_codes=tf.cast(codes, tf.int32),
        hs_lengths=tf.cast(lengths, tf.int32),
        architecture=architecture,
        objective=objective,
        max_threads=max_threads,
    )


__all__ = ["OBJECTIVES", "KernelUnavailable", "library", "sgd_step"]
