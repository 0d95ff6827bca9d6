"""tfw2v.evaluate: analogies and word-pair similarity, checked on known answers and against gensim."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from gensim.models import KeyedVectors
from scipy import stats

from tfw2v.evaluate import EvaluationCallback, analogies, bundled, similarity
from tfw2v.evaluation.similarity import average_ranks, pearson, read_pairs, spearman
from tfw2v.training.vectors import WordVectors

DIM = 32
SIMILARITY_SETS = {"wordsim353": "\t", "simlex999": "\t", "men": " "}

# ---------------------------------------------------------------------------------------------------------
# Hand-built vectors whose analogy answers are known.
#
# Section "capital-world": country_i = e_i, capital_i = (e_i + r)/√2, except "broken" capitals whose vector
# (e'_i − e_i/2) carries no r. For "country_i capital_i country_j capital_j" the query b̂ + ĉ − â scores
# capital_j at 1/√2 (1/√2 + 1) or 1/√2 when it is intact and ≤ 0 when broken, while every other candidate
# scores ≤ 1/2 resp. 0, so exactly the questions with an intact capital_j are right: (n − broken)(n − 1).
# Section "gram8-plural" is built the same way in other dimensions.
# ---------------------------------------------------------------------------------------------------------

COUNTRIES = ["france", "spain", "italy", "japan", "chile"]
CAPITALS = ["paris", "madrid", "rome", "tokyo", "santiago"]  # tokyo and santiago are broken
SINGULARS = ["cat", "dog", "cow", "pig"]
PLURALS = ["cats", "dogs", "cows", "pigs"]  # pigs is broken
KNOWN_DIM = 20


def relation_vectors(firsts: list[str], seconds: list[str], broken: int, offset: int) -> dict[str, np.ndarray]:
    """``first_i = e_i``, intact ``second_i = e_i + r``, the last ``broken`` seconds ``e'_i − e_i / 2``.

    Uses the ``2 n + 1`` basis vectors from ``offset`` on.
    """
    n = len(firsts)
    basis = np.eye(KNOWN_DIM)[offset : offset + 2 * n + 1]
    relation = basis[n]
    table = {}
    for i, (first, second) in enumerate(zip(firsts, seconds)):
        table[first] = basis[i]
        intact = i < n - broken
        table[second] = basis[i] + relation if intact else basis[n + 1 + i] - basis[i] / 2
    return table


@pytest.fixture
def known() -> WordVectors:
    table = relation_vectors(COUNTRIES, CAPITALS, broken=2, offset=0)
    table |= relation_vectors(SINGULARS, PLURALS, broken=1, offset=2 * len(COUNTRIES) + 1)
    tokens = [w for w in table if w != "santiago"] + ["santiago"]
    return WordVectors(tokens, np.stack([table[w] for w in tokens]))


def question_lines(firsts: list[str], seconds: list[str]) -> list[str]:
    """All ``a b c d`` questions over ordered pairs of distinct pairs."""
    pairs = itertools.permutations(range(len(firsts)), 2)
    return [f"{firsts[i]} {seconds[i]} {firsts[j]} {seconds[j]}" for i, j in pairs]


@pytest.fixture
def known_questions(tmp_path: Path) -> Path:
    capitalised = question_lines([w.title() for w in COUNTRIES], [w.title() for w in CAPITALS])
    lines = [": capital-world", *capitalised, "Atlantis Xanadu France Paris", "", ": gram8-plural"]
    lines += question_lines(SINGULARS, PLURALS)
    path = tmp_path / "eval_questions.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_known_answers(known: WordVectors, known_questions: Path) -> None:
    result = analogies(known, known_questions)
    assert result["sections"] == {
        "capital-world": {"correct": 12, "total": 20, "skipped": 1, "accuracy": 0.6},
        "gram8-plural": {"correct": 9, "total": 12, "skipped": 0, "accuracy": 0.75},
    }
    assert (result["correct"], result["total"], result["skipped"]) == (21, 32, 1)
    assert result["accuracy"] == 21 / 32
    assert (result["semantic_accuracy"], result["syntactic_accuracy"]) == (0.6, 0.75)
    json.dumps(result, allow_nan=False)


def test_case_sensitive_skips_capitalised_questions(known: WordVectors, known_questions: Path) -> None:
    result = analogies(known, known_questions, case_insensitive=False)
    assert (result["correct"], result["total"], result["skipped"]) == (9, 12, 21)
    assert result["semantic_accuracy"] == 0.0


def test_restrict_vocab_skips_questions_beyond_it(known: WordVectors, known_questions: Path) -> None:
    result = analogies(known, known_questions, restrict_vocab=len(known) - 1)  # drops "santiago"
    assert result["sections"]["capital-world"] == {"correct": 9, "total": 12, "skipped": 9, "accuracy": 0.75}
    assert (result["correct"], result["total"]) == (18, 24)


def test_restrict_vocab_limits_candidates(tmp_path: Path) -> None:
    e = np.eye(4)
    query = (e[0] + e[1]) / np.sqrt(2) + e[2] - e[0]
    vectors = WordVectors(["a", "b", "c", "d", "decoy"], [e[0], e[0] + e[1], e[2], e[1] + e[2], query])
    path = tmp_path / "eval_decoy.txt"
    path.write_text(": s\na b c d\na b c decoy\n")
    full = analogies(vectors, path, restrict_vocab=None)
    assert (full["correct"], full["total"], full["skipped"]) == (1, 2, 0)  # the decoy answers both
    restricted = analogies(vectors, path, restrict_vocab=4)
    assert (restricted["correct"], restricted["total"], restricted["skipped"]) == (1, 1, 1)


def test_accepts_a_model_with_word_vectors(known: WordVectors, known_questions: Path) -> None:
    class Trained:
        def word_vectors(self) -> WordVectors:
            return known

    assert analogies(Trained(), known_questions) == analogies(known, known_questions)


# ---------------------------------------------------------------------------------------------------------
# Agreement with gensim on the bundled sets, with vectors where answers are sometimes right: least-squares
# vectors v with v(y) − v(x) ≈ r_section for every (x, y) pair of questions-words.txt, pulled towards random
# bases, plus noise, random filler words and case variants (some before their word, up to 7 per word) close
# to their word so that they crowd gensim's 5-candidate shortlist.
# ---------------------------------------------------------------------------------------------------------


def analogy_pairs() -> tuple[list[tuple[str, str, int]], int]:
    pairs, section = set(), -1
    for line in bundled("questions-words").read_text().splitlines():
        if line.startswith(": "):
            section += 1
        else:
            a, b, c, d = line.lower().split()
            pairs |= {(a, b, section), (c, d, section)}
    return sorted(pairs), section + 1


def relational_vectors(rng: np.random.Generator, pull: float = 1.0, noise: float = 0.3) -> dict[str, np.ndarray]:
    """``argmin Σ ‖v_y − v_x − r_s‖² + pull · Σ ‖v_w − base_w‖²`` plus Gaussian noise."""
    pairs, n_sections = analogy_pairs()
    words = sorted({w for x, y, _ in pairs for w in (x, y)})
    index = {w: i for i, w in enumerate(words)}
    system = np.zeros((len(pairs) + len(words), len(words) + n_sections))
    for k, (x, y, s) in enumerate(pairs):
        system[k, [index[y], index[x], len(words) + s]] = [1, -1, -1]
    system[len(pairs) + np.arange(len(words)), np.arange(len(words))] = np.sqrt(pull)
    target = np.concatenate([np.zeros((len(pairs), DIM)), np.sqrt(pull) * rng.standard_normal((len(words), DIM))])
    solution = np.linalg.lstsq(system, target, rcond=None)[0][: len(words)]
    return dict(zip(words, solution + noise * rng.standard_normal(solution.shape)))


def case_variants(word: str, count: int, rng: np.random.Generator) -> set[str]:
    variants: set[str] = set()
    while len(variants) < count:
        variant = "".join(c.upper() if rng.random() < 0.5 else c for c in word)
        if variant != word:
            variants.add(variant)
    return variants


@pytest.fixture(scope="module")
def structured() -> WordVectors:
    rng = np.random.default_rng(0)
    table = relational_vectors(rng)
    question_words = list(table)
    pairs = [pair for name in SIMILARITY_SETS for pair in read_pairs(bundled(name))]
    pair_words = sorted({w.lower() for a, b, _ in pairs for w in (a, b)})
    table |= {w: rng.standard_normal(DIM) for i, w in enumerate(pair_words) if i % 10 and w not in table}
    table |= {f"filler{i}": rng.standard_normal(DIM) for i in range(2000)}
    tokens = list(table)
    rng.shuffle(tokens)
    vectors = [table[w] for w in tokens]
    for k, word in enumerate(rng.choice(question_words, 40, replace=False)):
        for variant in sorted(case_variants(word, 1 + k % 7, rng)):
            row = int(rng.integers(0, len(tokens)))
            tokens.insert(row, variant)
            vectors.insert(row, table[word] + 0.05 * rng.standard_normal(DIM))
    return WordVectors(tokens, np.stack(vectors))


def gensim_vectors(vectors: WordVectors, rows: int | None = None) -> KeyedVectors:
    keyed = KeyedVectors(vectors.dim)
    keyed.add_vectors(vectors.tokens[:rows], vectors.vectors[:rows])
    return keyed


@pytest.mark.parametrize(("restrict_vocab", "case_insensitive"), [(4000, True), (None, True), (4000, False)])
def test_3cosadd_matches_gensim(structured: WordVectors, restrict_vocab: int | None, case_insensitive: bool) -> None:
    ours = analogies(structured, restrict_vocab=restrict_vocab, case_insensitive=case_insensitive)
    score, sections = gensim_vectors(structured).evaluate_word_analogies(
        bundled("questions-words"), restrict_vocab=restrict_vocab or len(structured), case_insensitive=case_insensitive
    )
    theirs = {s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections}
    assert theirs.pop("Total accuracy") == (ours["correct"], ours["total"])
    assert theirs == {name: (s["correct"], s["total"]) for name, s in ours["sections"].items()}
    assert ours["accuracy"] == pytest.approx(score, abs=1e-12)
    assert ours["total"] + ours["skipped"] == 19544
    assert 0.05 < ours["accuracy"] < 0.5 and ours["correct"] > 1000  # a meaningful mix of right and wrong


def gensim_cosmul_correct(keyed: KeyedVectors, path: Path) -> tuple[int, int]:
    """gensim's ``evaluate_word_analogies`` loop (case-insensitive) with ``most_similar_cosmul``."""
    lookup: dict[str, int] = {}
    for row, key in enumerate(keyed.index_to_key):
        lookup.setdefault(key.upper(), row)
    keyed.key_to_index = lookup
    correct = total = 0
    for line in path.read_text().splitlines():
        if line.startswith(": "):
            continue
        a, b, c, expected = line.upper().split()
        if not all(w in lookup for w in (a, b, c, expected)):
            continue
        for predicted, _ in keyed.most_similar_cosmul(positive=[b, c], negative=[a], topn=5):
            if predicted.upper() not in (a, b, c):
                break
        total += 1
        correct += predicted.upper() == expected
    return correct, total


def test_3cosmul_matches_gensim(structured: WordVectors) -> None:
    rows = 4000  # most_similar_cosmul has no restrict_vocab: hand it the restricted vocabulary
    ours = analogies(structured, restrict_vocab=rows, method="3cosmul")
    assert gensim_cosmul_correct(gensim_vectors(structured, rows), bundled("questions-words")) == (
        ours["correct"],
        ours["total"],
    )
    assert ours["correct"] > 300


@pytest.mark.parametrize("name", sorted(SIMILARITY_SETS))
def test_similarity_matches_gensim(structured: WordVectors, name: str) -> None:
    ours = similarity(structured, bundled(name))
    (pearson, _), (spearman, _), oov_ratio = gensim_vectors(structured).evaluate_word_pairs(
        bundled(name), delimiter=SIMILARITY_SETS[name]
    )
    assert ours["pearson"] == pytest.approx(pearson, abs=1e-6)
    # Both take float32 cosines, from different dot-product kernels, so two nearly tied cosines can come out in
    # either order: one swap of adjacent ranks moves ρ by at most 12(n−1)/(n³−n) ≈ 1.8e-5 for n = 815 pairs.
    n = ours["pairs"]
    assert ours["spearman"] == pytest.approx(spearman, abs=2 * 12 * (n - 1) / (n**3 - n))
    assert ours["oov_ratio"] == pytest.approx(oov_ratio, abs=1e-9)
    assert ours["oov"] > 0 and ours["pairs"] > 0
    assert ours["oov"] + ours["pairs"] == {"wordsim353": 353, "simlex999": 999, "men": 3000}[name]
    json.dumps(ours, allow_nan=False)


# ---------------------------------------------------------------------------------------------------------
# Similarity details and errors.
# ---------------------------------------------------------------------------------------------------------


def test_average_ranks_and_spearman_with_ties() -> None:
    assert average_ranks(np.array([10.0, 20.0, 20.0, 5.0])).tolist() == [2.0, 3.5, 3.5, 1.0]
    rng = np.random.default_rng(1)
    human, model = rng.integers(0, 5, 200).astype(float), rng.integers(0, 4, 200).astype(float)
    assert spearman(human, model) == pytest.approx(stats.spearmanr(human, model)[0], abs=1e-12)
    assert pearson(human, model) == pytest.approx(stats.pearsonr(human, model)[0], abs=1e-12)


def test_similarity_auto_detects_space_and_tab(tmp_path: Path) -> None:
    vectors = WordVectors(["a", "b", "c", "d"], np.array([[1, 0], [1, 1], [0, 1], [-1, 0]], dtype=np.float32))
    spaced = tmp_path / "eval_pairs.txt"
    spaced.write_text("word1 word2 score\n# comment\na b 3\na c 2\nb D 1.5\na zzz 4\n\n")
    tabbed = tmp_path / "eval_pairs.tsv"
    tabbed.write_text("# w1\tw2\tscore\na\tb\t3\na\tc\t2\nb\tD\t1.5\na\tzzz\t4\n")
    expected = {"spearman": 1.0, "pairs": 3, "oov": 1, "oov_ratio": 25.0}
    for path in (spaced, tabbed):
        result = similarity(vectors, path)
        assert {k: result[k] for k in expected} == pytest.approx(expected)
    assert similarity(vectors, spaced, case_insensitive=False)["oov"] == 2


def test_similarity_of_unrelated_vocabulary_is_nan() -> None:
    result = similarity(WordVectors(["x"], np.ones((1, 2))), bundled("wordsim353"))
    assert (result["pairs"], result["oov"], result["oov_ratio"]) == (0, 353, 100.0)
    assert np.isnan(result["spearman"]) and np.isnan(result["pearson"])


def test_errors_name_the_file_and_line(tmp_path: Path, known: WordVectors) -> None:
    missing = tmp_path / "eval_missing.txt"
    with pytest.raises(FileNotFoundError, match="eval_missing.txt"):
        analogies(known, missing)
    with pytest.raises(FileNotFoundError, match="eval_missing.txt"):
        similarity(known, missing)
    malformed = tmp_path / "eval_malformed.txt"
    malformed.write_text(": s\nfrance paris spain madrid\nfrance paris spain\n")
    with pytest.raises(ValueError, match=r"eval_malformed.txt:3: .*'france paris spain'"):
        analogies(known, malformed)
    headless = tmp_path / "eval_headless.txt"
    headless.write_text("\nfrance paris spain madrid\n")
    with pytest.raises(ValueError, match=r"eval_headless.txt:2: question before"):
        analogies(known, headless)
    binary = tmp_path / "eval_binary.txt"
    binary.write_bytes(b": s\n\xff\xfe a b c\n")
    with pytest.raises(ValueError, match=r"eval_binary.txt:2: not valid UTF-8"):
        analogies(known, binary)
    pairless = tmp_path / "eval_pairless.txt"
    pairless.write_text("# word1 word2 score\nfrance paris\n")
    with pytest.raises(ValueError, match=r"eval_pairless.txt: no 'word1 word2 score' lines"):
        similarity(known, pairless)
    with pytest.raises(ValueError, match="unknown analogy method"):
        analogies(known, method="3cosavg")
    with pytest.raises(ValueError, match="unknown bundled evaluation set"):
        bundled("toefl")


def test_bundled_files_are_the_documented_ones() -> None:
    sizes = {"questions-words": 603955, "wordsim353": 7186, "simlex999": 18126, "men": 69876}
    assert {name: bundled(name).stat().st_size for name in sizes} == sizes


# ---------------------------------------------------------------------------------------------------------
# The Keras callback.
# ---------------------------------------------------------------------------------------------------------


class TinyEmbeddingModel(keras.Model):
    """Mean of token embeddings → one logit; exposes its embeddings as :class:`WordVectors`."""

    def __init__(self, tokens: list[str]):
        super().__init__()
        self.tokens = tokens
        self.embedding = keras.layers.Embedding(len(tokens), 8)
        self.logit = keras.layers.Dense(1)

    def call(self, ids):
        return self.logit(keras.ops.mean(self.embedding(ids), axis=1))

    def word_vectors(self) -> WordVectors:
        return WordVectors(self.tokens, keras.ops.convert_to_numpy(self.embedding.embeddings))


def test_callback_adds_scores_to_history(known_questions: Path) -> None:
    pair_words = [w for a, b, _ in read_pairs(bundled("wordsim353"))[:60] for w in (a.lower(), b.lower())]
    tokens = list(dict.fromkeys(COUNTRIES + CAPITALS + SINGULARS + PLURALS + pair_words))
    model = TinyEmbeddingModel(tokens)
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    ids, labels = rng.integers(0, len(tokens), (64, 3)), rng.integers(0, 2, (64, 1)).astype("float32")
    callback = EvaluationCallback(known_questions, {"wordsim353": bundled("wordsim353")}, every=2)

    history = model.fit(ids, labels, epochs=3, batch_size=32, verbose=0, callbacks=[callback])

    assert len(history.history["loss"]) == 3
    for key in ("analogy_accuracy", "analogy_semantic_accuracy", "analogy_syntactic_accuracy", "wordsim353_spearman"):
        assert len(history.history[key]) == 2, key  # epochs 2 and 3 (the last)
    assert [r["epoch"] for r in callback.results] == [1, 2]
    assert callback.results[-1]["analogies"]["total"] == 32
    known_pairs = sum(a.lower() in tokens and b.lower() in tokens for a, b, _ in read_pairs(bundled("wordsim353")))
    assert callback.results[-1]["similarity"]["wordsim353"]["pairs"] == known_pairs >= 60
    assert history.history["analogy_accuracy"][-1] == callback.results[-1]["analogies"]["accuracy"]


def test_callback_defaults_cover_all_bundled_sets() -> None:
    callback = EvaluationCallback()
    assert set(callback.similarity_paths) == {"wordsim353", "simlex999", "men"}
    assert callback.analogy_path == bundled("questions-words")
    with pytest.raises(ValueError, match="every"):
        EvaluationCallback(every=0)
