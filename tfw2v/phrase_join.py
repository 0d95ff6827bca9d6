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
    even``, with ``s_i`` the first pair of ``i``'s run.
    """
    position = tf.range(tf.size(is_phrase, out_type=tf.int64), dtype=tf.int64)
    breaks = tf.logical_not(is_phrase)
    run = tf.cumsum(tf.cast(breaks, tf.int64))  # a break opens the next run; run 0 opens at pair 0
    first = tf.math.segment_min(position, run)  # run 0: its first pair; later runs: their opening break
    run_start = tf.gather(first, run) + tf.minimum(run, 1)
    return is_phrase & tf.equal(tf.math.floormod(position - run_start, 2), 0)


class PhraseJoiner(tf.Module):
    """Applies the phrase passes of a :class:`~tfw2v.phrases.Phrases` table to ragged tokens ``[N, (t)]``.

    Each pass is a ``tf.lookup.StaticHashTable`` from the key ``"a b"`` to 1, tracked by this module, so a
    SavedModel that holds the module carries its phrases.
    """

    def __init__(self, passes: Sequence[Sequence[tuple[str, str]]], delimiter: str):
        super().__init__(name="phrase_joiner")
        self.delimiter = delimiter
        self.tables = [self._table(pairs) for pairs in passes]

    @staticmethod
    def _table(pairs: Sequence[tuple[str, str]]) -> tf.lookup.StaticHashTable:
        keys = [f"{a}{PAIR_SEPARATOR}{b}" for a, b in pairs] or [PAIR_SEPARATOR]  # never a real pair
        return tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string), tf.ones([len(keys)], tf.int32)),
            default_value=0,
        )

    def __call__(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """Join every pass's phrases in ``tokens`` (one row per sentence), pass after pass."""
        for table in self.tables:
            tokens = self._join(tokens, table)
        return tokens

    def _join(self, tokens: tf.RaggedTensor, table: tf.lookup.StaticHashTable) -> tf.RaggedTensor:
        flat = tokens.flat_values
        rows = tokens.value_rowids()
        keys, inside = adjacent_pairs(tokens)
        joins = greedy_joins(inside & tf.greater(table.lookup(keys), 0))
        where = tf.where(joins)  # [J, 1]: pair i joins flat[i] and flat[i + 1]
        joined = tf.strings.join([tf.gather_nd(flat, where), tf.gather_nd(flat, where + 1)], separator=self.delimiter)
        flat = tf.tensor_scatter_nd_update(flat, where, joined)
        keep = tf.logical_not(tf.concat([[False], joins], axis=0))[: tf.size(flat)]  # a join absorbs its right word
        return tf.RaggedTensor.from_value_rowids(
            tf.boolean_mask(flat, keep), tf.boolean_mask(rows, keep), nrows=tokens.nrows()
        )
