"""Joining detected phrases in-graph, with core TensorFlow ops only, so a stock TF Serving runs it.

One pass of word2phrase reads a sentence left to right and joins ``a b`` into ``a_b`` when the pair is a
phrase; after a join the next candidate pair starts after ``b``. In a sentence ``t_0 … t_{n-1}`` let
``p_i`` say whether ``(t_i, t_{i+1})`` is a phrase. The scan joins pair ``i`` iff ``p_i`` and pair ``i - 1``
was not joined, which unrolls to: pair ``i`` is joined iff ``p_i`` and ``i - s`` is even, where ``s`` is the
first pair of the run of consecutive phrase pairs that holds ``i``. That closed form needs only a cumulative
sum and a segment minimum, so a whole ragged batch of sentences is joined at once. A pair never spans two
sentences (two rows).
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

PAIR_SEPARATOR = " "
"""Separates the two words of a pair in the lookup key; tokens never hold whitespace."""


def pair_keys(left: tf.Tensor, right: tf.Tensor) -> tf.Tensor:
    """The lookup key ``"a b"`` of each pair ``(left[i], right[i])``."""
    return tf.strings.join([left, right], separator=PAIR_SEPARATOR)


def adjacent_pairs(tokens: tf.RaggedTensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``(keys, inside)`` for every pair of neighbouring flat tokens of ``tokens [N, (t)]``: ``keys[i]`` is the
    key of ``(flat[i], flat[i + 1])`` and ``inside[i]`` is true when both lie in the same sentence (row)."""
    flat = tokens.flat_values
    rows = tokens.value_rowids()
    return pair_keys(flat[:-1], flat[1:]), tf.equal(rows[:-1], rows[1:])


def greedy_joins(is_phrase: tf.Tensor) -> tf.Tensor:
    """Which pairs a left-to-right scan joins, given which pairs are phrases (1-D bool → 1-D bool).

    Runs of consecutive phrase pairs are joined at their 1st, 3rd, 5th… pair: ``join_i = p_i ∧ (i − s_i)
    even``, with ``s_i`` the first pair of ``i``'s run, one after the last non-phrase pair before ``i``.
    """
    position = tf.range(tf.size(is_phrase))
    breaks = tf.logical_not(is_phrase)
    breaks_before = tf.cumsum(tf.cast(breaks, tf.int32))  # non-phrase pairs at or before i
    break_positions = tf.concat([[-1], tf.cast(tf.where(breaks)[:, 0], tf.int32)], axis=0)
    run_start = tf.gather(break_positions, breaks_before) + 1
    return is_phrase & tf.equal(tf.math.floormod(position - run_start, 2), 0)


class PhrasePassTables(tf.Module):
    """One pass's phrases as two lookup tables: ``part`` numbers every word that appears in a phrase, and
    ``joins`` holds ``part(a) · parts + part(b)`` for each phrase ``a b``. Looking up single tokens and an
    int64 key is cheaper than building a string key for every neighbouring pair."""

    def __init__(self, pairs: Sequence[tuple[str, str]]):
        super().__init__(name="phrase_pass")
        words = sorted({word for pair in pairs for word in pair}) or [""]  # "" is never a token
        number = {word: i for i, word in enumerate(words)}
        self.parts = len(words)
        keys = [number[a] * self.parts + number[b] for a, b in pairs] or [-1]
        self.part = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(words, tf.string), tf.range(len(words), dtype=tf.int64)),
            default_value=-1,
        )
        self.joins = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.int64), tf.ones([len(keys)], tf.int32)),
            default_value=0,
        )

    def is_phrase(self, tokens: tf.RaggedTensor) -> tf.Tensor:
        """``[n - 1]`` bool over the flat tokens: ``(flat[i], flat[i + 1])`` is a phrase of one sentence.

        Only pairs of two phrase words in one sentence are looked up in ``joins``.
        """
        part = self.part.lookup(tokens.flat_values)
        left, right = part[:-1], part[1:]
        rows = tokens.value_rowids()
        candidates = tf.where((left >= 0) & (right >= 0) & tf.equal(rows[:-1], rows[1:]))
        keys = tf.gather_nd(left, candidates) * self.parts + tf.gather_nd(right, candidates)
        hits = self.joins.lookup(keys)
        return tf.scatter_nd(candidates, hits, tf.shape(left, out_type=tf.int64)) > 0


class PhraseJoiner(tf.Module):
    """Applies the phrase passes of a :class:`~tfw2v.text.phrases.Phrases` table to ragged tokens ``[N, (t)]``.

    Each pass's tables (:class:`PhrasePassTables`) are tracked by this module, so a SavedModel that holds the
    module carries its phrases.
    """

    def __init__(self, passes: Sequence[Sequence[tuple[str, str]]], delimiter: str):
        super().__init__(name="phrase_joiner")
        self.delimiter = delimiter
        self.passes = [PhrasePassTables(pairs) for pairs in passes]

    def __call__(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """Join every pass's phrases in ``tokens`` (one row per sentence), pass after pass."""
        for tables in self.passes:
            tokens = self._join(tokens, tables)
        return tokens

    def _join(self, tokens: tf.RaggedTensor, tables: PhrasePassTables) -> tf.RaggedTensor:
        joins = greedy_joins(tables.is_phrase(tokens))
        starts = tf.logical_not(tf.concat([[False], joins], axis=0))[: tf.size(tokens.flat_values)]
        output = tf.cumsum(tf.cast(starts, tf.int32)) - 1  # a joined pair's right word joins its left word's token
        flat = tf.strings.unsorted_segment_join(
            tokens.flat_values, output, num_segments=tf.reduce_sum(tf.cast(starts, tf.int32)), separator=self.delimiter
        )
        return tf.RaggedTensor.from_value_rowids(
            flat, tf.boolean_mask(tokens.value_rowids(), starts), nrows=tokens.nrows(), validate=False
        )
