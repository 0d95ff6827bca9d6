"""Word-pair similarity: correlation of cosine similarity with human judgements (WordSim353, SimLex-999, MEN).

Counts and skipping follow gensim 4's ``KeyedVectors.evaluate_word_pairs``; the statistics are computed
with numpy (scipy is not a dependency).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfw2v.evaluation.common import PathLike, lookup_key, numbered_lines, word_lookup
from tfw2v.training.vectors import HasWordVectors, WordVectors, as_word_vectors

COMMENT_MARK = "#"

WordPair = tuple[str, str, float]


def detect_delimiter(lines: list[str]) -> str:
    """``"\\t"`` if any non-comment line contains a tab, else ``" "``."""
    data = (line for line in lines if not line.startswith(COMMENT_MARK))
    return "\t" if any("\t" in line for line in data) else " "


def read_pairs(path: PathLike, delimiter: str | None = None) -> list[WordPair]:
    """``(word1, word2, score)`` triples of a word-pair file, as gensim reads them.

    Each line is split on ``delimiter`` (auto-detected by :func:`detect_delimiter` when ``None``). Lines that
    start with ``#``, and lines that do not split into exactly ``word1, word2, number`` (blank lines, MEN's
    ``word1 word2 score`` header), are skipped.
    """
    lines = [line for _, line in numbered_lines(path)]
    delimiter = detect_delimiter(lines) if delimiter is None else delimiter
    pairs: list[WordPair] = []
    for line in lines:
        if line.startswith(COMMENT_MARK):
            continue
        fields = line.split(delimiter)
        if len(fields) != 3:
            continue
        try:
            score = float(fields[2])
        except ValueError:
            continue
        pairs.append((fields[0], fields[1], score))
    return pairs


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks ``1..n`` of ``values``; tied values share the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_group = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(values))
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    return ranks


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """``r = Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² Σ(y−ȳ)²)``; NaN for fewer than 2 points or a constant input."""
    if len(x) < 2:
        return float("nan")
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denominator = np.sqrt((x @ x) * (y @ y))
    if denominator == 0:
        return float("nan")
    return float(np.clip((x @ y) / denominator, -1.0, 1.0))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ: :func:`pearson` of the :func:`average_ranks` of ``x`` and ``y``."""
    return pearson(average_ranks(np.asarray(x)), average_ranks(np.asarray(y)))


def similarity(
    model_or_vectors: WordVectors | HasWordVectors,
    path: PathLike,
    *,
    delimiter: str | None = None,
    case_insensitive: bool = True,
) -> dict[str, Any]:
    """Correlate ``cos(w1, w2) = ŵ1 · ŵ2`` with the human scores of the word pairs in ``path``.

    ``path`` is ``word1 word2 score`` per line (tab- or space-separated; see :func:`read_pairs`), e.g.
    ``bundled("wordsim353")``. Words are matched like gensim: upper-cased when ``case_insensitive``, the most
    frequent case variant standing for all. Pairs with an unknown word are left out and counted.

    Returns plain Python numbers: ``spearman``, ``pearson`` (NaN when fewer than 2 pairs are known),
    ``pairs`` (pairs evaluated), ``oov`` (pairs left out) and ``oov_ratio = 100 · oov / (pairs + oov)``.
    Raises ``ValueError`` when the file holds no pair at all.
    """
    vectors = as_word_vectors(model_or_vectors)
    pairs = read_pairs(path, delimiter)
    if not pairs:
        raise ValueError(f"{path}: no 'word1 word2 score' lines (delimiter {delimiter!r}; None = auto-detect)")
    lookup = word_lookup(vectors.tokens, case_insensitive)
    rows: list[tuple[int, int]] = []
    human: list[float] = []
    for word1, word2, score in pairs:
        row1 = lookup.get(lookup_key(word1, case_insensitive))
        row2 = lookup.get(lookup_key(word2, case_insensitive))
        if row1 is not None and row2 is not None:
            rows.append((row1, row2))
            human.append(score)
    unit = vectors.unit_vectors
    rows_array = np.array(rows, dtype=np.int64).reshape(-1, 2)
    model = np.einsum("ij,ij->i", unit[rows_array[:, 0]], unit[rows_array[:, 1]])
    oov = len(pairs) - len(rows)
    return {
        "spearman": spearman(np.array(human), model),
        "pearson": pearson(np.array(human), model),
        "pairs": len(rows),
        "oov": oov,
        "oov_ratio": 100.0 * oov / len(pairs),
    }
