"""``.keras`` files: every objective and both architectures serialize, save and load (in this process and in a
fresh one) with their vocabulary and word counts as assets, and a loaded model trains on."""

from __future__ import annotations

import json
import textwrap

import keras
import numpy as np
import pytest

from conftest import bundled_slice
from keras_saving_harness import load_in_fresh_process, run_saving_test, run_serialization_test
from tfw2v import Vocabulary, Word2Vec, data, losses
from tfw2v.names import OBJECTIVES

COUNTS = np.array([50, 40, 30, 20, 10, 9, 8, 7, 3, 2], dtype=np.int64)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    """The first 30k words of the bundled corpus."""
    return bundled_slice(tmp_path_factory.mktemp("corpus"), 30_000)


@pytest.fixture(scope="module")
def vocab(corpus) -> Vocabulary:
    return Vocabulary.build(corpus, min_count=3)


def dataset(corpus, vocab, architecture, seed=3):
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    return make(corpus, vocab, batch_size=256, seed=seed)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_every_objective_serializes_and_saves_with_its_counts(name, tmp_path):
    objective = losses.get(name, vocab_size=len(COUNTS), dim=4, counts=COUNTS, negatives=3, seed=2)
    run_serialization_test(objective)
    loaded = run_saving_test(objective, tmp_path / f"{name}.keras").layers[0]
    assert type(loaded) is type(objective)
    if objective.needs_counts:
        np.testing.assert_array_equal(loaded.counts, COUNTS)
    if name == "hs":
        np.testing.assert_array_equal(loaded.tree.points, objective.tree.points)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
@pytest.mark.parametrize("loss", OBJECTIVES)
def test_word2vec_serializes_and_saves_for_every_objective(architecture, loss, vocab, tmp_path):
    model = Word2Vec(vocab, dim=8, architecture=architecture, loss=loss, seed=1)
    config = model.get_config()
    assert config["vocabulary_size"] == len(vocab) and config["loss"] == loss
    json.dumps(config)
    loaded = run_saving_test(model, tmp_path / "w2v.keras")
    assert isinstance(loaded, Word2Vec)
    assert loaded.vocabulary.tokens == vocab.tokens
    np.testing.assert_array_equal(loaded.vocabulary.counts, vocab.counts)
    assert loaded.vocabulary.corpus_words == vocab.corpus_words
    assert loaded.vocabulary.tokenizer == vocab.tokenizer
    assert loaded.most_similar(vocab.tokens[5], k=5) == model.most_similar(vocab.tokens[5], k=5)


def test_a_config_alone_is_not_a_model_with_a_vocabulary(vocab):
    rebuilt = Word2Vec.from_config(Word2Vec(vocab, dim=8).get_config())
    with pytest.raises(ValueError, match="vocabulary"):
        rebuilt.most_similar("the")


def test_load_refuses_a_keras_file_that_is_not_a_word2vec(tmp_path):
    path = tmp_path / "other.keras"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(path)
    with pytest.raises(ValueError, match="not a tfw2v Word2Vec"):
        Word2Vec.load(path)


FRESH = textwrap.dedent("""
    import json, sys
    import keras, numpy as np
    from tfw2v import Word2Vec, data
    model = keras.models.load_model(sys.argv[1] if len(sys.argv) > 1 else {path!r})
    before = model.embeddings.copy()
    result = {{"type": type(model).__name__, "embeddings_sum": float(np.float64(before).sum()),
              "tokens": model.vocabulary.tokens[:50], "similar": model.most_similar({probe!r}, k=5),
              "compiled": model.compiled, "iterations": int(model.optimizer.iterations.numpy())}}
    make = data.skipgram_dataset if model.architecture == "skipgram" else data.cbow_dataset
    history = model.fit(make({corpus!r}, model.vocabulary, batch_size=256, seed=4), epochs=1, verbose=0)
    result["loss"] = float(history.history["loss"][-1])
    result["moved"] = float(np.abs(model.embeddings - before).max())
    print(json.dumps(result))
""")


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
@pytest.mark.parametrize("loss", ["ns", "hs", "softmax"])
def test_a_fresh_process_loads_the_model_and_trains_on(architecture, loss, corpus, vocab, tmp_path):
    model = Word2Vec(vocab, dim=16, architecture=architecture, loss=loss, seed=1)
    model.compile()
    first = model.fit(dataset(corpus, vocab, architecture), epochs=1, verbose=0)
    path = tmp_path / "trained.keras"
    model.save(path)
    probe = vocab.tokens[10]
    result = load_in_fresh_process(FRESH.format(path=str(path), probe=probe, corpus=corpus))
    assert result["type"] == "Word2Vec"
    assert result["embeddings_sum"] == pytest.approx(float(np.float64(model.embeddings).sum()), rel=1e-12)
    assert result["tokens"] == vocab.tokens[:50]
    assert [(w, pytest.approx(s, abs=1e-6)) for w, s in result["similar"]] == model.most_similar(probe, k=5)
    assert result["compiled"] and result["iterations"] == int(model.optimizer.iterations.numpy())
    assert np.isfinite(result["loss"]) and result["loss"] <= first.history["loss"][-1] * 1.05
    assert result["moved"] > 0
