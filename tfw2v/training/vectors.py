"""Word vectors detached from training: what evaluation, nearest-neighbour queries and exporters consume."""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence

import numpy as np

from tfw2v.text.phrases import Phrases
from tfw2v.text.tokenize import Tokenizer


class HasWordVectors(Protocol):
    """Anything that can hand out its :class:`WordVectors` (a trained ``Word2Vec`` model does)."""

    def word_vectors(self) -> "WordVectors": ...


class WordVectors:
    """A ``[V, D]`` float32 matrix whose row ``i`` is the vector of ``tokens[i]``.

    ``tokens`` are expected in descending frequency order (as word2vec.c writes them), which is what
    ``restrict_vocab`` in evaluation relies on. ``tokenizer`` and ``phrases`` (``None``: none) turn text into
    these tokens; the SavedModel export applies both in its graph.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        vectors: np.ndarray,
        tokenizer: Tokenizer | None = None,
        phrases: Phrases | None = None,
    ):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(tokens):
            raise ValueError(f"vectors must be [len(tokens)={len(tokens)}, D], got shape {vectors.shape}")
        self.tokens = list(tokens)
        self.vectors = vectors
        self.tokenizer = tokenizer or Tokenizer()
        self.phrases = phrases
        self._index = {t: i for i, t in enumerate(self.tokens)}
        if len(self._index) != len(self.tokens):
            raise ValueError("tokens must be unique")
        self._unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index(word)]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self, word: str) -> int:
        try:
            return self._index[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary") from None

    def get_index(self, word: str, default: int | None = None) -> int | None:
        return self._index.get(word, default)

    @property
    def unit_vectors(self) -> np.ndarray:
        """Rows scaled to unit L2 norm (zero rows stay zero); cached."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.maximum(norms, np.finfo(np.float32).tiny)
        return self._unit

    def most_similar(
        self, word: str | np.ndarray, k: int = 10, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest words by cosine similarity, as ``(word, cosine)`` pairs, best first.

        A word query is excluded from its own answer; ``exclude`` removes further words.
        """
        banned = {self.index(w) for w in exclude if w in self._index}
        if isinstance(word, str):
            i = self.index(word)
            banned.add(i)
            query = self.unit_vectors[i]
        else:
            query = np.asarray(word, dtype=np.float32)
            query = query / max(float(np.linalg.norm(query)), np.finfo(np.float32).tiny)
        scores = self.unit_vectors @ query
        if banned:
            scores[list(banned)] = -np.inf
        k = min(k, len(self.tokens) - len(banned))
        top = np.argpartition(-scores, k - 1)[:k] if k > 0 else np.array([], dtype=int)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.tokens[i], float(scores[i])) for i in top]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit_vectors[self.index(a)] @ self.unit_vectors[self.index(b)])

    def word_vectors(self) -> "WordVectors":
        return self


def as_word_vectors(source: "WordVectors | HasWordVectors") -> WordVectors:
    """Accept a trained model or plain vectors wherever vectors are consumed."""
    if isinstance(source, WordVectors):
        return source
    if hasattr(source, "word_vectors"):
        return source.word_vectors()
    raise TypeError(f"expected WordVectors or a trained tfw2v model, got {type(source).__name__}")
