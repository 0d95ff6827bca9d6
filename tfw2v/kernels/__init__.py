"""The fused CPU ops: one batch of word2vec.c's SGD in place on the embedding tables (:func:`sgd_step`), and the
input pipeline's text-to-ids and windowing stages (:func:`token_ids`, :func:`context_examples`).

The generic path computes a batch's loss with TF ops, differentiates it and applies the summed gradients; every
stage is a memory-bound pass over ``[B, T+1+K, D]`` rows. The fused op (``word2vec_sgd.cc``) instead walks the
batch pair by pair as word2vec.c does, with the rows in L1 cache, Hogwild across examples on TF's intra-op
thread pool. Within an example it follows word2vec.c's order: score the target and the negatives against the
input row, accumulate the input's gradient, update the output rows, then the input row (CBOW: every context
row gets the full gradient). Each pair sees the updates of the pairs before it, so the generic path's cap on
rows repeated in a batch (:class:`tfw2v.training.optimizer.Word2VecSGD`) has nothing to correct and is not applied.

With one thread (``max_threads=1``, or ``tf.config.threading.set_intra_op_parallelism_threads(1)``) a step is
deterministic; with more, examples on different threads race on shared rows as word2vec.c's threads do, so
results vary in the last bits from run to run.

:func:`library` builds the op at first use (:mod:`tfw2v.kernels.build`) and remembers the outcome: the op
module, or the :class:`KernelUnavailable` that says why there is none.

:func:`context_examples` (``word2vec_examples.cc``) turns blocks of subsampled ids into examples in one pass, equal
bit for bit to :func:`tfw2v.data.context_examples`, the TF definition, which runs where the library cannot;
:func:`token_ids` (``word2vec_tokens.cc``) likewise turns lines into the ids of their in-vocabulary tokens, as
:func:`tfw2v.data.token_ids` does, and :func:`token_counts` counts their distinct tokens, as
``tf.unique_with_counts`` over ``tf.strings.split`` does. :func:`pipeline_uses_ops` says whether these run.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np
import tensorflow as tf

from tfw2v.names import FUSED_OBJECTIVES
from tfw2v.kernels.build import KernelUnavailable

if TYPE_CHECKING:
    from tfw2v.text.phrases import Phrases
    from tfw2v.text.tokenize import Tokenizer

OBJECTIVES = FUSED_OBJECTIVES

_lock = threading.Lock()
_outcome: list = []  # [module] or [KernelUnavailable], once tried
_warned: list = []  # [True] once the fallback has been announced


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


def available() -> bool:
    """Whether the op library loads here (built at first use). When it cannot, the first call in the process
    warns, once for training and the pipeline together, that the generic TensorFlow paths run instead."""
    try:
        library()
    except KernelUnavailable as e:
        with _lock:
            first = not _warned
            _warned.append(True)
        if first:
            warnings.warn(f"tfw2v: the fused C++ ops cannot be built here: {e}; training and the input pipeline run "
                          "on the generic TensorFlow path instead (several times slower). Install a C++ compiler "
                          "(g++) or set CXX to use them.", RuntimeWarning, stacklevel=3)
        return False
    return True


def pipeline_uses_ops(fused: bool | str) -> bool:
    """Whether the text and pipeline ops run, as ``fused`` asks: ``True`` needs them (``ValueError`` if they
    cannot be built), ``"auto"`` uses them when they can be (else warns once per process), ``False`` never."""
    if fused not in (True, False, "auto"):
        raise ValueError(f"fused={fused!r}: expected 'auto', True or False")
    if fused is False:
        return False
    if fused is True:
        try:
            library()
        except KernelUnavailable as e:
            raise ValueError(f"fused=True, but the pipeline's op cannot be built here: {e}") from None
        return True
    return available()


def text_ops_run(fused: bool | str, tokenizer: Tokenizer, phrases: Phrases | None) -> bool:
    """Whether the text ops (:func:`token_ids`, :func:`token_counts`) read the corpus: the pipeline's ops run
    (:func:`pipeline_uses_ops`) and their whole definition applies, whitespace-split tokens with no phrases."""
    return pipeline_uses_ops(fused) and phrases is None and not tokenizer.unicode_script


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
    pair_noise: tuple[np.ndarray, np.ndarray, int] | None = None,
    seed: tf.Tensor | None = None,
    max_threads: int = 0,
) -> tf.Tensor:
    """Apply one batch in place; return the per-example loss ``L_b = Σ_t w_bt ℓ_t`` (float32 ``[B]``).

    Args:
      input_table, output_table: ``[V, D]`` float32 resource variables (Keras variables work), updated in place.
      batch: the pipeline's ``inputs``, ``input_weights``, ``labels``, ``label_weights``.
      negatives: int ``[B, K]`` noise ids shared by each example's pairs (``[B, 0]`` for ``hs``, or when the
        op draws them: ``pair_noise``).
      learning_rate: the step's rate, applied to every pair.
      architecture: ``"skipgram"`` (each context row predicts the centre) or ``"cbow"``.
      objective: one of :data:`OBJECTIVES`.
      output_bias: ``nce`` only: the ``[V]`` biases.
      logit_offset: ``nce`` only: ``log(k·Pn(w))`` ``[V]``, subtracted from the logits.
      huffman: ``hs`` only: ``(points [V, L], codes [V, L], lengths [V])``.
      pair_noise: ``(threshold [V], alias [V], K)``: the op draws ``K`` fresh negatives for *every pair* from
        these Walker alias tables (word2vec.c's way), and ``negatives`` must be ``[B, 0]``. Draw ``n`` of the
        step (``n = (b·P + p)·K + j`` for negative ``j`` of pair ``p`` of example ``b``, ``P`` pairs per
        example: ``T`` for skip-gram, 1 for CBOW) is a fixed function of ``(seed, n)``, whatever the threads.
      seed: int64 ``[2]``, the step's key for ``pair_noise`` (e.g. a ``keras.random.SeedGenerator``'s next).
      max_threads: cap on the intra-op threads used (0: all of TF's pool).
    Raises:
      tf.errors.InvalidArgumentError: an id outside ``[0, V)``; no table is changed.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r}: the fused kernel supports {OBJECTIVES}")
    empty_ids = tf.zeros([0, 0], tf.int32)
    points, codes, lengths = huffman if huffman is not None else (empty_ids, empty_ids, tf.zeros([0], tf.int32))
    no_draws = (tf.zeros([0]), tf.zeros([0], tf.int32), 0)
    threshold, alias, pair_negatives = pair_noise if pair_noise is not None else no_draws
    if pair_negatives and seed is None:
        raise ValueError("pair_noise needs the step's seed")
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
        noise_threshold=tf.cast(threshold, tf.float32),
        noise_alias=tf.cast(alias, tf.int32),
        seed=tf.zeros([2], tf.int64) if seed is None else tf.cast(seed, tf.int64),
        pair_negatives=int(pair_negatives),
        architecture=architecture,
        objective=objective,
        max_threads=max_threads,
    )


@tf.autograph.experimental.do_not_convert
def context_examples(blocks: dict[str, tf.Tensor], architecture: Literal["skipgram", "cbow"],
                     cbow_mean: bool = True) -> dict[str, tf.Tensor]:
    """The examples of ``blocks`` (``ids``, ``sentence`` ``[N, L + 2w]``, ``half_windows`` ``[N, L]``,
    ``words_per_centre`` ``[N]``), as :func:`tfw2v.data.context_examples` defines them."""
    outputs = library().word2_vec_examples(
        ids=blocks["ids"], sentence=blocks["sentence"], half_windows=blocks["half_windows"],
        words_per_centre=blocks["words_per_centre"], architecture=architecture, cbow_mean=cbow_mean,
    )
    return dict(zip(("inputs", "input_weights", "labels", "label_weights", "words"), outputs))


@tf.autograph.experimental.do_not_convert
def token_ids(lines: tf.Tensor, vocabulary: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The in-vocabulary tokens of ``lines`` ``[N]`` (split on ASCII whitespace, as ``tf.strings.split``): their
    ids in ``vocabulary`` ``[V]`` (int32 ``[M]``), their line numbers (int32 ``[M]``) and the number of tokens,
    out-of-vocabulary ones included (int64 scalar), as :func:`tfw2v.data.token_ids` defines them."""
    return library().word2_vec_token_ids(lines=lines, vocabulary=vocabulary)


@tf.autograph.experimental.do_not_convert
def token_counts(lines: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The distinct tokens of ``lines`` ``[N]`` (split on ASCII whitespace, as ``tf.strings.split``), in order of
    first occurrence (string ``[U]``), and how often each occurs (int64 ``[U]``): what
    ``tf.unique_with_counts(tf.strings.split(lines).flat_values)`` returns, in one pass."""
    return library().word2_vec_token_counts(lines=lines)


__all__ = ["OBJECTIVES", "KernelUnavailable", "available", "context_examples", "library", "pipeline_uses_ops",
           "sgd_step", "text_ops_run", "token_counts", "token_ids"]
