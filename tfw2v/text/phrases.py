"""Phrases: word2vec.c's word2phrase collocations (``new york`` → ``new_york``), detected in a streaming pass
and joined in-graph by the pipelines and by the exported SavedModel.

A phrase pass counts every word and every pair of neighbouring words within a sentence, then scores each pair
``(a, b)`` over the ``N`` words the pass read. The default is word2phrase's score::

    score(a, b) = (count(ab) − min_count) / count(a) / count(b) · N

and ``scoring="npmi"`` is gensim's normalized pointwise mutual information, in ``[−1, 1]``::

    npmi(a, b) = ln(p(ab) / (p(a) · p(b))) / −ln p(ab),        p(x) = count(x) / N

A pair becomes the token ``a_b`` when both words and the pair occur at least ``min_count`` times and its score
exceeds ``threshold``. Sentences are joined left to right, and after a join the next pair starts after ``b``
(:mod:`tfw2v.text.phrase_join`). ``passes=2`` detects again on the joined text, which finds phrases of up to four
words, as word2vec.c's demo does by running word2phrase twice.

**Memory bound.** Counting keeps one hash-table entry per distinct word and per distinct pair. Like
word2phrase, when the two tables together exceed ``max_entries``, every entry seen at most ``r`` times is
dropped and ``r`` grows by one for the next time (``r`` starts at 1). A pruned count restarts from zero, so
on a corpus that overflows the bound, rare pairs are under-counted; :attr:`PhrasePass.pruned_below` records
the last ``r`` (0 when nothing was pruned). An entry costs about 120 bytes, so the default bound of 20M
entries holds about 2.4 GB; the 16.9M-word benchmark corpus needs 4.2M entries (0.2M words, 4.0M pairs) and
is never pruned.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfw2v.names import DEFAULT_PHRASE_THRESHOLD, PHRASE_SCORINGS
from tfw2v.text import corpus
from tfw2v.text.phrase_join import PAIR_SEPARATOR, PhraseJoiner, adjacent_pairs
from tfw2v.text.tokenize import Tokenizer

DEFAULT_MAX_ENTRIES = 20_000_000
DELIMITER = "_"
COUNT_LINES_PER_CHUNK = 1024
FILE_FORMAT = 1
FILE_HEADER = "# tfw2v phrases"
COLUMNS = "# a b count(ab) count(a) count(b) score"

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(pass_number, words_counted_so_far)`` while a pass counts."""


class PhrasesError(ValueError):
    """A phrase table or phrase option that cannot be used; the message names the file or the parameter."""


@dataclasses.dataclass(frozen=True)
class Phrase:
    """One joined pair and the counts that scored it."""

    left: str
    right: str
    count: int
    left_count: int
    right_count: int
    score: float


@dataclasses.dataclass(frozen=True)
class PhrasePass:
    """What one pass over the corpus found.

    Attributes:
      corpus_words: ``N``, the words this pass read (after the previous passes' joins).
      phrases: the joined pairs, highest score first.
      pruned_below: the counting bound's last pruning level ``r`` (0: nothing was pruned, counts are exact).
    """

    corpus_words: int
    phrases: tuple[Phrase, ...]
    pruned_below: int = 0


class _PairCounts:
    """A built pass's counts: every word and pair seen at least ``min_count`` times, for :meth:`Phrases.score`."""

    def __init__(self, words: dict[str, int], pair_keys: np.ndarray, pair_counts: np.ndarray):
        order = np.argsort(pair_keys)
        self.words = words
        self.pair_keys = pair_keys[order]
        self.pair_counts = pair_counts[order]

    def pair(self, a: str, b: str) -> int:
        key = f"{a}{PAIR_SEPARATOR}{b}".encode("utf-8")
        i = int(np.searchsorted(self.pair_keys, key))
        return int(self.pair_counts[i]) if i < len(self.pair_keys) and self.pair_keys[i] == key else 0


class Phrases:
    """A phrase table: one or more word2phrase passes, applied in order.

    Build one with :meth:`build`, or read one with :meth:`load`. Hand it to ``Vocabulary.build(...,
    phrases=...)``; the pipelines, the model and the exports then use it.
    """

    def __init__(
        self,
        passes: Sequence[PhrasePass],
        *,
        scoring: str = "word2vec",
        threshold: float | None = None,
        min_count: int = 5,
        tokenizer: Tokenizer | None = None,
        delimiter: str = DELIMITER,
    ):
        self.scoring, self.threshold, self.min_count = check_options(scoring, threshold, min_count)
        if not isinstance(delimiter, str) or not delimiter or any(c.isspace() for c in delimiter):
            raise PhrasesError(f"delimiter={delimiter!r}: must be a non-empty string without whitespace")
        self.delimiter = delimiter
        self.tokenizer = tokenizer or Tokenizer()
        self.passes = tuple(passes)
        self._counts: list[_PairCounts] | None = None
        self._joiner: PhraseJoiner | None = None

    # ---- detection ------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        sources: corpus.Sources,
        *,
        min_count: int = 5,
        threshold: float | None = None,
        passes: int = 1,
        scoring: str = "word2vec",
        tokenizer: Tokenizer | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        progress: ProgressCallback | None = None,
    ) -> "Phrases":
        """Detect phrases in ``sources`` with ``passes`` streaming passes (see the module docstring).

        Args:
          sources: file paths or globs (``.gz`` ok) or a ``tf.data.Dataset`` of lines; a line is a sentence.
          min_count: a word or pair seen fewer times never joins.
          threshold: a pair joins when its score exceeds this; ``None`` takes 100 (word2vec) or 0.5 (npmi).
          passes: detection passes; pass ``k`` reads the text as passes ``1 … k−1`` joined it.
          scoring: ``"word2vec"`` (word2phrase) or ``"npmi"`` (gensim's normalized PMI).
          tokenizer: how lines become words (default :class:`Tokenizer`); the table keeps it.
          max_entries: the counting bound (module docstring).
          progress: called with ``(pass_number, words counted so far)`` after every chunk of text.
        """
        scoring, threshold, min_count = check_options(scoring, threshold, min_count)
        for name, value in (("passes", passes), ("max_entries", max_entries)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise PhrasesError(f"{name}={value!r}: must be an integer >= 1")
        if not isinstance(sources, tf.data.Dataset) and not isinstance(sources, (str, os.PathLike)):
            sources = list(sources)
        phrases = cls([], scoring=scoring, threshold=threshold, min_count=min_count, tokenizer=tokenizer)
        counts = []
        for number in range(1, passes + 1):
            chunks = corpus.line_chunks(sources, COUNT_LINES_PER_CHUNK)
            report = (lambda words, n=number: progress(n, words)) if progress else None
            found, pass_counts = phrases._detect(chunks, max_entries, report)
            if found.corpus_words == 0:
                raise corpus.CorpusError(f"{corpus.describe(sources)}: the corpus is empty (no tokens)")
            phrases.passes += (found,)
            phrases._joiner = None
            counts.append(pass_counts)
        phrases._counts = counts
        return phrases

    def _detect(
        self, chunks: tf.data.Dataset, max_entries: int, progress: Callable[[int], None] | None
    ) -> tuple[PhrasePass, _PairCounts]:
        """Count one pass over ``chunks`` (joined by the passes so far) and pick its phrases."""
        words, pairs, corpus_words, pruned_below = _count(
            chunks, self.tokenizer, self.joiner(), self.min_count, max_entries, progress
        )
        pair_keys, pair_counts = pairs
        frequent_words = dict(zip((w.decode("utf-8") for w in words[0]), words[1].tolist()))
        counts = _PairCounts(frequent_words, pair_keys.astype(bytes), pair_counts)
        found = []
        for key, count in zip(pair_keys.tolist(), pair_counts.tolist()):
            a, b = key.decode("utf-8").split(PAIR_SEPARATOR)
            if a in frequent_words and b in frequent_words:
                score = self._formula(count, frequent_words[a], frequent_words[b], corpus_words)
                if score > self.threshold:
                    found.append(Phrase(a, b, count, frequent_words[a], frequent_words[b], score))
        found.sort(key=lambda p: (-p.score, p.left, p.right))
        return PhrasePass(corpus_words, tuple(found), pruned_below), counts

    def _formula(self, count_ab: int, count_a: int, count_b: int, corpus_words: int) -> float:
        """word2phrase's ``(count_ab − min_count) / count_a / count_b · N``, or npmi (module docstring)."""
        if self.scoring == "npmi":
            p_ab = count_ab / corpus_words
            pmi = math.log(p_ab / ((count_a / corpus_words) * (count_b / corpus_words)))
            return pmi / -math.log(p_ab) if p_ab < 1 else 1.0
        return (count_ab - self.min_count) / count_a / count_b * corpus_words

    # ---- queries --------------------------------------------------------------------------------
    def score(self, a: str, b: str, *, pass_number: int = 1) -> float:
        """The score of the pair ``(a, b)`` in pass ``pass_number`` (1-based), by the table's scoring formula.

        ``-inf`` when ``a``, ``b`` or the pair occurs fewer than ``min_count`` times (never a phrase). A table
        read by :meth:`load` keeps only its phrases' counts: scoring another pair raises ``KeyError``.
        """
        if not 1 <= pass_number <= len(self.passes):
            raise ValueError(f"pass_number={pass_number}: this table has passes 1..{len(self.passes)}")
        found = self.passes[pass_number - 1]
        if self._counts is None:
            for phrase in found.phrases:
                if (phrase.left, phrase.right) == (a, b):
                    return phrase.score
            raise KeyError(f"({a!r}, {b!r}) is not a phrase of pass {pass_number}; a loaded table keeps only its "
                           "phrases' counts, so only a built one scores other pairs")
        counts = self._counts[pass_number - 1]
        count_ab = counts.pair(a, b)
        if a not in counts.words or b not in counts.words or count_ab < self.min_count:
            return -math.inf
        return self._formula(count_ab, counts.words[a], counts.words[b], found.corpus_words)

    def __len__(self) -> int:
        return sum(len(p.phrases) for p in self.passes)

    @property
    def tokens(self) -> list[str]:
        """Every joined token, pass by pass, highest score first (``new_york``…)."""
        return [f"{p.left}{self.delimiter}{p.right}" for found in self.passes for p in found.phrases]

    # ---- joining --------------------------------------------------------------------------------
    def joiner(self) -> PhraseJoiner:
        """The in-graph joiner of every pass (a ``tf.Module``; a SavedModel that tracks it keeps the phrases)."""
        if self._joiner is None:
            with tf.init_scope():  # the tables outlive the graph (a tf.data function) that first asks for them
                self._joiner = PhraseJoiner(
                    [[(p.left, p.right) for p in found.phrases] for found in self.passes], self.delimiter
                )
        return self._joiner

    def join(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """Join the phrases of ragged tokens ``[N, (t)]``, one row per sentence, in-graph."""
        return self.joiner()(tokens)

    def transform(self, line: str) -> list[str]:
        """One line of text as the pipeline sees it: tokenized, then joined (``"new york" → ["new_york"]``)."""
        tokens = self.join(self.tokenizer(tf.constant([line])))
        return [t.decode("utf-8") for t in tokens.to_list()[0]]

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, path: corpus.Source) -> None:
        """Write the table as plain text, atomically (the format is in :func:`tfw2v.text.phrase_file.write`)."""
        from tfw2v.text import phrase_file

        phrase_file.write(self, path)

    @classmethod
    def load(cls, path: corpus.Source) -> "Phrases":
        """Read a table written by :meth:`save`; :class:`PhrasesError` names the file and line of a problem."""
        from tfw2v.text import phrase_file

        return phrase_file.read(path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Phrases) and self.settings() == other.settings() and self.passes == other.passes

    def settings(self) -> dict[str, object]:
        """The options that decide what joins (the file's header)."""
        return {"scoring": self.scoring, "threshold": self.threshold, "min_count": self.min_count,
                "delimiter": self.delimiter, "tokenizer": self.tokenizer.get_config()}

    def __repr__(self) -> str:
        head = ", ".join(self.tokens[:4])
        return f"Phrases({len(self.passes)} pass(es), {len(self)} phrases [{head}{', ...' if len(self) > 4 else ''}])"


def check_options(scoring: str, threshold: float | None, min_count: int) -> tuple[str, float, int]:
    """Validate the scoring options; return them with ``threshold`` filled in for ``None``."""
    if scoring not in PHRASE_SCORINGS:
        raise PhrasesError(f"scoring={scoring!r}: expected one of {', '.join(PHRASE_SCORINGS)}")
    if threshold is None:
        threshold = DEFAULT_PHRASE_THRESHOLD[scoring]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold >= 0:
        raise PhrasesError(f"threshold={threshold!r}: must be a number >= 0")
    if scoring == "npmi" and not threshold < 1:
        raise PhrasesError(f"threshold={threshold!r}: npmi scores lie in [-1, 1], so the threshold must be < 1")
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise PhrasesError(f"min_count={min_count!r}: must be an integer >= 1")
    return scoring, float(threshold), int(min_count)


def _count(
    chunks: tf.data.Dataset,
    tokenizer: Tokenizer,
    joiner: PhraseJoiner,
    min_count: int,
    max_entries: int,
    progress: Callable[[int], None] | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], int, int]:
    """Count words and in-sentence pairs of ``chunks`` in two TensorFlow hash tables, pruned to ``max_entries``.

    Returns the words and the pairs seen at least ``min_count`` times, each as ``(keys, counts)``, then the
    number of words read and the pruning level reached.
    """
    words = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=0)
    pairs = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=0)

    def chunk_counts(lines: tf.Tensor) -> dict[str, tf.Tensor]:  # runs in parallel, in tf.data
        tokens = joiner(tokenizer(lines))
        keys, inside = adjacent_pairs(tokens)
        distinct_words, _, word_counts = tf.unique_with_counts(tokens.flat_values, out_idx=tf.int64)
        distinct_pairs, _, pair_counts = tf.unique_with_counts(tf.boolean_mask(keys, inside), out_idx=tf.int64)
        return {"words": distinct_words, "word_counts": word_counts, "pairs": distinct_pairs,
                "pair_counts": pair_counts, "total": tf.size(tokens.flat_values, out_type=tf.int64)}

    counted = chunks.map(chunk_counts, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)

    @tf.function(input_signature=[counted.element_spec])
    def add(chunk: dict[str, tf.Tensor]) -> tf.Tensor:
        words.insert(chunk["words"], words.lookup(chunk["words"]) + chunk["word_counts"])
        pairs.insert(chunk["pairs"], pairs.lookup(chunk["pairs"]) + chunk["pair_counts"])
        return words.size() + pairs.size()

    @tf.function
    def prune(level: tf.Tensor) -> None:
        for table in (words, pairs):
            keys, values = table.export()
            table.remove(tf.boolean_mask(tf.reshape(keys, [-1]), tf.reshape(values, [-1]) <= level))

    total = 0
    level = 0
    for chunk in counted:
        total += int(chunk["total"])
        if int(add(chunk)) > max_entries:
            level += 1
            prune(tf.constant(level, tf.int64))
        if progress is not None:
            progress(total)
    return _frequent(words, min_count), _frequent(pairs, min_count), total, level


def _frequent(table: tf.lookup.experimental.MutableHashTable, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """The keys (bytes) and counts of ``table`` with a count of at least ``min_count``."""
    keys, counts = table.export()
    frequent = counts >= min_count
    return tf.boolean_mask(keys, frequent).numpy(), tf.boolean_mask(counts, frequent).numpy()


def describe_progress(every_seconds: float, say: Callable[[str], None]) -> ProgressCallback:
    """A progress callback that says ``phrases pass K: W words (R words/s)`` at most every ``every_seconds``."""
    first: dict[int, tuple[float, int]] = {}
    last = [time.perf_counter()]

    def report(pass_number: int, words: int) -> None:
        now = time.perf_counter()
        start_time, start_words = first.setdefault(pass_number, (now, words))
        if now - last[0] >= every_seconds and now > start_time:
            last[0] = now
            rate = (words - start_words) / (now - start_time)
            say(f"  phrases pass {pass_number}: {words:,} words counted ({rate:,.0f} words/s)")

    return report
