"""Word analogies "a is to b as c is to d?" (Mikolov et al. 2013), answered and counted as gensim does.

Semantics are those of gensim 4's ``KeyedVectors.evaluate_word_analogies``:

* only the first ``restrict_vocab`` rows (vocabulary order = descending frequency) are used, both to look up
  the question words and as answer candidates;
* case-insensitive matching upper-cases questions and vocabulary; the first row of each upper-cased form
  stands for all of its case variants;
* a question with any word outside that vocabulary is skipped and counted, not scored;
* the three question rows are never candidates; of the 5 best remaining candidates the first one that is not
  a case variant of a question word is the answer (if all 5 are, gensim answers with the 5th, which is wrong).

The whole question set is scored with chunked matrix products over unit vectors.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tfw2v.evaluation.common import PathLike, bundled, lookup_key, numbered_lines, word_lookup
from tfw2v.training.vectors import HasWordVectors, WordVectors, as_word_vectors

SECTION_MARK = ": "
SYNTACTIC_PREFIX = "gram"
GENSIM_SHORTLIST = 5
COSMUL_EPSILON = 1e-6
CHUNK_SCORES = 1 << 23  # question × candidate scores held at once (32 MiB of float32)

Question = tuple[str, str, str, str]
Section = tuple[str, list[Question]]
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


def read_questions(path: PathLike) -> list[Section]:
    """Parse an analogy file into ``[(section_name, [(a, b, c, d), ...]), ...]`` in file order.

    The format is word2vec's ``questions-words.txt``: a ``: section-name`` line opens a section, each following
    line holds four whitespace-separated words. Blank lines are ignored; any other line, or a question before
    the first section, raises ``ValueError`` naming the file and line.
    """
    sections: list[Section] = []
    for line_no, line in numbered_lines(path):
        if line.startswith(SECTION_MARK):
            sections.append((line.lstrip(SECTION_MARK).strip(), []))
            continue
        words = line.split()
        if not words:
            continue
        if len(words) != 4:
            raise ValueError(f"{path}:{line_no}: expected ': section' or four words 'a b c d', got {line!r}")
        if not sections:
            raise ValueError(f"{path}:{line_no}: question before the first ': section' line")
        sections[-1][1].append((words[0], words[1], words[2], words[3]))
    return sections


def score_3cosadd(unit: np.ndarray, abc: np.ndarray) -> np.ndarray:
    """3CosAdd: ``score(x) = x̂ · (b̂ + ĉ − â) = cos(x, b) + cos(x, c) − cos(x, a)`` for every row ``x``.

    ``abc`` is ``[n, 3]`` rows of ``a, b, c``; returns ``[n, V]``. Same ranking as gensim's
    ``most_similar(positive=[b, c], negative=[a])``, which only rescales the query to unit length.
    """
    query = unit[abc[:, 1]] + unit[abc[:, 2]] - unit[abc[:, 0]]
    return query @ unit.T


def score_3cosmul(unit: np.ndarray, abc: np.ndarray) -> np.ndarray:
    """3CosMul (Levy & Goldberg 2014, eq. 4): ``score(x) = s(x, b) · s(x, c) / (s(x, a) + ε)``.

    ``s = (1 + cos) / 2`` shifts cosines into ``[0, 1]`` and ``ε = 1e-6``, as gensim's ``most_similar_cosmul``.
    Cosines are computed once per distinct question word of the chunk.
    """
    words, inverse = np.unique(abc, return_inverse=True)
    inverse = inverse.reshape(abc.shape)
    shifted = (1.0 + unit[words] @ unit.T) / 2.0
    scores = shifted[inverse[:, 1]] * shifted[inverse[:, 2]]
    scores /= shifted[inverse[:, 0]] + np.float32(COSMUL_EPSILON)
    return scores


SCORERS: dict[str, Scorer] = {"3cosadd": score_3cosadd, "3cosmul": score_3cosmul}


def gensim_answers(scores: np.ndarray, abc: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """The canonical row gensim answers for each question (``-1`` when there is no candidate at all).

    ``scores`` is ``[n, V]`` (overwritten), ``abc`` ``[n, 3]`` canonical question rows, and ``canonical[x]``
    the first row sharing row ``x``'s lookup key. gensim drops the three question rows, keeps the best
    ``k = min(5, V − #distinct(a, b, c))`` and answers with the first that is not a case variant of a
    question word. That is the best candidate outside those variants unless ``k`` variants outrank it; then
    it is the ``k``-th variant.
    """
    n, vocab_size = scores.shape
    np.put_along_axis(scores, abc, -np.inf, axis=1)
    variants = np.flatnonzero(canonical != np.arange(vocab_size))
    variant_scores = scores[:, variants]
    is_question_variant = (canonical[variants][None, :, None] == abc[:, None, :]).any(axis=2)
    scores[:, variants] = np.where(is_question_variant, -np.inf, variant_scores)
    best = scores.argmax(axis=1)
    best_score = scores[np.arange(n), best]
    answers = np.where(np.isfinite(best_score), canonical[best], -1)

    outranking = is_question_variant & (variant_scores > best_score[:, None])
    distinct = 1 + (abc[:, 1] != abc[:, 0]) + ((abc[:, 2] != abc[:, 0]) & (abc[:, 2] != abc[:, 1]))
    shortlist = np.minimum(GENSIM_SHORTLIST, vocab_size - distinct)
    for row in np.flatnonzero((outranking.sum(axis=1) >= shortlist) & (shortlist > 0)):
        crowd = variants[outranking[row]]
        ranked = crowd[np.argsort(-variant_scores[row, outranking[row]], kind="stable")]
        answers[row] = canonical[ranked[shortlist[row] - 1]]
    return answers


def solve(unit: np.ndarray, questions: np.ndarray, canonical: np.ndarray, scorer: Scorer) -> np.ndarray:
    """Whether each question ``[a, b, c, expected]`` (canonical rows of ``unit``) is answered correctly."""
    chunk = max(1, CHUNK_SCORES // max(1, len(unit)))
    correct = np.zeros(len(questions), dtype=bool)
    for start in range(0, len(questions), chunk):
        batch = questions[start : start + chunk]
        answers = gensim_answers(scorer(unit, batch[:, :3]), batch[:, :3], canonical)
        correct[start : start + chunk] = answers == batch[:, 3]
    return correct


def ratio(part: int, whole: int) -> float:
    """``part / whole``, and 0.0 for an empty ``whole`` (gensim's accuracy of an empty section)."""
    return float(part / whole) if whole else 0.0


def summarize(names: list[str], section_of: np.ndarray, correct: np.ndarray, skipped: np.ndarray) -> dict[str, Any]:
    """Totals, per-section counts, and semantic / syntactic (``gram*`` sections) accuracies."""
    sections: dict[str, dict[str, Any]] = {}
    for s, name in enumerate(names):
        entry = sections.setdefault(name, {"correct": 0, "total": 0, "skipped": 0})
        entry["correct"] += int(correct[section_of == s].sum())
        entry["total"] += int((section_of == s).sum())
        entry["skipped"] += int(skipped[s])
    for entry in sections.values():
        entry["accuracy"] = ratio(entry["correct"], entry["total"])
    syntactic = np.array([names[s].startswith(SYNTACTIC_PREFIX) for s in section_of], dtype=bool)
    return {
        "accuracy": ratio(int(correct.sum()), len(correct)),
        "correct": int(correct.sum()),
        "total": len(correct),
        "skipped": int(skipped.sum()),
        "semantic_accuracy": ratio(int(correct[~syntactic].sum()), int((~syntactic).sum())),
        "syntactic_accuracy": ratio(int(correct[syntactic].sum()), int(syntactic.sum())),
        "sections": sections,
    }


def analogies(
    model_or_vectors: WordVectors | HasWordVectors,
    path: PathLike | None = None,
    *,
    restrict_vocab: int | None = 30000,
    case_insensitive: bool = True,
    method: str = "3cosadd",
) -> dict[str, Any]:
    """Analogy accuracy on ``path`` (default: the bundled Google ``questions-words.txt``).

    For ``a : b :: c : ?`` the answer is ``argmax_x score(x)`` over the first ``restrict_vocab`` words (all
    words when ``None``) minus ``a, b, c``, with ``score`` :func:`score_3cosadd` (``method="3cosadd"``) or
    :func:`score_3cosmul` (``"3cosmul"``); see the module docstring for gensim's rules this follows.

    Returns plain Python numbers: ``accuracy = correct / total`` over evaluated questions, ``correct``,
    ``total``, ``skipped`` (questions with a word outside the vocabulary), ``semantic_accuracy``,
    ``syntactic_accuracy`` and ``sections``: ``{name: {correct, total, skipped, accuracy}}`` in file order.
    An accuracy over no questions is 0.0, as in gensim.
    """
    if method not in SCORERS:
        raise ValueError(f"unknown analogy method {method!r}; expected one of {sorted(SCORERS)}")
    vectors = as_word_vectors(model_or_vectors)
    sections = read_questions(bundled("questions-words") if path is None else path)
    tokens = vectors.tokens[:restrict_vocab]
    lookup = word_lookup(tokens, case_insensitive)
    canonical = np.array([lookup[lookup_key(token, case_insensitive)] for token in tokens], dtype=np.int64)

    resolved: list[list[int]] = []
    section_of: list[int] = []
    skipped = np.zeros(len(sections), dtype=np.int64)
    for s, (_, questions) in enumerate(sections):
        for question in questions:
            rows = [lookup.get(lookup_key(word, case_insensitive)) for word in question]
            if None in rows:
                skipped[s] += 1
            else:
                resolved.append(rows)
                section_of.append(s)

    questions = np.array(resolved, dtype=np.int64).reshape(-1, 4)
    correct = solve(vectors.unit_vectors[: len(tokens)], questions, canonical, SCORERS[method])
    return summarize([name for name, _ in sections], np.array(section_of, dtype=np.int64), correct, skipped)
