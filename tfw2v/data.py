"""Streaming ``tf.data`` pipelines: text → skip-gram / CBOW examples with soft multi-label targets.

Every stage after the vocabulary runs in-graph::

    lines ─► chunks of lines ─► tokens ─► phrases joined (optional) ─► ids (OOV dropped) ─► subsample (redrawn per epoch)
          ─► half-windows (shrunk uniformly in [1, window]) ─► blocks of ``block_size`` centre words with a
             ``window``-word halo on each side ─► examples (never across a sentence end) ─► batches

The two costliest stages run as fused C++ ops when they can be built (chosen by ``fused`` as ``Word2Vec``
chooses its kernel): lines to ids (:func:`tfw2v.kernels.token_ids`, when there are no phrases to join and the
tokenizer splits on whitespace) and ids to examples (:func:`tfw2v.kernels.context_examples`). :func:`token_ids`
and :func:`context_examples` are their TF definitions, the references and the fallbacks; the streams are equal.

One example format serves both architectures (``I`` input slots, ``T`` label slots)::

    inputs [B, I] int32, input_weights [B, I] float32   the words whose weighted sum is the hidden vector
    labels [B, T] int32, label_weights [B, T] float32   the soft multi-label target; rows sum to 1
    words  [B] float32                                  corpus words this example accounts for

Skip-gram: ``I = 1`` (the centre word), ``T = 2·window`` (its context words, weight ``1/m`` each for the
``m`` words inside the shrunk window, padding 0). Expanding an example gives exactly word2vec's ``m``
(centre, context) pairs. CBOW: ``I = 2·window`` (the context, weight ``1/m`` for the mean or 1 for the sum),
``T = 1`` (the centre word).

Sentences are never cut: a long line is split into blocks whose halos carry the neighbouring words, so a
window reaches across a block boundary exactly as it would without blocks. Randomness comes from
``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)`` feeding stateless ops: each epoch draws
new subsampling and window sizes, yet the whole stream is a function of ``seed``: chunk ``k`` takes the ``k``-th
value ``r`` of it, subsampling draws from stream ``(r, 0)`` and the kept words' half-windows from ``(r, 1)``.

``words`` spreads each chunk's corpus tokens (including out-of-vocabulary ones) evenly over the examples
the chunk produced, so summing ``words`` over what a model consumed counts corpus words read — the unit of
the learning-rate schedule and of words/s. Sentences that produce no example (a single kept word) are
not trained on and their words are not counted.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import tensorflow as tf

from tfw2v.text import corpus
from tfw2v.text.phrases import Phrases
from tfw2v.text.tokenize import Tokenizer
from tfw2v.text.vocabulary import Vocabulary

LINES_PER_CHUNK = 256
BLOCK_SIZE = 2048
BLOCKS_PER_CALL = 8  # blocks windowed per call of the examples stage: ~16k examples, ~1.4 MB

Architecture = Literal["skipgram", "cbow"]


def skipgram_dataset(sources: corpus.Sources, vocab: Vocabulary, **options) -> tf.data.Dataset:
    """Skip-gram examples: each kept centre word with all its context words as a soft target.

    ``options``: ``window=5, sample=1e-3, batch_size=1024, seed=None, tokenizer=None, phrases=None,
    num_shards=1, shard_index=0, drop_remainder=False``, as documented in :func:`examples_dataset`.
    """
    return examples_dataset(sources, vocab, "skipgram", **options)


def cbow_dataset(sources: corpus.Sources, vocab: Vocabulary, **options) -> tf.data.Dataset:
    """CBOW examples: the context words (mean, or sum with ``cbow_mean=False``) predict the centre word.

    ``options`` as :func:`skipgram_dataset`, plus ``cbow_mean=True``.
    """
    return examples_dataset(sources, vocab, "cbow", **options)


def examples_dataset(
    sources: corpus.Sources,
    vocab: Vocabulary,
    architecture: Architecture,
    *,
    window: int = 5,
    sample: float = 1e-3,
    batch_size: int = 1024,
    seed: int | None = None,
    cbow_mean: bool = True,
    tokenizer: Tokenizer | None = None,
    phrases: Phrases | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    drop_remainder: bool = False,
    fused: bool | Literal["auto"] = "auto",
) -> tf.data.Dataset:
    """Examples of ``architecture`` from ``sources``: the pipeline behind both public constructors.

    Args:
      sources: file paths or globs (``.gz`` decompressed on the fly) or a ``tf.data.Dataset`` of lines.
      vocab: the :class:`Vocabulary`; out-of-vocabulary tokens are dropped before windowing.
      architecture: ``"skipgram"`` or ``"cbow"`` (see the module docstring for the example format).
      window: the maximal half-window; the effective one is uniform in ``[1, window]`` per centre word.
      sample: subsampling threshold ``t``; a word is kept with ``min(1, sqrt(t/f) + t/f)``; 0 = off.
      batch_size: examples per batch.
      seed: makes the stream deterministic; None draws a fresh one.
      cbow_mean: CBOW's hidden vector is the mean of the context rows (else their sum).
      tokenizer: defaults to the one the vocabulary was built with.
      phrases: the :class:`~tfw2v.text.phrases.Phrases` joined after tokenizing, before the vocabulary lookup;
        defaults to the vocabulary's.
      num_shards, shard_index: this worker's share of the blocks (multi-worker training).
      drop_remainder: drop the last, short batch of every epoch.
      fused: window the blocks with the fused C++ op (``"auto"``: when it can be built, else with one warning
        per process the TF ops; ``True``: the op or ``ValueError`` naming why not; ``False``: the TF ops). The
        stream is the same either way.
    """
    _check_parameters(architecture, window, sample, batch_size, num_shards, shard_index)
    windowing = _examples_stage(fused)
    tokenizer = tokenizer or vocab.tokenizer
    phrases = vocab.phrases if phrases is None else phrases
    text_to_ids = _ids_stage(fused, tokenizer, phrases, vocab)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] & 0x7FFFFFFF)
    keep_probability = tf.constant(vocab.keep_probabilities(sample))

    def chunk_blocks(lines: tf.Tensor, chunk_seed: tf.Tensor) -> dict[str, tf.Tensor]:
        """A chunk of lines as ``[blocks, ...]``: tokenized, looked up, subsampled and cut into blocks, in one
        function so that ``map`` runs it on parallel threads."""
        ids, sentence, tokens = text_to_ids(lines)
        keep = subsample_mask(ids, keep_probability, _seed_pair(chunk_seed, 0))
        ids, sentence = tf.boolean_mask(ids, keep), tf.boolean_mask(sentence, keep)
        half_windows = shrunk_windows(tf.shape(ids)[0], window, _seed_pair(chunk_seed, 1))
        blocks = split_blocks(ids, sentence, half_windows, BLOCK_SIZE, window)
        num_blocks = tf.shape(blocks["ids"])[0]
        chunk_words = tf.cast(tokens, tf.float32)
        kept = tf.cast(tf.maximum(tf.shape(ids)[0], 1), tf.float32)
        blocks["words_per_centre"] = tf.fill([num_blocks], chunk_words / kept)
        return blocks

    def blocks_examples(blocks: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return windowing(blocks, architecture, window, cbow_mean)

    randomness = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    blocks = (
        tf.data.Dataset.zip(corpus.line_chunks(sources, LINES_PER_CHUNK), randomness)
        .map(chunk_blocks, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .unbatch()
    )
    if num_shards > 1:
        blocks = blocks.shard(num_shards, shard_index)
    dataset = (
        blocks.batch(BLOCKS_PER_CALL)
        .map(blocks_examples, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .rebatch(batch_size, drop_remainder=drop_remainder)
        .prefetch(tf.data.AUTOTUNE)
    )
    if num_shards == 1:  # what a multi-worker fit needs to give each worker its own share (see ``worker_shard``)
        dataset._tfw2v_pipeline = (functools.partial(
            examples_dataset, sources, vocab, architecture, window=window, sample=sample, seed=seed,
            cbow_mean=cbow_mean, tokenizer=tokenizer, phrases=phrases, drop_remainder=drop_remainder, fused=fused,
        ), batch_size)
    return dataset


def can_shard(dataset: tf.data.Dataset) -> bool:
    """Whether :func:`worker_shard` can split ``dataset``: an unsharded pipeline of :func:`examples_dataset`,
    not transformed since."""
    return hasattr(dataset, "_tfw2v_pipeline")


def worker_shard(dataset: tf.data.Dataset, num_workers: int, worker: int) -> tf.data.Dataset:
    """Worker ``worker``'s share of a pipeline made by :func:`examples_dataset`: the same stream (same seed,
    same subsampling) keeping every ``num_workers``-th block, in batches of ``batch_size / num_workers``, so
    that the workers' batches together are the global batch and every worker reads different words.

    ``ValueError`` when ``dataset`` is not such a pipeline (see :func:`can_shard`).
    """
    rebuild, batch_size = _pipeline_of(dataset)
    if batch_size % num_workers:
        raise ValueError(f"batch_size={batch_size} is the global batch of {num_workers} workers: it must be a "
                         f"multiple of {num_workers}")
    return rebuild(batch_size=batch_size // num_workers, num_shards=num_workers, shard_index=worker)


def read_by_tensorflow(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """A pipeline made by :func:`examples_dataset` built again with its files read by
    :func:`tfw2v.text.corpus.text_lines` (``TextLineDataset``) instead of a Python generator, and with the TF
    stages instead of the fused ops, so that a remote worker of a ``ParameterServerStrategy`` can run it
    with core TensorFlow alone. On a corpus of ordinary lines (a chunk of :data:`LINES_PER_CHUNK` lines under
    ``corpus.CHUNK_BYTES``) it is the same stream; lines are read whole.

    ``ValueError`` when ``dataset`` is not such a pipeline (see :func:`can_shard`).
    """
    rebuild, batch_size = _pipeline_of(dataset)
    sources, *rest = rebuild.args
    if not isinstance(sources, tf.data.Dataset):
        sources = corpus.text_lines(sources)
    return rebuild.func(sources, *rest, **{**rebuild.keywords, "batch_size": batch_size, "fused": False})


def _pipeline_of(dataset: tf.data.Dataset) -> tuple[functools.partial, int]:
    """How to build ``dataset`` again (``examples_dataset`` with its arguments) and its batch size."""
    if not can_shard(dataset):
        raise ValueError("a tf.distribute worker rebuilds its input: it needs a dataset made by tfw2v.data "
                         "(skipgram_dataset, cbow_dataset or examples_dataset) with num_shards=1, not "
                         "transformed since")
    return dataset._tfw2v_pipeline


def _check_parameters(
    architecture: str, window: int, sample: float, batch_size: int, num_shards: int, shard_index: int
) -> None:
    if architecture not in ("skipgram", "cbow"):
        raise ValueError(f"architecture={architecture!r}: expected 'skipgram' or 'cbow'")
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window={window!r}: must be an integer >= 1")
    if not sample >= 0:  # also rejects NaN
        raise ValueError(f"sample={sample!r}: must be >= 0 (0 turns subsampling off)")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: must be >= 1")
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index={shard_index!r}, num_shards={num_shards!r}: need 0 <= shard_index < num_shards")


def token_ids(lines: tf.Tensor, tokenizer: Tokenizer, phrases: Phrases | None,
              table: tf.lookup.StaticHashTable) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The in-vocabulary tokens of ``lines`` ``[N]``, tokenized and phrase-joined: their ids (int32 ``[M]``),
    their line (sentence) numbers (int32 ``[M]``) and the number of tokens, out-of-vocabulary ones included (int64
    scalar). :func:`tfw2v.kernels.token_ids` computes the same in one op (without phrases or script splitting)."""
    tokens = tokenizer(lines)
    if phrases is not None:
        tokens = phrases.join(tokens)
    ids = table.lookup(tokens.flat_values)
    known = ids >= 0
    return (tf.cast(tf.boolean_mask(ids, known), tf.int32),
            tf.cast(tf.boolean_mask(tokens.value_rowids(), known), tf.int32),
            tf.size(tokens.flat_values, out_type=tf.int64))


def _seed_pair(seed: tf.Tensor, stream: int) -> tf.Tensor:
    return tf.stack([tf.cast(seed, tf.int64), tf.constant(stream, tf.int64)])


def subsample_mask(ids: tf.Tensor, keep_probability: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Keep word ``i`` with probability ``keep_probability[ids[i]]`` (word2vec.c: keep iff ``ran >= u``)."""
    u = tf.random.stateless_uniform(tf.shape(ids), seed=seed)
    return tf.gather(keep_probability, ids) >= u


def shrunk_windows(n: int | tf.Tensor, window: int, seed: tf.Tensor) -> tf.Tensor:
    """The effective half-window of ``n`` centre words, uniform on ``[1, window]`` (word2vec.c's
    ``window - (next_random % window)``)."""
    return tf.random.stateless_uniform([n], seed=seed, minval=1, maxval=window + 1, dtype=tf.int32)


def split_blocks(ids: tf.Tensor, sentence: tf.Tensor, half_windows: tf.Tensor, block_size: int,
                 window: int) -> dict[str, tf.Tensor]:
    """Cut a word stream into blocks: ``ids`` and ``sentence`` ``[blocks, block_size + 2·window]``, the
    ``half_windows`` of the block's centre words ``[blocks, block_size]``.

    Block ``j`` holds centre positions ``[j·L, (j+1)·L)`` in its middle and ``window`` words of halo on
    each side; positions outside the stream get sentence ``-1`` (never a valid centre or context) and
    half-window 0.
    """
    n = tf.shape(ids)[0]
    num_blocks = (n + block_size - 1) // block_size
    span = tf.range(block_size + 2 * window) - window
    positions = tf.range(num_blocks)[:, None] * block_size + span[None, :]
    inside = (positions >= 0) & (positions < n)
    safe = tf.clip_by_value(positions, 0, tf.maximum(n - 1, 0))
    centres = tf.pad(half_windows, [[0, num_blocks * block_size - n]])
    return {
        "ids": tf.where(inside, tf.gather(ids, safe), 0),
        "sentence": tf.where(inside, tf.gather(sentence, safe), -1),
        "half_windows": tf.reshape(centres, [num_blocks, block_size]),
    }


def context_matrix(
    ids: tf.Tensor, sentence: tf.Tensor, half_windows: tf.Tensor, window: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """For the ``L`` centre positions of each of ``N`` blocks (``ids``, ``sentence`` ``[N, L + 2w]``,
    ``half_windows`` ``[N, L]``): centre ids ``[N·L]``, context ids ``[N·L, 2w]`` and the context mask
    ``[N·L, 2w]`` (inside the shrunk window, in the centre's sentence, centre not padding), block by block."""
    length = tf.shape(ids)[1] - 2 * window
    offsets = tf.concat([tf.range(-window, 0), tf.range(1, window + 1)], axis=0)
    where = (tf.range(length) + window)[:, None] + offsets[None, :]
    centre_sentence = sentence[:, window : window + length]
    mask = (tf.gather(sentence, where, axis=1) == centre_sentence[..., None]) & (
        tf.abs(offsets) <= half_windows[..., None]
    )
    mask &= (centre_sentence >= 0)[..., None]
    slots = 2 * window
    return (tf.reshape(ids[:, window : window + length], [-1]),
            tf.reshape(tf.gather(ids, where, axis=1), [-1, slots]), tf.reshape(mask, [-1, slots]))


def context_examples(blocks: dict[str, tf.Tensor], architecture: Architecture, window: int,
                     cbow_mean: bool = True) -> dict[str, tf.Tensor]:
    """The examples of ``blocks`` (:func:`split_blocks`'s, with ``words_per_centre`` ``[N]``): one per centre word
    with ``m >= 1`` context words, block by block. Skip-gram: the centre is the input and its context the label,
    weight ``1/m`` each; CBOW: the context is the input (weight ``1/m`` for the mean, 1 for the sum) and the
    centre the label. Padding slots hold id 0 at weight 0. :func:`tfw2v.kernels.context_examples` computes the
    same in one op."""
    centre, context, mask = context_matrix(blocks["ids"], blocks["sentence"], blocks["half_windows"], window)
    has_context = tf.reduce_any(mask, axis=1)
    weights = _row_normalise(mask) if architecture == "skipgram" or cbow_mean else tf.cast(mask, tf.float32)
    centre = tf.boolean_mask(centre, has_context)[:, None]
    context = tf.boolean_mask(tf.where(mask, context, 0), has_context)
    weights = tf.boolean_mask(weights, has_context)
    ones = tf.ones_like(centre, tf.float32)
    words = tf.repeat(blocks["words_per_centre"], tf.shape(blocks["half_windows"])[1])
    words = tf.boolean_mask(words, has_context)
    if architecture == "skipgram":
        return {"inputs": centre, "input_weights": ones, "labels": context, "label_weights": weights, "words": words}
    return {"inputs": context, "input_weights": weights, "labels": centre, "label_weights": ones, "words": words}


def _examples_stage(fused: bool | str):
    """The examples stage ``fused`` picks: the C++ op, or :func:`context_examples`."""
    from tfw2v import kernels

    if not kernels.pipeline_uses_ops(fused):
        return context_examples
    return lambda blocks, architecture, window, cbow_mean: kernels.context_examples(blocks, architecture, cbow_mean)


def _ids_stage(fused: bool | str, tokenizer: Tokenizer, phrases: Phrases | None, vocab: Vocabulary):
    """The text-to-ids stage, ``lines → (ids, sentence, tokens)``: the C++ op when the pipeline's ops run and the
    tokens are whitespace-split with no phrases to join (the op's whole definition), else :func:`token_ids`."""
    from tfw2v import kernels

    if kernels.text_ops_run(fused, tokenizer, phrases):
        words = tf.constant(vocab.tokens, tf.string)
        return lambda lines: kernels.token_ids(tokenizer.normalize(tokenizer.clean(lines)[0]), words)
    table = vocab.table()
    return lambda lines: token_ids(lines, tokenizer, phrases, table)


def _row_normalise(mask: tf.Tensor) -> tf.Tensor:
    weights = tf.cast(mask, tf.float32)
    return tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=1, keepdims=True))
