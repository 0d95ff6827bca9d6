"""A model trained with phrases keeps them: its SavedModel joins "new york" in-graph for a process that imports
only TensorFlow, and its word2vec and projector exports carry the joined tokens."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_export_saved_model import LOAD_AND_QUERY, run_python
from tfw2v import Word2Vec, data
from tfw2v.export import projector, read_word2vec_format, saved_model, word2vec_format
from tfw2v.text.phrases import Phrases
from tfw2v.text.tokenize import Tokenizer
from tfw2v.text.vocabulary import Vocabulary


def sqrtn(rows: list[np.ndarray]) -> np.ndarray:
    """The signatures' sentence vector ``Σv / √n``."""
    return np.sum(rows, axis=0) / np.sqrt(len(rows))


@pytest.fixture(scope="module")
def trained(lee_path) -> Word2Vec:
    """One epoch on the Lee corpus, lower-cased, with one phrase pass (``new_york``, ``united_states``…)."""
    phrases = Phrases.build(lee_path, tokenizer=Tokenizer(lowercase=True))
    vocab = Vocabulary.build(lee_path, min_count=3, phrases=phrases)
    model = Word2Vec(vocab, dim=16, seed=3)
    model.compile()
    model.fit(data.skipgram_dataset(lee_path, vocab, batch_size=256, seed=3), epochs=1, verbose=0)
    return model


def test_the_model_records_its_phrases(trained):
    assert {"new_york", "united_states", "prime_minister"} <= set(trained.vocabulary.tokens)
    assert trained.word_vectors().phrases is trained.vocabulary.phrases


def test_saved_model_joins_phrases_in_graph_for_a_tensorflow_only_process(trained, tmp_path):
    vectors = trained.word_vectors()
    exported = saved_model(trained, tmp_path / "serving")
    queries = {"sentences": ["New York", "new york is the", "york new", "new"], "k": [3],
               "tokens": ["new york", "New  York", "new_york", "york"], "pairs": [("new york", "new_york")]}
    result = run_python(LOAD_AND_QUERY, str(exported), json.dumps(queries))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["imported"] == [] and out["non_core_ops"] == []
    embeddings = np.array(out["embeddings"])
    np.testing.assert_allclose(embeddings[0], vectors["new_york"], atol=1e-6)
    np.testing.assert_allclose(embeddings[1], sqrtn([vectors[w] for w in ("new_york", "is", "the")]), atol=1e-6)
    york = vectors["york"] if "york" in vectors else np.zeros(vectors.dim)  # OOV: a bucket that starts at zero
    np.testing.assert_allclose(embeddings[2], sqrtn([york, vectors["new"]]), atol=1e-6)
    for row in out["vectors"][:3]:  # a query of several words names the token they join to
        np.testing.assert_allclose(row, vectors["new_york"], atol=1e-6)
    assert out["in_vocabulary"] == [True, True, True, "york" in vectors]
    assert out["similarity"][0] == pytest.approx(1.0, abs=1e-6)
    assert (exported / "assets.extra/phrases.txt").is_file()
    assert Phrases.load(exported / "assets.extra/phrases.txt") == trained.vocabulary.phrases


def test_word2vec_and_projector_exports_carry_the_joined_tokens(trained, tmp_path):
    text = word2vec_format(trained, tmp_path / "vectors.txt")
    assert "new_york" in read_word2vec_format(text)
    logdir = projector(trained, tmp_path / "logs")
    labels = (logdir / "metadata.tsv").read_text(encoding="utf-8").split("\n")
    assert "new_york" in labels
