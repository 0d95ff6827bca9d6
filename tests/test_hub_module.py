"""The same SavedModel as a TF Hub text-embedding module: ``hub.load``, ``hub.KerasLayer(trainable=True)`` under
tf_keras (fine-tuning moves the vectors), and Keras 3's ``TFSMLayer`` — each in a fresh process without tfw2v."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfw2v.export.saved_model import saved_model
from tfw2v.training.vectors import WordVectors

TOKENS = ["good", "great", "fine", "bad", "awful", "poor", "movie", "film", "plot", "the", "a", "was"]
SENTENCES = ["the movie was good", "a great film", "", "unknown words here", "awful plot"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

HUB_LOAD = r"""
import json, sys
import tensorflow as tf
import tensorflow_hub as hub

module = hub.load(sys.argv[1])
embeddings = module(tf.constant(json.loads(sys.argv[2])))
print(json.dumps({
    "embeddings": embeddings.numpy().tolist(),
    "variables": [v.name for v in module.variables],
    "trainable_variables": [v.name for v in module.trainable_variables],
    "regularization_losses": len(module.regularization_losses),
    "tfw2v_imported": "tfw2v" in sys.modules,
}))
"""

KERAS_LAYER_FINE_TUNING = r"""
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

tf_keras.utils.set_random_seed(0)
layer = hub.KerasLayer(sys.argv[1], trainable=True, input_shape=[], dtype=tf.string)
model = tf_keras.Sequential([layer, tf_keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=tf_keras.optimizers.Adam(0.05), loss="binary_crossentropy")
x = np.array(["good movie", "great film", "fine plot", "bad movie", "awful film", "poor plot"], dtype=object)
y = np.array([1, 1, 1, 0, 0, 0], dtype=np.float32)
before = layer.trainable_weights[0].numpy()
history = model.fit(x, y, epochs=15, batch_size=6, verbose=0)
print(json.dumps({
    "trainable": [w.name for w in layer.trainable_weights],
    "changed_rows": np.flatnonzero(np.any(layer.trainable_weights[0].numpy() != before, axis=1)).tolist(),
    "losses": history.history["loss"],
    "tfw2v_imported": "tfw2v" in sys.modules,
}))
"""

TFSM_LAYER = r"""
import json, sys
import keras
import tensorflow as tf

inputs = keras.Input(shape=(), dtype="string")
embeddings = keras.layers.TFSMLayer(sys.argv[1], call_endpoint="serving_default")(inputs)["embeddings"]
model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(embeddings))
embedder = keras.Model(inputs, embeddings)
sentences = tf.constant(json.loads(sys.argv[2]))
print(json.dumps({
    "embeddings": embedder(sentences).numpy().tolist(),
    "probabilities_shape": list(model(sentences).shape),
    "tfw2v_imported": "tfw2v" in sys.modules,
}))
"""


def run(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=150, env=ENV)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def sqrtn(wv: WordVectors, sentence: str) -> np.ndarray:
    """Σv/√n over the whitespace tokens; OOV tokens count in n with a zero vector."""
    rows = [wv[t] if t in wv else np.zeros(wv.dim, np.float32) for t in sentence.split()]
    return np.sum(rows, axis=0) / np.sqrt(len(rows)) if rows else np.zeros(wv.dim, np.float32)


@pytest.fixture(scope="module")
def vectors() -> WordVectors:
    rng = np.random.default_rng(0)
    return WordVectors(TOKENS, rng.normal(size=(len(TOKENS), 8)).astype(np.float32))


@pytest.fixture(scope="module")
def module_path(vectors, tmp_path_factory) -> Path:
    return saved_model(vectors, tmp_path_factory.mktemp("hub") / "tfw2v")


def test_hub_load_gives_sqrtn_sentence_embeddings(vectors, module_path):
    out = run(HUB_LOAD, str(module_path), json.dumps(SENTENCES))
    assert not out["tfw2v_imported"]
    np.testing.assert_allclose(out["embeddings"], [sqrtn(vectors, s) for s in SENTENCES], rtol=1e-6, atol=1e-6)
    assert out["variables"] == out["trainable_variables"] == ["embeddings:0"]
    assert out["regularization_losses"] == 0


def test_keras_layer_fine_tunes_the_embedding_table_under_tf_keras(vectors, module_path):
    out = run(KERAS_LAYER_FINE_TUNING, str(module_path))
    assert not out["tfw2v_imported"]
    assert out["trainable"] == ["embeddings:0"]
    trained_words = {"good", "great", "fine", "bad", "awful", "poor", "movie", "film", "plot"}
    assert out["changed_rows"] == sorted(vectors.index(w) for w in trained_words)  # sparse updates
    assert out["losses"][-1] < 0.5 * out["losses"][0]


def test_tfsm_layer_works_inside_a_keras3_functional_model(vectors, module_path):
    out = run(TFSM_LAYER, str(module_path), json.dumps(SENTENCES))
    assert not out["tfw2v_imported"]
    np.testing.assert_allclose(out["embeddings"], [sqrtn(vectors, s) for s in SENTENCES], rtol=1e-6, atol=1e-6)
    assert out["probabilities_shape"] == [len(SENTENCES), 1]
