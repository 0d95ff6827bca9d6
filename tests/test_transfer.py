"""Training on: ``Vocabulary.updated``, ``transfer.grown`` (gensim's ``build_vocab(update=True)``) and
``transfer.from_vectors`` (gensim's ``intersect_word2vec_format``)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

import tfw2v
from tfw2v import Phrases, Tokenizer, Vocabulary, Word2Vec, WordVectors, data
from tfw2v.export import word2vec_format
from tfw2v.training import transfer

BUNDLED = Path(tfw2v.__file__).parent / "resources" / "enwiki-text8style-1.5M.txt.gz"
DIM = 50
SEED = 1
#: The word of corpus B that half of the occurrences of "three" become.
NEW_WORD, SUBSTITUTED = "trois", "three"


def fresh_bound(dim: int) -> float:
    return 1.0 / dim  # Word2Vec's default init_scale


# ---- Vocabulary.updated ---------------------------------------------------------------------------------
def test_updated_merges_counts_adds_frequent_new_words_and_keeps_the_canonical_order(write_corpus):
    old = Vocabulary.build(write_corpus(["a a a a b b b", "c c d"], "a.txt"), min_count=1,
                           tokenizer=Tokenizer(lowercase=True))
    assert list(zip(old.tokens, old.counts.tolist())) == [("a", 4), ("b", 3), ("c", 2), ("d", 1)]
    # Lower-cased by the old vocabulary's tokenizer: b 2, e 3, f 3, g 1, d 1, zz 2 (12 words).
    new_corpus = write_corpus(["B b F e E", "f F g", "d Zz zz e"], "b.txt")

    new = old.updated(new_corpus, min_count=2)

    # Old words: old + new counts ("a" is absent from B and keeps 4; "d" occurs once, below min_count, and
    # still gets it). New words: those with min_count in B ("g" has 1). Ties by UTF-8 bytes: e < f, c < d < zz.
    assert list(zip(new.tokens, new.counts.tolist())) == [
        ("b", 5), ("a", 4), ("e", 3), ("f", 3), ("c", 2), ("d", 2), ("zz", 2)
    ]
    order = sorted(zip(new.tokens, new.counts.tolist()), key=lambda tc: (-tc[1], tc[0].encode("utf-8")))
    assert new.tokens == [t for t, _ in order]
    assert new.corpus_words == 12  # the schedule of the next training runs over B
    assert new.added_tokens == 3
    assert new.tokenizer is old.tokenizer and new.phrases is None
    assert old.tokens == ["a", "b", "c", "d"] and old.counts.tolist() == [4, 3, 2, 1]  # untouched
    with pytest.raises(ValueError, match="min_count=0"):
        old.updated(new_corpus, min_count=0)


def test_updated_counts_the_new_corpus_with_the_vocabularys_phrases(tmp_path):
    old_corpus = tmp_path / "a.txt"
    old_corpus.write_text("\n".join([f"a{i % 10} new york b{i % 10}" for i in range(40)] + ["new b0"]) + "\n")
    phrases = Phrases.build(old_corpus, min_count=5, threshold=1.0)  # "new york" is the one phrase
    assert [p.left + " " + p.right for p in phrases.passes[0].phrases] == ["new york"]
    old = Vocabulary.build(old_corpus, min_count=1, phrases=phrases)
    new_corpus = tmp_path / "b.txt"
    new_corpus.write_text("new york w5\nnew york new york\nnew w5\n")

    new = old.updated(new_corpus, min_count=2)

    counts = dict(zip(new.tokens, new.counts.tolist()))
    old_counts = dict(zip(old.tokens, old.counts.tolist()))
    assert counts["new_york"] == old_counts["new_york"] + 3
    assert counts["new"] == old_counts["new"] + 1
    assert counts["w5"] == 2 and new.corpus_words == 6  # tokens after joining
    assert new.phrases is phrases


# ---- grown: rows move with their tokens ---------------------------------------------------------------
@pytest.mark.parametrize("loss", ["ns", "nce", "softmax", "hs"])
def test_grown_moves_every_old_row_with_its_token_and_starts_new_rows_fresh(write_corpus, loss):
    old_vocab = Vocabulary.build(write_corpus(["a a a a a b b b b c c c d d e"], "a.txt"), min_count=1)
    model = Word2Vec(old_vocab, dim=8, loss=loss, seed=3, negatives=2)
    initial = model.embeddings.copy()
    rng = np.random.default_rng(0)  # stand-ins for trained tables: distinct, non-zero rows
    model.input_embeddings.assign(rng.normal(size=(5, 8)).astype(np.float32))
    model.objective.output_embeddings.assign(rng.normal(size=(5, 8)).astype(np.float32))
    if hasattr(model.objective, "output_biases"):
        model.objective.output_biases.assign(rng.normal(size=5).astype(np.float32))
    # "x" (6) and "y" (3) are new and frequent; "e" (1 + 6) moves from last to second.
    vocab = old_vocab.updated(write_corpus(["x x x x x x y y y e e e e e e z"], "b.txt"), min_count=2)
    assert vocab.tokens == ["e", "x", "a", "b", "c", "y", "d"]

    new = transfer.grown(model, vocab)

    old_ids = np.arange(len(old_vocab))
    ids = np.array([vocab.id(t) for t in old_vocab.tokens])
    added = np.array([vocab.id(t) for t in ("x", "y")])
    np.testing.assert_array_equal(new.embeddings[ids], model.embeddings[old_ids])
    fresh = new.embeddings[added]
    assert np.all(np.abs(fresh) <= fresh_bound(8)) and np.all(fresh != 0)
    # Not the values the model's seeded initialiser gave the old rows (what Word2Vec(vocab, seed=3) would repeat).
    assert not np.any(np.isin(fresh, initial))
    output, old_output = new.objective.output_embeddings.numpy(), model.objective.output_embeddings.numpy()
    if loss == "hs":  # tree nodes: the tree is rebuilt from the merged counts and its table starts at zero
        assert not output.any()
        np.testing.assert_array_equal(new.objective.tree.codes, vocab.huffman().codes)
        np.testing.assert_array_equal(new.objective.tree.points, vocab.huffman().points)
    else:
        np.testing.assert_array_equal(output[ids], old_output)
        assert not output[added].any()
    if hasattr(model.objective, "output_biases"):
        biases = new.objective.output_biases.numpy()
        np.testing.assert_array_equal(biases[ids], model.objective.output_biases.numpy())
        assert not biases[added].any()
    expected = {**model.get_config(), "words_per_epoch": vocab.corpus_words}
    expected.pop("vocabulary_size", None)
    config = new.get_config()
    config.pop("vocabulary_size", None)
    assert config == expected
    assert new.vocabulary is vocab and not new.compiled and float(new.words_seen.numpy()) == 0.0


def test_grown_refuses_a_vocabulary_without_the_old_tokens_and_changes_to_the_tables(write_corpus):
    old_vocab = Vocabulary.build(write_corpus(["a a a b b c"], "a.txt"), min_count=1)
    model = Word2Vec(old_vocab, dim=4, seed=0)
    other = Vocabulary.build(write_corpus(["a a x x"], "b.txt"), min_count=1)
    with pytest.raises(ValueError, match=r"lacks 2 of the model's 3 tokens \(e\.g\. 'b', 'c'\).*updated"):
        transfer.grown(model, other)
    vocab = old_vocab.updated(write_corpus(["x x a"], "c.txt"), min_count=1)
    with pytest.raises(ValueError, match="dim=8: a grown model keeps the dim of its tables"):
        transfer.grown(model, vocab, dim=8)
    with pytest.raises(ValueError, match="loss='hs'"):
        transfer.grown(model, vocab, loss="hs")
    tuned = transfer.grown(model, vocab, alpha=0.01, words_per_epoch=100)
    assert tuned.alpha == 0.01 and tuned.words_per_epoch == 100


# ---- grown: training on ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> tuple[str, str]:
    """A: the bundled corpus's first 300k words. B: its next 150k words, in which every other "three" is
    "trois", a word A never saw, in the contexts of "three"."""
    with gzip.open(BUNDLED, "rt", encoding="utf-8") as f:
        words = f.read().split()[:450_000]
    later = words[300_000:]
    threes = [i for i, w in enumerate(later) if w == SUBSTITUTED]
    for i in threes[::2]:
        later[i] = NEW_WORD
    folder = tmp_path_factory.mktemp("transfer")
    a, b = folder / "a.txt", folder / "b.txt"
    a.write_text(" ".join(words[:300_000]) + "\n")
    b.write_text(" ".join(later) + "\n")
    return str(a), str(b)


@pytest.fixture(scope="module")
def trained(corpora) -> Word2Vec:
    """Skip-gram NS, dim 50, trained 5 epochs on A."""
    vocab = Vocabulary.build(corpora[0], min_count=5)
    model = Word2Vec(vocab, dim=DIM, seed=SEED)
    model.compile()
    model.fit(data.skipgram_dataset(corpora[0], vocab, batch_size=512, seed=SEED), epochs=5, verbose=0)
    return model


def neighbours(vectors: WordVectors, word: str, k: int) -> set[str]:
    return {w for w, _ in vectors.most_similar(word, k)}


def test_a_grown_model_keeps_old_neighbours_and_places_the_new_word(corpora, trained):
    before = trained.word_vectors()
    vocab = trained.vocabulary.updated(corpora[1], min_count=5)
    assert NEW_WORD in vocab and NEW_WORD not in trained.vocabulary
    model = transfer.grown(trained, vocab, alpha=0.01)  # fine-tuning's usual lower rate
    model.compile()
    model.fit(data.skipgram_dataset(corpora[1], vocab, batch_size=512, seed=SEED), epochs=5, verbose=0)
    after = model.word_vectors()
    # Old rows among old rows only, so the new words do not count as lost neighbours.
    old = WordVectors(before.tokens, np.stack([after[t] for t in before.tokens]))

    # Words ranked 20-219 in A (counts ~100-500). Measured, seeds 1-5 (Hogwild: +-0.005 between runs): of
    # A's top 10, the grown model's top 10 holds 0.41-0.43, its top 50 0.71-0.72. For scale: a model trained
    # on B from scratch (5 epochs at alpha 0.025) keeps 0.09-0.11 and 0.18-0.20; A retrained with another
    # seed 0.55-0.56 and 0.87-0.88 (the noise ceiling of top-10 lists on 300k words).
    queries = before.tokens[20:220]
    top10 = np.mean([len(neighbours(before, q, 10) & neighbours(old, q, 10)) / 10 for q in queries])
    top50 = np.mean([len(neighbours(before, q, 10) & neighbours(old, q, 50)) / 10 for q in queries])
    assert top10 > 0.3 and top50 > 0.6, (top10, top50)

    # The new word learnt the place of the word it stands for: measured, seeds 1-5, "three" ranks 0-3 among
    # its neighbours, and 4-9 of its top 10 are "three" or A's top 10 of "three" (number words).
    found = [w for w, _ in after.most_similar(NEW_WORD, 10)]
    family = {SUBSTITUTED} | neighbours(before, SUBSTITUTED, 10)
    assert SUBSTITUTED in found and len(family.intersection(found)) >= 3, found


# ---- from_vectors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_warm_start_from_its_own_export_reproduces_the_model(tmp_path, trained, binary):
    path = word2vec_format(trained, tmp_path / "vectors.txt", binary=binary)

    model = transfer.from_vectors(path, trained.vocabulary, seed=SEED + 1)

    assert model.dim == DIM and model.warm_started_rows == len(trained.vocabulary)
    np.testing.assert_array_equal(model.embeddings, trained.embeddings)
    for word in ("three", "war", "city", "king"):
        assert model.most_similar(word) == trained.most_similar(word)
    assert not model.objective.output_embeddings.numpy().any() and not model.compiled


def test_warm_start_with_another_dimension_names_the_file_and_both(tmp_path, trained):
    path = word2vec_format(trained, tmp_path / "vectors.bin", binary=True)
    with pytest.raises(ValueError, match=re.escape(str(path)) + r": the file's vectors have dimension 50, but "
                                         r"dim=40 was asked for"):
        transfer.from_vectors(path, trained.vocabulary, dim=40)


def test_warm_start_leaves_words_missing_from_the_file_fresh(tmp_path, trained):
    vocab = trained.vocabulary
    head = trained.word_vectors().vectors[:100]
    extra = np.full((1, DIM), 7.0, np.float32)  # a file word outside the vocabulary is ignored
    path = word2vec_format(WordVectors(vocab.tokens[:100] + ["notavocabularyword"], np.vstack([head, extra])),
                           tmp_path / "head.txt")

    model = transfer.from_vectors(path, vocab, seed=7, loss="hs")

    assert model.warm_started_rows == 100
    np.testing.assert_array_equal(model.embeddings[:100], head)
    fresh = Word2Vec(vocab, dim=DIM, seed=7, loss="hs").embeddings
    np.testing.assert_array_equal(model.embeddings[100:], fresh[100:])
    assert np.all(np.abs(model.embeddings[100:]) <= fresh_bound(DIM))
