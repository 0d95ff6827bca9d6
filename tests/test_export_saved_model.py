"""The SavedModel exporter: every signature answers correctly in a fresh process that imports only TensorFlow,
the real ``saved_model_cli`` lists the signatures, versions count up, and exports are atomic."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfw2v.export.saved_model import VOCABULARY_FILE, next_version, saved_model
from tfw2v.text.tokenize import Tokenizer
from tfw2v.training.vectors import WordVectors

from serving_reference import cosine, sqrtn

TOKENS = ["the", "of", "and", "is", "capital", "king", "queen", "man", "woman", "paris", "france", "berlin",
          "germany", "café", "東京", "z"]
SENTENCES = ["The KING and the queen", "paris is the CAPITAL of france", "", "   ", "café 東京", "zyzzyva king",
             "unknown words only", "z"]
QUERIES = ["king", "Queen", "café", "東京", "zyzzyva", ""]
PAIRS = [("king", "queen"), ("paris france", "berlin germany"), ("zyzzyva", "king"), ("", "king"), ("a b", "c")]
SUBPROCESS_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

# Runs in a fresh interpreter: loads the SavedModel with nothing but TensorFlow and queries every signature.
LOAD_AND_QUERY = r"""
import json, sys
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

path, queries = sys.argv[1], json.loads(sys.argv[2])
loaded = tf.saved_model.load(path)
signatures = loaded.signatures


def strings(values):
    return tf.constant(values, dtype=tf.string, shape=[len(values)])


def text(tensor):
    return [[b.decode("utf-8") for b in row] for row in tensor.numpy()]


vectors = signatures["token_vectors"](tokens=strings(queries["tokens"]))
out = {
    "signatures": sorted(signatures),
    "embeddings": signatures["serving_default"](sentences=strings(queries["sentences"]))["embeddings"].numpy().tolist(),
    "root_call": loaded(strings(queries["sentences"])).numpy().tolist(),
    "vectors": vectors["vectors"].numpy().tolist(),
    "in_vocabulary": vectors["in_vocabulary"].numpy().tolist(),
    "neighbors": {},
}
for k in queries["k"]:
    found = signatures["nearest_neighbors"](tokens=strings(queries["tokens"]), k=tf.constant(k, tf.int32))
    out["neighbors"][k] = {"neighbors": text(found["neighbors"]), "scores": found["scores"].numpy().tolist()}
left, right = zip(*queries["pairs"])
out["similarity"] = signatures["similarity"](left=strings(left), right=strings(right))["similarity"].numpy().tolist()
saved = saved_model_pb2.SavedModel.FromString(open(path + "/saved_model.pb", "rb").read())
graph = saved.meta_graphs[0].graph_def
ops = {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}
out["non_core_ops"] = sorted(op for op in ops if not hasattr(tf.raw_ops, op))
out["string_ops"] = sorted(op for op in ops if "String" in op or "Unicode" in op or "Regex" in op)
out["imported"] = sorted(m for m in ("tfw2v", "tensorflow_text") if m in sys.modules)
print(json.dumps(out))
"""


def run_python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env=SUBPROCESS_ENV)


def word_vectors(seed: int = 0, dim: int = 8, tokenizer: Tokenizer | None = None) -> WordVectors:
    rng = np.random.default_rng(seed)
    return WordVectors(TOKENS, rng.normal(size=(len(TOKENS), dim)).astype(np.float32), tokenizer)




def top_k(wv: WordVectors, token: str, k: int) -> tuple[list[str], np.ndarray]:
    """Numpy cosine top-k of a vocabulary token, the token itself excluded."""
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    i = wv.index(token)
    scores = unit @ unit[i]
    scores[i] = -np.inf
    order = np.argsort(-scores, kind="stable")[: min(k, len(wv) - 1)]
    return [wv.tokens[j] for j in order], scores[order]


@pytest.fixture(scope="module")
def vectors() -> WordVectors:
    return word_vectors(tokenizer=Tokenizer(lowercase=True))


@pytest.fixture(scope="module")
def exported(vectors, tmp_path_factory) -> Path:
    return saved_model(vectors, tmp_path_factory.mktemp("models") / "tfw2v")


def test_every_signature_answers_in_a_process_that_imports_only_tensorflow(vectors, exported):
    queries = {"sentences": SENTENCES, "tokens": QUERIES, "k": [3, 100], "pairs": PAIRS}
    result = run_python(LOAD_AND_QUERY, str(exported), json.dumps(queries))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["imported"] == []
    assert out["non_core_ops"] == []
    assert set(out["string_ops"]) <= {"StringLower", "StringSplitV2", "UnicodeTranscode", "StringToHashBucketFast",
                                      "StringJoin", "StaticRegexFullMatch"}
    assert out["signatures"] == ["nearest_neighbors", "serving_default", "similarity", "token_vectors"]

    expected = np.stack([sqrtn(vectors, s) for s in SENTENCES])
    np.testing.assert_allclose(out["embeddings"], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out["root_call"], out["embeddings"])
    assert not np.any(out["embeddings"][2]) and not np.any(out["embeddings"][3])

    rows = [vectors[t.lower()] if t.lower() in vectors else np.zeros(vectors.dim) for t in QUERIES]
    np.testing.assert_array_equal(out["vectors"], np.stack(rows))
    assert out["in_vocabulary"] == [True, True, True, True, False, False]

    for k, found in out["neighbors"].items():
        for query, neighbors, scores in zip(QUERIES, found["neighbors"], found["scores"]):
            if query.lower() in vectors:
                want_neighbors, want_scores = top_k(vectors, query.lower(), int(k))
                assert neighbors == want_neighbors
                np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-6)
            else:
                assert neighbors == [""] * min(int(k), len(TOKENS) - 1)
                assert scores == [0.0] * len(neighbors)

    want = [cosine(sqrtn(vectors, a), sqrtn(vectors, b)) for a, b in PAIRS]
    np.testing.assert_allclose(out["similarity"], want, rtol=1e-5, atol=1e-6)


def test_saved_model_cli_lists_the_signatures(exported):
    cli = Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run([str(cli), "show", "--dir", str(exported), "--all"], capture_output=True, text=True,
                            timeout=120, env=SUBPROCESS_ENV)
    assert result.returncode == 0, result.stderr
    for name in ("serving_default", "token_vectors", "nearest_neighbors", "similarity"):
        assert f"signature_def['{name}']" in result.stdout
    for tensor in ("inputs['sentences']", "outputs['embeddings']", "inputs['tokens']", "inputs['k']",
                   "outputs['vectors']", "outputs['in_vocabulary']", "outputs['neighbors']", "outputs['scores']",
                   "inputs['left']", "inputs['right']", "outputs['similarity']"):
        assert tensor in result.stdout
    assert "Method name is: tensorflow/serving/predict" in result.stdout


def test_layout_vocabulary_asset_and_readme(vectors, exported):
    assert exported.name == "1"
    assert (exported / "saved_model.pb").is_file()
    assert (exported / "variables" / "variables.index").is_file()
    vocabulary = (exported / "assets" / VOCABULARY_FILE).read_text(encoding="utf-8")
    assert vocabulary.splitlines() == TOKENS
    readme = (exported / "assets.extra" / "README").read_text(encoding="utf-8")
    assert "core TensorFlow ops only" in readme and "nearest_neighbors" in readme
    assert [p.name for p in exported.parent.iterdir()] == ["1"]


def test_versions_count_up_and_an_existing_version_is_never_overwritten(tmp_path):
    base = tmp_path / "tfw2v"
    assert next_version(base) == 1
    assert saved_model(word_vectors(), base).name == "1"
    (base / "notes").mkdir()
    (base / ".3.abc.tmp").mkdir()
    assert saved_model(word_vectors(), base).name == "2"
    assert saved_model(word_vectors(), base, version=7).name == "7"
    assert next_version(base) == 8
    before = (base / "2" / "variables" / "variables.data-00000-of-00001").read_bytes()
    with pytest.raises(FileExistsError, match=str(base / "2")):
        saved_model(word_vectors(seed=1), base, version=2)
    assert (base / "2" / "variables" / "variables.data-00000-of-00001").read_bytes() == before
    assert sorted(p.name for p in base.iterdir()) == [".3.abc.tmp", "1", "2", "7", "notes"]


def test_overwrite_replaces_a_version_as_a_whole(tmp_path):
    import tensorflow as tf

    base = tmp_path / "tfw2v"
    saved_model(word_vectors(), base, version=1)
    (base / "1" / "stale").write_text("from an earlier export")
    replacement = word_vectors(seed=1)
    assert saved_model(replacement, base, version=1, overwrite=True) == base / "1"
    assert not (base / "1" / "stale").exists()
    loaded = tf.saved_model.load(str(base / "1"))
    vectors = loaded.signatures["token_vectors"](tokens=tf.constant(TOKENS))["vectors"]
    np.testing.assert_array_equal(vectors.numpy(), replacement.vectors)
    assert sorted(p.name for p in base.iterdir()) == ["1"]


def test_a_failed_export_leaves_no_partial_version_directory(tmp_path):
    base = tmp_path / "tfw2v"
    with pytest.raises(ValueError, match="num_oov_buckets"):
        saved_model(word_vectors(), base, num_oov_buckets=0)
    assert list(base.iterdir()) == []


@pytest.mark.parametrize("token", ["two\nlines", "carriage\rreturn", ""])
def test_tokens_that_cannot_be_one_vocabulary_line_are_rejected(tmp_path, token):
    vectors = WordVectors(["ok", token], np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="line breaks"):
        saved_model(vectors, tmp_path / "tfw2v")
    assert not (tmp_path / "tfw2v").exists()


@pytest.mark.parametrize("version", [-1, True, 1.0, "3"])
def test_version_must_be_a_non_negative_integer(tmp_path, version):
    with pytest.raises(ValueError, match="version"):
        saved_model(word_vectors(), tmp_path / "tfw2v", version=version)


LOAD_WITH_TENSORFLOW_TEXT = r"""
import json, sys
import tensorflow as tf
try:
    tf.saved_model.load(sys.argv[1])
    without = "loaded"
except Exception as error:
    without = str(error)
import tensorflow_text
loaded = tf.saved_model.load(sys.argv[1])
found = loaded.signatures["token_vectors"](tokens=tf.constant(["CAFE\u0301", "Ｋｉｎｇ"]))["in_vocabulary"]
print(json.dumps({"without": without, "in_vocabulary": found.numpy().tolist(),
                  "embedding": loaded(tf.constant(["ＫＩＮＧ"])).numpy().tolist()}))
"""


def test_a_tensorflow_text_tokenizer_warns_and_loaders_must_import_tensorflow_text(tmp_path):
    vectors = word_vectors(tokenizer=Tokenizer(normalization="NFKC", case_fold=True))
    with pytest.warns(UserWarning, match="import tensorflow_text"):
        path = saved_model(vectors, tmp_path / "tfw2v")
    assert "import tensorflow_text" in (path / "assets.extra" / "README").read_text(encoding="utf-8")
    result = run_python(LOAD_WITH_TENSORFLOW_TEXT, str(path))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert "Op type not registered" in out["without"]
    assert out["in_vocabulary"] == [True, True]
    np.testing.assert_allclose(out["embedding"], [vectors["king"]], rtol=1e-6)


def test_the_readme_python_examples_run_against_an_export(vectors, tmp_path):
    """Every ``python`` block of export/README.md that needs no trained model runs, in one fresh process."""
    readme = (Path(__file__).resolve().parents[1] / "export" / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "model_or_vectors" not in b]
    assert len(blocks) >= 4
    saved_model(vectors, tmp_path / "runs" / "models" / "tfw2v")
    code = "\n".join([*blocks, 'import sys\nassert "tfw2v" not in sys.modules'])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=150,
                            env=SUBPROCESS_ENV, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.loadtxt(tmp_path / "vectors.tsv", delimiter="\t"), vectors.vectors, rtol=1e-5)
    assert (tmp_path / "metadata.tsv").read_text(encoding="utf-8").splitlines() == TOKENS
