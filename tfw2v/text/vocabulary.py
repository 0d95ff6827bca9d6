"""The vocabulary: word counts sorted by descending frequency, and the tables derived from them."""

from __future__ import annotations

import os
import warnings
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfw2v.text import corpus
from tfw2v.text.phrases import Phrases
from tfw2v.text.tokenize import Tokenizer

COUNT_BATCH_LINES = 1024
WORD2VEC_SENTENCE_END = "</s>"  # word2vec.c's vocabulary entry 0


class Vocabulary:
    """Tokens with their corpus counts, row ``i`` ↔ id ``i``, in descending count order.

    Attributes:
      tokens: list of str, most frequent first; ties are broken by the token's UTF-8 bytes (ascending),
        so the order is deterministic.
      counts: numpy int64 ``[V]``.
      corpus_words: every token the corpus held when the vocabulary was built, including those that
        fell below ``min_count`` (the unit of training progress and of words/s).
      tokenizer: the :class:`Tokenizer` the counts were made with; pipelines reuse it.
      phrases: the :class:`~tfw2v.text.phrases.Phrases` joined before counting (``None``: no phrases); pipelines,
        the model and its exports reuse it.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        counts: Sequence[int] | np.ndarray,
        *,
        corpus_words: int | None = None,
        tokenizer: Tokenizer | None = None,
        phrases: Phrases | None = None,
    ):
        counts = np.asarray(counts, dtype=np.int64)
        if len(tokens) != len(counts):
            raise ValueError(f"{len(tokens)} tokens but {len(counts)} counts")
        if len(tokens) == 0:
            raise ValueError("a vocabulary needs at least one token")
        if np.any(counts <= 0):
            raise ValueError("counts must be positive")
        if np.any(np.diff(counts) > 0):
            raise ValueError("counts must be in descending order")
        self.tokens = list(tokens)
        self.counts = counts
        self._index = {t: i for i, t in enumerate(self.tokens)}
        if len(self._index) != len(self.tokens):
            raise ValueError("tokens must be unique")
        self.corpus_words = int(corpus_words if corpus_words is not None else counts.sum())
        self.tokenizer = _tokenizer_with(phrases, tokenizer)
        self.phrases = phrases
        self._table: tf.lookup.StaticHashTable | None = None

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        sources: corpus.Sources,
        *,
        min_count: int = 5,
        max_size: int | None = None,
        tokenizer: Tokenizer | None = None,
        phrases: Phrases | None = None,
        fused: bool | str = "auto",
    ) -> "Vocabulary":
        """Count every token of ``sources`` in one streaming pass (TensorFlow hash table), keep those with
        ``count >= min_count``, sort, and cut to the ``max_size`` most frequent.

        With ``phrases``, tokens are counted after its phrases are joined (``new_york``), and the tokenizer
        defaults to the one the phrases were detected with.

        ``fused`` picks how each chunk's tokens are counted, as the pipeline's ``fused`` does: ``"auto"`` uses the
        C++ op (:func:`tfw2v.kernels.token_counts`, split and count in one pass) when it can be built and the
        tokens are whitespace-split with no phrases to join, ``True`` requires the op to be buildable, ``False``
        counts with ``tf.strings.split`` and ``tf.unique_with_counts``. Both give the same vocabulary.
        """
        if min_count < 1:
            raise ValueError(f"min_count={min_count}: must be >= 1")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size={max_size}: must be >= 1 or None")
        tokenizer = _tokenizer_with(phrases, tokenizer)
        name, keys, values, repaired = _count_corpus(sources, tokenizer, phrases, fused)
        corpus_words = int(values.sum())
        keep = values >= min_count
        if not keep.any():
            top = int(np.lexsort((keys, -values))[0])  # the first word of the full order, deterministic
            raise ValueError(
                f"{name}: no word occurs min_count={min_count} times (the most frequent, "
                f"{keys[top].decode('utf-8', 'replace')!r}, occurs {int(values[top])} times); lower min_count"
            )
        keys, values = keys[keep], values[keep]
        order = np.lexsort((keys, -values))  # primary: count descending; ties: token bytes ascending
        if max_size is not None:
            order = order[:max_size]
        tokens = [k.decode("utf-8") for k in keys[order]]
        vocab = cls(tokens, values[order], corpus_words=corpus_words, tokenizer=tokenizer, phrases=phrases)
        vocab.invalid_utf8_lines = repaired
        return vocab

    def updated(self, sources: corpus.Sources, *, min_count: int = 5, fused: bool | str = "auto") -> "Vocabulary":
        """This vocabulary grown by another corpus, as gensim's ``build_vocab(sentences, update=True)``.

        ``sources`` is counted with this vocabulary's tokenizer and phrases. Every token here stays, its count
        increased by its count in ``sources`` (a token absent from ``sources`` keeps its count); a token new to
        the vocabulary joins when ``sources`` holds it at least ``min_count`` times. The result is sorted into
        the canonical order (count descending, ties by UTF-8 bytes ascending), so ids change: unlike gensim,
        which appends new words after the old ones, the order stays what ``restrict_vocab``, the noise table and
        the Huffman tree rely on. ``corpus_words`` is the word count of ``sources``: the next training's
        schedule runs over that corpus. Returns a new :class:`Vocabulary` (its ``added_tokens`` says how many
        tokens joined); this one is left unchanged. :func:`tfw2v.training.transfer.grown` moves a model onto it.
        ``fused`` is as for :meth:`build`.
        """
        if min_count < 1:
            raise ValueError(f"min_count={min_count}: must be >= 1")
        _, keys, values, repaired = _count_corpus(sources, self.tokenizer, self.phrases, fused)
        merged = dict(zip(self.tokens, self.counts.tolist()))
        for key, count in zip(keys.tolist(), values.tolist()):
            token = key.decode("utf-8")
            if token in merged:
                merged[token] += count
            elif count >= min_count:
                merged[token] = count
        tokens = list(merged)
        counts = np.fromiter(merged.values(), np.int64, len(tokens))
        order = np.lexsort((np.array([t.encode("utf-8") for t in tokens], dtype=object), -counts))
        vocab = Vocabulary([tokens[i] for i in order], counts[order], corpus_words=int(values.sum()),
                           tokenizer=self.tokenizer, phrases=self.phrases)
        vocab.invalid_utf8_lines = repaired
        vocab.added_tokens = len(tokens) - len(self)
        return vocab

    # ---- persistence (word2vec.c's `-save-vocab` format: "word count" per line) ---------------
    def save(self, path: corpus.Source) -> None:
        """Write ``word count`` lines, most frequent first, atomically."""
        from tfw2v.export.atomic import atomic_file

        with atomic_file(path, "w") as f:
            for token, count in zip(self.tokens, self.counts):
                f.write(f"{token} {count}\n")

    @classmethod
    def load(
        cls,
        path: corpus.Source,
        *,
        corpus_words: int | None = None,
        tokenizer: Tokenizer | None = None,
        phrases: Phrases | None = None,
    ) -> "Vocabulary":
        """Read a ``word count`` file (word2vec.c ``-save-vocab``, or :meth:`save`).

        word2vec.c writes its sentence-end pseudo-word ``</s>`` on the first line whatever its count (0 for a
        corpus without newlines, such as text8). Here a newline, not a token, ends a sentence, so that first
        line is skipped when it breaks the descending order (count 0, or below the next count).
        """
        path = os.fspath(path)
        entries: list[tuple[int, str, int]] = []  # (line number, token, count)
        try:
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    parts = line.rstrip("\n").split(" ")
                    if len(parts) != 2 or not parts[0] or not (parts[1].isascii() and parts[1].isdigit()):
                        raise ValueError(f"{path}:{lineno}: expected 'word count', got {line.rstrip()[:80]!r}")
                    entries.append((lineno, parts[0], int(parts[1])))
        except FileNotFoundError:
            raise corpus.CorpusError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise corpus.CorpusError(f"{path}: is a directory, expected a vocabulary file") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        if entries and entries[0][1] == WORD2VEC_SENTENCE_END:
            count = entries[0][2]
            if count == 0 or (len(entries) > 1 and count < entries[1][2]):
                entries = entries[1:]
        if not entries:
            raise ValueError(f"{path}: empty vocabulary file")
        seen: set[str] = set()
        for i, (lineno, token, count) in enumerate(entries):
            if count <= 0:
                raise ValueError(f"{path}:{lineno}: the count of {token!r} must be positive, got {count}")
            if i and count > entries[i - 1][2]:
                raise ValueError(
                    f"{path}:{lineno}: counts must be in descending order ({token!r} {count} follows "
                    f"{entries[i - 1][1]!r} {entries[i - 1][2]})"
                )
            if token in seen:
                raise ValueError(f"{path}:{lineno}: {token!r} occurs twice")
            seen.add(token)
        tokens = [token for _, token, _ in entries]
        counts = [count for _, _, count in entries]
        return cls(tokens, counts, corpus_words=corpus_words, tokenizer=tokenizer, phrases=phrases)

    # ---- lookups -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def id(self, token: str) -> int:
        """The id of ``token``; KeyError naming it when it is not in the vocabulary."""
        try:
            return self._index[token]
        except KeyError:
            raise KeyError(f"{token!r} is not in the vocabulary") from None

    def token(self, token_id: int) -> str:
        return self.tokens[token_id]

    @property
    def total(self) -> int:
        """Sum of in-vocabulary counts (word2vec.c's ``train_words``)."""
        return int(self.counts.sum())

    def table(self) -> tf.lookup.StaticHashTable:
        """An in-graph token → id table; out-of-vocabulary tokens map to -1. One made eagerly is kept and shared
        by every later caller; one made inside a function's graph (a worker's ``dataset_fn``) belongs to that
        graph alone, so it is made afresh there and not kept."""
        if self._table is not None:
            return self._table
        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.tokens, tf.string), tf.range(len(self.tokens), dtype=tf.int64)
        )
        table = tf.lookup.StaticHashTable(init, default_value=-1)
        if tf.executing_eagerly():
            self._table = table
        return table

    # ---- derived tables ------------------------------------------------------------------------
    def keep_probabilities(self, sample: float = 1e-3) -> np.ndarray:
        """word2vec.c's subsampling keep probability per word, ``min(1, sqrt(t/f) + t/f)`` with
        ``f = count / total`` and ``t = sample``; all ones when ``sample == 0``."""
        if not sample >= 0:  # also rejects NaN
            raise ValueError(f"sample={sample}: must be >= 0 (0 turns subsampling off)")
        if sample == 0:
            return np.ones(len(self), np.float32)
        ratio = sample / (self.counts / self.total)
        return np.minimum(1.0, np.sqrt(ratio) + ratio).astype(np.float32)

    def noise_distribution(self, exponent: float = 0.75) -> np.ndarray:
        """The unigram noise distribution ``count**exponent / Σ count**exponent`` (float64)."""
        from tfw2v.losses.noise import unigram

        return unigram(self.counts, exponent).probabilities

    def huffman(self):
        """word2vec.c's Huffman tree over the counts (codes and points for hierarchical softmax)."""
        from tfw2v.losses.huffman import build_huffman

        return build_huffman(self.counts)

    def __repr__(self) -> str:
        head = ", ".join(self.tokens[:5])
        return f"Vocabulary({len(self)} tokens [{head}, ...], {self.corpus_words} corpus words)"


def _tokenizer_with(phrases: Phrases | None, tokenizer: Tokenizer | None) -> Tokenizer:
    """The tokenizer to use with ``phrases``: theirs by default; another one is refused (it would change
    the words the phrases were detected on)."""
    if phrases is None:
        return tokenizer or Tokenizer()
    if tokenizer is not None and tokenizer != phrases.tokenizer:
        raise ValueError(f"tokenizer={tokenizer} differs from the tokenizer the phrases were detected with "
                         f"({phrases.tokenizer}); leave tokenizer out to use theirs")
    return phrases.tokenizer


def _count_corpus(
    sources: corpus.Sources, tokenizer: Tokenizer, phrases: Phrases | None, fused: bool | str
) -> tuple[str, np.ndarray, np.ndarray, int]:
    """Count the tokens of ``sources`` (:func:`_count_tokens`): its name, the distinct tokens (bytes), their
    counts and how many lines had invalid UTF-8 (a warning says how many). An empty corpus raises
    :class:`~tfw2v.text.corpus.CorpusError`."""
    from tfw2v import kernels

    uses_op = kernels.text_ops_run(fused, tokenizer, phrases)
    if not isinstance(sources, tf.data.Dataset) and not isinstance(sources, (str, os.PathLike)):
        sources = list(sources)
    name = corpus.describe(sources)
    chunks = corpus.line_chunks(sources, COUNT_BATCH_LINES)
    count_chunk = _fused_chunk_counts(tokenizer) if uses_op else _chunk_counts(tokenizer, phrases)
    keys, values, repaired = _count_tokens(chunks, count_chunk)
    if repaired:
        warnings.warn(f"{name}: {repaired} line(s) had invalid UTF-8, replaced with U+FFFD", stacklevel=3)
    if int(values.sum()) == 0:
        raise corpus.CorpusError(f"{name}: the corpus is empty (no tokens)")
    return name, keys, values, repaired


ChunkCounts = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]


def _chunk_counts(tokenizer: Tokenizer, phrases: Phrases | None) -> ChunkCounts:
    """``lines → (distinct tokens, their counts, lines repaired)``: tokenized, phrase-joined, ``tf.unique_with_counts``."""

    def count(lines: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        tokens, repaired = tokenizer.tokenize_with_repairs(lines)
        if phrases is not None:
            tokens = phrases.join(tokens)
        distinct, _, counts = tf.unique_with_counts(tokens.flat_values, out_idx=tf.int64)
        return distinct, counts, repaired

    return count


def _fused_chunk_counts(tokenizer: Tokenizer) -> ChunkCounts:
    """:func:`_chunk_counts` for whitespace-split tokens without phrases, split and counted by one C++ op."""
    from tfw2v import kernels

    def count(lines: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        clean, repaired = tokenizer.clean(lines)
        distinct, counts = kernels.token_counts(tokenizer.normalize(clean))
        return distinct, counts, repaired

    return count


def _count_tokens(chunks: tf.data.Dataset, count_chunk: ChunkCounts) -> tuple[np.ndarray, np.ndarray, int]:
    """Stream the ``[n]``-line ``chunks`` once, count each with ``count_chunk`` (in parallel) and add the counts
    up in a TensorFlow hash table.

    Returns the distinct tokens (bytes), their counts (int64) and how many lines had invalid UTF-8.
    """
    table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=0)
    batches = chunks.map(count_chunk, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)

    @tf.function
    def count_all() -> tf.Tensor:
        repaired = tf.constant(0, tf.int64)
        for distinct, counts, repaired_lines in batches:
            table.insert(distinct, table.lookup(distinct) + counts)
            repaired += repaired_lines
        return repaired

    repaired = int(count_all())
    keys, values = table.export()
    return keys.numpy(), values.numpy().astype(np.int64), repaired
