"""The fused CPU kernel: how it is chosen, built, cached and guarded; the generic path's sparse reads.

Its arithmetic against word2vec.c's sequential update is checked in ``test_kernel_reference.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import tensorflow as tf

from tfw2v import Vocabulary, Word2Vec
from tfw2v import kernels
from tfw2v.kernels import build

V = 50


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary([f"w{i}" for i in range(V)], np.arange(2 * V, V, -1))


def example_batch(architecture: str, size: int = 3, width: int = 4) -> dict[str, tf.Tensor]:
    ids = tf.reshape(tf.range(size * width) % V, [size, width])
    one = tf.zeros([size, 1], tf.int32) + 7
    if architecture == "skipgram":
        return {"inputs": one, "input_weights": tf.ones([size, 1]), "labels": ids,
                "label_weights": tf.fill([size, width], 1.0 / width), "words": tf.ones([size])}
    return {"inputs": ids, "input_weights": tf.fill([size, width], 1.0 / width), "labels": one,
            "label_weights": tf.ones([size, 1]), "words": tf.ones([size])}


def test_auto_picks_the_kernel_for_its_objectives_and_falls_back_silently_for_the_others(vocab):
    for loss in kernels.OBJECTIVES:
        model = Word2Vec(vocab, dim=8, loss=loss, seed=1)
        model.compile()
        assert model.uses_fused_kernel, loss
    for loss in ("softmax", "sampled_softmax"):
        model = Word2Vec(vocab, dim=8, loss=loss, seed=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unsupported objective is a choice, not a problem: no warning
            model.compile()
        assert not model.uses_fused_kernel


def test_fused_false_is_the_generic_path(vocab):
    model = Word2Vec(vocab, dim=8, loss="ns", seed=1, fused=False)
    model.compile()
    assert not model.uses_fused_kernel


@pytest.mark.parametrize("loss, compile_options, named", [
    ("sampled_softmax", {}, "sampled_softmax"),
    ("softmax", {}, "softmax"),
    ("ns", {"jit_compile": True}, "jit_compile"),
    ("ns", {"optimizer": "adam"}, "Adam"),
])
def test_fused_true_names_the_condition_that_fails(vocab, loss, compile_options, named):
    model = Word2Vec(vocab, dim=8, loss=loss, seed=1, fused=True)
    with pytest.raises(ValueError, match=named):
        model.compile(**compile_options)


def test_auto_negatives_are_fresh_per_pair_on_the_kernel_and_per_example_on_the_generic_path(vocab):
    fused = Word2Vec(vocab, dim=8, loss="ns", seed=1)
    fused.compile()
    assert fused.objective.share_negatives == "auto" and "pair_noise" in fused.fused_kernel_options()
    generic = Word2Vec(vocab, dim=8, loss="ns", seed=1, fused=False)
    generic.compile()
    assert tuple(generic.objective.sample_negatives(3).shape) == (3, 5)  # one row of K per example


def test_per_pair_draws_change_from_step_to_step_and_repeat_for_a_seed(vocab):
    def two_steps(seed):
        model = Word2Vec(vocab, dim=8, loss="ns", seed=seed)
        model.compile()
        model.total_words.assign(100.0)
        tables = []
        for _ in range(2):
            model.train_step(example_batch("skipgram"))
            tables.append(model.objective.output_embeddings.numpy().copy())
        return tables

    first, again, other = two_steps(1), two_steps(1), two_steps(2)
    np.testing.assert_array_equal(first[1], again[1])
    # the second step drew other negatives than the first: it touched other output rows
    assert set(np.flatnonzero(np.abs(first[1] - first[0]).sum(1))) != set(np.flatnonzero(np.abs(first[0]).sum(1)))
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("options", [{"fused": False}, {"loss": "sampled_softmax"}])
def test_per_pair_negatives_off_the_kernel_are_refused(vocab, options):
    model = Word2Vec(vocab, dim=8, **{"loss": "ns", **options}, seed=1, share_negatives="pair")
    with pytest.raises(ValueError, match="share_negatives='pair'"):
        model.compile()


def test_fused_rejects_other_values(vocab):
    with pytest.raises(ValueError, match="fused="):
        Word2Vec(vocab, fused="yes")


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_a_fused_step_keeps_fit_bookkeeping(vocab, architecture):
    """words, learning rate, the loss metric and the optimizer's step count move as on the generic path."""
    model = Word2Vec(vocab, dim=8, architecture=architecture, loss="ns", seed=1)
    model.compile()
    model.total_words.assign(100.0)
    logs = model.train_step(example_batch(architecture))
    assert float(model.words_seen.numpy()) == 3.0
    assert int(model.optimizer.iterations.numpy()) == 1
    assert np.isfinite(float(logs["loss"])) and float(logs["loss"]) > 0
    # As on the generic path, the logged rate is the one the next step uses.
    assert float(logs["learning_rate"]) == pytest.approx(model.alpha * (1 - 3 / 100))


@pytest.mark.parametrize("where", ["inputs", "labels", "negatives", "noise_alias"])
def test_bad_ids_are_refused_with_the_tables_unchanged(vocab, where):
    model = Word2Vec(vocab, dim=8, loss="ns", seed=1)
    model.compile()
    model.objective.output_embeddings.assign(tf.random.normal([V, 8], seed=2))
    before = [model.input_embeddings.numpy().copy(), model.objective.output_embeddings.numpy().copy()]
    batch = {key: value.numpy() for key, value in example_batch("skipgram").items()}
    negatives = np.ones([3, 5], np.int32)
    threshold, alias = model.objective.noise.threshold, model.objective.noise.alias.copy()
    bad = {"inputs": batch["inputs"], "labels": batch["labels"], "negatives": negatives, "noise_alias": alias}[where]
    bad.reshape(-1)[-1] = V  # one past the end, in the last example: earlier examples must not have been applied
    draws = {}
    if where == "noise_alias":  # the op draws the negatives from a corrupt alias table
        draws = {"pair_noise": (threshold, alias, 5), "seed": tf.constant([1, 2], tf.int64)}
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{where} holds id {V}"):
        kernels.sgd_step(model.input_embeddings, model.objective.output_embeddings, batch,
                         np.zeros([3, 0], np.int32) if draws else negatives, 0.5, architecture="skipgram",
                         objective="ns", **draws)
    np.testing.assert_array_equal(model.input_embeddings.numpy(), before[0])
    np.testing.assert_array_equal(model.objective.output_embeddings.numpy(), before[1])


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
@pytest.mark.parametrize("where", ["hs_points", "hs_lengths"])
def test_a_bad_huffman_path_of_a_target_is_refused_with_the_tables_unchanged(vocab, architecture, where):
    """The op checks the paths of the batch's targets (skip-gram: the centres; CBOW: the labels)."""
    model = Word2Vec(vocab, dim=8, architecture=architecture, loss="hs", seed=1)
    model.compile()
    model.objective.output_embeddings.assign(tf.random.normal([V, 8], seed=2))
    before = [model.input_embeddings.numpy().copy(), model.objective.output_embeddings.numpy().copy()]
    batch = {key: value.numpy() for key, value in example_batch(architecture).items()}
    tree = model.objective.tree
    points, codes, lengths = tree.points.copy(), tree.codes, tree.lengths.copy()
    target = int((batch["inputs"] if architecture == "skipgram" else batch["labels"]).reshape(-1)[-1])
    if where == "hs_points":
        points[target, lengths[target] - 1] = V
    else:
        lengths[target] = points.shape[1] + 1
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{where}.*{V if where == 'hs_points' else ''}"):
        kernels.sgd_step(model.input_embeddings, model.objective.output_embeddings, batch, np.zeros([3, 0], np.int32),
                         0.5, architecture=architecture, objective="hs", huffman=(points, codes, lengths))
    np.testing.assert_array_equal(model.input_embeddings.numpy(), before[0])
    np.testing.assert_array_equal(model.objective.output_embeddings.numpy(), before[1])


def test_a_reader_of_the_table_keeps_the_values_it_read(vocab):
    """An in-place update must not change a tensor that was read from the variable before it."""
    model = Word2Vec(vocab, dim=8, loss="ns", seed=1)
    model.compile()
    model.objective.output_embeddings.assign(tf.random.normal([V, 8], seed=2))
    snapshot = tf.identity(model.input_embeddings.value.read_value())
    copy = snapshot.numpy().copy()
    model.train_step(example_batch("skipgram"))
    np.testing.assert_array_equal(snapshot.numpy(), copy)
    assert not np.array_equal(model.input_embeddings.numpy(), copy)


@pytest.mark.parametrize("loss", ["ns", "nce", "hs"])
@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_the_generic_step_reads_the_tables_sparsely(vocab, loss, architecture):
    """No read of a whole [V, D] table (or [V] bias) in the generic train step: its cost stays flat in V."""
    model = Word2Vec(vocab, dim=8, architecture=architecture, loss=loss, seed=1, fused=False)
    model.compile()
    graph = tf.function(model.train_step).get_concrete_function(example_batch(architecture)).graph
    whole_table_reads = [op.name for op in graph.get_operations()
                         if op.type == "ReadVariableOp" and op.outputs[0].shape.rank and op.outputs[0].shape[0] == V]
    assert not whole_table_reads
    assert any(op.type == "ResourceGather" for op in graph.get_operations())


def test_the_cache_is_named_by_what_the_binary_depends_on(tmp_path, monkeypatch):
    compiler = build.find_compiler()
    name = build.entry_name(compiler)
    assert name.startswith(f"tfw2v_ops-{tf.__version__}-") and name.endswith(".so")
    monkeypatch.setenv("TFW2V_KERNEL_CACHE", str(tmp_path / "mine"))
    assert build.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("TFW2V_KERNEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert build.cache_dir() == tmp_path / "xdg" / "tfw2v" / "kernels"


NO_COMPILER = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np, tensorflow as tf
    from tfw2v import Vocabulary, Word2Vec, data
    vocab = Vocabulary([f"w{i}" for i in range(20)], np.arange(40, 20, -1))
    result = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = Word2Vec(vocab, dim=8, loss="ns", seed=1)
        model.compile()
        initial = model.embeddings.copy()
        lines = tf.data.Dataset.from_tensor_slices([" ".join(f"w{i % 20}" for i in range(200))] * 4)
        history = model.fit(data.skipgram_dataset(lines, vocab, batch_size=64, seed=1), epochs=2, verbose=0)
    result["auto_uses_kernel"] = model.uses_fused_kernel
    result["warnings"] = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    result["loss"] = history.history["loss"]
    result["moved"] = float(np.abs(model.embeddings - initial).max())
    try:
        Word2Vec(vocab, dim=8, loss="ns", seed=1, fused=True).compile()
    except ValueError as e:
        result["fused_true_error"] = str(e)
    try:
        data.cbow_dataset(lines, vocab, fused=True)
    except ValueError as e:
        result["dataset_true_error"] = str(e)
    print(json.dumps(result))
""")


def test_without_a_compiler_auto_warns_once_and_trains_generically_and_true_names_the_compiler(tmp_path):
    """The model and the pipeline both fall back under "auto", with one warning between them."""
    script = tmp_path / "no_compiler.py"
    script.write_text(NO_COMPILER)
    env = {**os.environ, "CXX": "/nonexistent/g++", "TFW2V_KERNEL_CACHE": str(tmp_path / "cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["auto_uses_kernel"] is False
    assert len(result["warnings"]) == 1 and "/nonexistent/g++" in result["warnings"][0]
    assert "generic" in result["warnings"][0]
    assert np.all(np.isfinite(result["loss"])) and result["moved"] > 1e-3
    assert "/nonexistent/g++" in result["fused_true_error"]
    assert "/nonexistent/g++" in result["dataset_true_error"]  # the pipeline's op: same library, same reason
    assert not any((tmp_path / "cache").glob("*.so"))


LOAD = "from tfw2v.kernels import build; import json; m = build.load_library(); print(json.dumps(hasattr(m, 'word2_vec_sgd')))"


def test_a_corrupt_cache_entry_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {**os.environ, "TFW2V_KERNEL_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "2"}
    name = subprocess.run([sys.executable, "-c", "from tfw2v.kernels import build; "
                           "print(build.entry_name(build.find_compiler()))"],
                          capture_output=True, text=True, env=env, timeout=300).stdout.strip().splitlines()[-1]
    (cache / name).write_bytes(b"\x7fELF but truncated")
    out = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "true"
    assert (cache / name).stat().st_size > 10_000
    assert [p.name for p in cache.glob("*.tmp-*")] == []  # the build's temporary file was renamed into place
