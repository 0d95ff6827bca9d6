"""Phrases: word2phrase's score, its left-to-right joins, the table file, and the phrases in the pipeline.

The synthetic corpus plants collocations in random text: ``new york`` and ``los angeles`` always appear as
pairs, ``a1 b1 c1 d1`` as a four-word name, and the filler words are drawn independently, so any pair of
filler words scores about ``1 - min_count / E[count(ab)]`` < 1, far below the threshold of 100.
"""

from __future__ import annotations

import collections
import math
import random

import numpy as np
import pytest
import tensorflow as tf

from tfw2v import data
from tfw2v.text.phrase_join import PhraseJoiner, greedy_joins
from tfw2v.text.phrases import Phrases, PhrasesError
from tfw2v.text.tokenize import Tokenizer
from tfw2v.text.vocabulary import Vocabulary

PLANTED = [("new", "york"), ("los", "angeles")]
FOUR_WORDS = ["a1", "b1", "c1", "d1"]
FILLER = [f"w{i}" for i in range(60)]


def synthetic_lines(seed: int = 0, sentences: int = 1000) -> list[str]:
    """Sentences of 8–20 filler words (weights 1/(rank+1)); one in five holds a planted phrase."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(FILLER))]
    lines = []
    for _ in range(sentences):
        words = rng.choices(FILLER, weights, k=rng.randint(8, 20))
        if rng.random() < 0.2:
            at = rng.randint(0, len(words))
            planted = list(rng.choice(PLANTED)) if rng.random() < 0.7 else FOUR_WORDS
            words[at:at] = planted
        lines.append(" ".join(words))
    return lines


def counts_of(lines: list[str]) -> tuple[collections.Counter, collections.Counter, int]:
    """Word and within-line pair counts, computed independently of TensorFlow."""
    words, pairs = collections.Counter(), collections.Counter()
    for line in lines:
        tokens = line.split()
        words.update(tokens)
        pairs.update(zip(tokens, tokens[1:]))
    return words, pairs, sum(words.values())


def word2phrase_scan(tokens: list[str], phrases: set[tuple[str, str]], delimiter: str = "_") -> list[str]:
    """word2phrase's output loop for one sentence: a join of ``a b`` leaves ``b`` unable to start a pair."""
    out: list[str] = []
    previous_joinable = False
    for i, token in enumerate(tokens):
        if previous_joinable and (tokens[i - 1], token) in phrases:
            out[-1] = out[-1] + delimiter + token
            previous_joinable = False
        else:
            out.append(token)
            previous_joinable = True
    return out


@pytest.fixture(scope="module")
def corpus_lines() -> list[str]:
    return synthetic_lines()


@pytest.fixture(scope="module")
def corpus_file(corpus_lines, tmp_path_factory):
    path = tmp_path_factory.mktemp("phrases") / "synthetic.txt"
    path.write_text("\n".join(corpus_lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(corpus_file) -> Phrases:
    return Phrases.build(corpus_file, passes=2)


# ---- the score ---------------------------------------------------------------------------------------
def test_score_is_word2phrase_formula_for_planted_and_random_pairs(built, corpus_lines):
    words, pairs, n = counts_of(corpus_lines)
    frequent_filler_pairs = [p for p, c in pairs.most_common() if p[0] in FILLER and p[1] in FILLER][:20]
    for a, b in PLANTED + frequent_filler_pairs:
        expected = (pairs[a, b] - 5) / words[a] / words[b] * n
        assert built.score(a, b) == pytest.approx(expected, rel=1e-12), (a, b)


def test_npmi_score_is_normalized_pmi(corpus_file, corpus_lines):
    phrases = Phrases.build(corpus_file, scoring="npmi")
    words, pairs, n = counts_of(corpus_lines)
    for a, b in PLANTED + [("w0", "w1"), ("w1", "w0")]:
        p_ab = pairs[a, b] / n
        expected = math.log(p_ab / (words[a] / n * words[b] / n)) / -math.log(p_ab)
        assert phrases.score(a, b) == pytest.approx(expected, rel=1e-12), (a, b)
    assert set(PLANTED) <= {(p.left, p.right) for p in phrases.passes[0].phrases}
    assert phrases.threshold == 0.5


def test_planted_collocations_join_and_random_pairs_do_not(built, corpus_lines):
    _, pairs, _ = counts_of(corpus_lines)
    first = {(p.left, p.right) for p in built.passes[0].phrases}
    assert set(PLANTED) <= first
    filler_pairs = {p for p, c in pairs.items() if p[0] in FILLER and p[1] in FILLER and c >= 5}
    assert len(filler_pairs) > 500  # many random pairs are frequent enough to be scored…
    assert not first & filler_pairs  # …and none of them joins
    assert max(built.score(a, b) for a, b in filler_pairs) < 10.0  # threshold: 100


def test_rare_words_and_pairs_never_score(built):
    assert built.score("new", "w0") == -math.inf  # the pair is (almost) never seen
    assert built.score("unseen", "york") == -math.inf


def test_a_second_pass_joins_four_word_names(built):
    assert {(p.left, p.right) for p in built.passes[0].phrases} >= {("a1", "b1"), ("c1", "d1")}
    assert ("a1_b1", "c1_d1") in {(p.left, p.right) for p in built.passes[1].phrases}
    assert built.transform("w3 a1 b1 c1 d1 w4") == ["w3", "a1_b1_c1_d1", "w4"]
    assert built.passes[1].corpus_words < built.passes[0].corpus_words  # pass 2 reads the joined text


# ---- joining --------------------------------------------------------------------------------------------
def test_in_graph_joins_equal_word2phrase_scan_on_random_sentences():
    rng = random.Random(3)
    alphabet = ["x", "y", "z", "u"]
    phrases = {("x", "y"), ("y", "z"), ("z", "x"), ("y", "y"), ("u", "x")}
    sentences = [[rng.choice(alphabet) for _ in range(rng.randint(0, 12))] for _ in range(300)]
    joiner = PhraseJoiner([sorted(phrases)], "_")
    got = joiner(tf.ragged.constant(sentences, dtype=tf.string)).to_list()
    expected = [word2phrase_scan(s, phrases) for s in sentences]
    assert [[t.decode() for t in row] for row in got] == expected
    assert sum(len(s) for s in sentences) > sum(len(s) for s in expected)  # the check joined something


def test_greedy_joins_take_every_other_pair_of_a_run():
    joins = greedy_joins(tf.constant([True, True, True, False, True, True, False, False, True]))
    assert joins.numpy().tolist() == [True, False, True, False, True, False, False, False, True]


def test_a_pair_split_across_two_sentences_never_joins(tmp_path):
    lines = ["w1 new york w2"] * 20 + ["w3 new", "york w4"] * 30
    path = tmp_path / "split.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    phrases = Phrases.build(path, min_count=5, threshold=0.0)
    assert phrases.score("new", "york") == pytest.approx((20 - 5) / 50 / 50 * phrases.passes[0].corpus_words)
    joined = phrases.join(tf.ragged.constant([["w5", "new"], ["york", "w6"], ["new", "york"]])).to_list()
    assert joined == [[b"w5", b"new"], [b"york", b"w6"], [b"new_york"]]


# ---- the counting bound ---------------------------------------------------------------------------------
def test_the_counting_bound_prunes_rare_entries_but_keeps_frequent_phrases(corpus_file, built):
    bounded = Phrases.build(corpus_file, max_entries=400)
    assert bounded.passes[0].pruned_below >= 1
    assert built.passes[0].pruned_below == 0
    assert set(PLANTED) <= {(p.left, p.right) for p in bounded.passes[0].phrases}
    exact = {(p.left, p.right): p.count for p in built.passes[0].phrases}
    for p in bounded.passes[0].phrases:  # a pruned count restarts, so it can only be lower
        assert p.count <= exact.get((p.left, p.right), p.count)


# ---- the table file -------------------------------------------------------------------------------------
def test_save_and_load_give_the_same_table(built, tmp_path):
    path = tmp_path / "phrases.txt"
    built.save(path)
    loaded = Phrases.load(path)
    assert loaded == built
    assert loaded.score("new", "york") == built.score("new", "york")
    assert loaded.transform("w1 new york a1 b1 c1 d1") == built.transform("w1 new york a1 b1 c1 d1")
    with pytest.raises(KeyError, match="a loaded table keeps only its phrases"):
        loaded.score("w0", "w1")
    text = path.read_text(encoding="utf-8")
    assert "[pass 2]" in text and "\nnew york " in text  # readable: one "a b counts score" line a phrase


@pytest.mark.parametrize(
    "content, message",
    [
        ("word count\n", r":1: not a tfw2v phrases file"),
        ("# tfw2v phrases\nformat = 1\nscoring = word2vec\n", r": the setting 'threshold' is missing"),
        ("# tfw2v phrases\nformat = 1\nscoring = word2vec\nthreshold = 100\nmin_count = 5\ndelimiter = _\n"
         'tokenizer = {}\n\n[pass 1]\ncorpus_words = 10\npruned_below = 0\nnew york seven 1 1 2.0\n',
         r":12: count\(ab\) must be an integer"),
        ("# tfw2v phrases\nformat = 1\nscoring = word2vec\nthreshold = 100\nmin_count = 5\ndelimiter = _\n"
         'tokenizer = {}\n\n[pass 2]\n', r":9: expected \[pass 1\]"),
        ("# tfw2v phrases\nformat = 1\nscoring = word2vec\nthreshold = -4\nmin_count = 5\ndelimiter = _\n"
         'tokenizer = {}\n\n[pass 1]\ncorpus_words = 10\npruned_below = 0\n', r": threshold=-4.0: must be"),
        ("# tfw2v phrases\nformat = 1\nscoring = word2vec\nthreshold = 100\nmin_count = 5\ndelimiter = _\n"
         'tokenizer = {"lowercase": 3, "colour": 1}\n\n[pass 1]\n', r":7: bad tokenizer setting"),
    ],
)
def test_a_malformed_table_file_names_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PhrasesError, match=f"^{path}{message}"):
        Phrases.load(path)


def test_a_missing_table_file_is_named(tmp_path):
    with pytest.raises(PhrasesError, match=f"^{tmp_path / 'none.txt'}: no such phrases file"):
        Phrases.load(tmp_path / "none.txt")


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(threshold=-1.0), r"threshold=-1.0: must be a number >= 0"),
        (dict(scoring="npmi", threshold=1.0), r"threshold=1.0: npmi scores lie in \[-1, 1\]"),
        (dict(scoring="pmi"), r"scoring='pmi': expected one of word2vec, npmi"),
        (dict(min_count=0), r"min_count=0: must be an integer >= 1"),
        (dict(passes=0), r"passes=0: must be an integer >= 1"),
        (dict(max_entries=0), r"max_entries=0: must be an integer >= 1"),
    ],
)
def test_bad_options_name_the_parameter(corpus_file, options, message):
    with pytest.raises(PhrasesError, match=message):
        Phrases.build(corpus_file, **options)


# ---- the pipeline ---------------------------------------------------------------------------------------
def test_vocabulary_and_datasets_see_the_joined_tokens(corpus_file, built):
    vocab = Vocabulary.build(corpus_file, min_count=1, phrases=built)
    assert {"new_york", "los_angeles", "a1_b1_c1_d1"} <= set(vocab.tokens)
    assert "york" not in vocab and "angeles" not in vocab  # they only ever occur inside the phrase
    assert vocab.corpus_words == built.passes[-1].corpus_words - sum(p.count for p in built.passes[-1].phrases)
    for make in (data.skipgram_dataset, data.cbow_dataset):
        ids = set()
        for batch in make(corpus_file, vocab, batch_size=4096, sample=0, seed=1):
            ids.update(batch["inputs"].numpy().ravel().tolist())
            ids.update(batch["labels"].numpy().ravel().tolist())
        assert {vocab.id("new_york"), vocab.id("a1_b1_c1_d1")} <= ids


def test_a_tokenizer_other_than_the_phrases_one_is_refused(corpus_file, built):
    with pytest.raises(ValueError, match="differs from the tokenizer the phrases were detected with"):
        Vocabulary.build(corpus_file, phrases=built, tokenizer=Tokenizer(lowercase=True))
    assert Vocabulary.build(corpus_file, phrases=built).tokenizer == built.tokenizer


def test_phrases_follow_the_tokenizer(tmp_path):
    path = tmp_path / "cased.txt"
    path.write_text("\n".join(["w1 New York w2", "w3 new YORK"] * 20) + "\n", encoding="utf-8")
    phrases = Phrases.build(path, tokenizer=Tokenizer(lowercase=True), threshold=0.0)
    assert phrases.transform("NEW york w1") == ["new_york", "w1"]
    assert np.isfinite(phrases.score("new", "york"))
