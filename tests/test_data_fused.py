"""The pipeline's fused examples stage (``word2vec_examples.cc``) against its TF definition, ``data.context_examples``.

The two must be equal bit for bit (ids, weights, words, dtypes, shapes and order), so that ``fused`` changes the
speed of the pipeline and nothing else.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfw2v import data, kernels
from tfw2v.text.vocabulary import Vocabulary

from test_data import collect


@pytest.fixture(scope="module")
def lee_vocab(lee_path) -> Vocabulary:
    return Vocabulary.build(lee_path, min_count=5)


def random_blocks(rng: np.random.Generator, num_blocks: int, length: int, window: int) -> dict[str, tf.Tensor]:
    """Blocks with short sentences, padding (-1) runs and half-windows in [0, window] (0: padding centres)."""
    span = length + 2 * window
    sentence = np.cumsum(rng.random((num_blocks, span)) < 0.2, axis=1).astype(np.int32)
    sentence[rng.random((num_blocks, span)) < 0.05] = -1
    return {
        "ids": tf.constant(rng.integers(0, 1000, (num_blocks, span)), tf.int32),
        "sentence": tf.constant(sentence),
        "half_windows": tf.constant(rng.integers(0, window + 1, (num_blocks, length)), tf.int32),
        "words_per_centre": tf.constant(rng.uniform(1.0, 2.0, num_blocks), tf.float32),
    }


def assert_same_examples(fused: dict[str, tf.Tensor], reference: dict[str, tf.Tensor]) -> None:
    assert fused.keys() == reference.keys()
    for key in reference:
        assert fused[key].dtype == reference[key].dtype, key
        assert fused[key].shape == reference[key].shape, (key, fused[key].shape, reference[key].shape)
        np.testing.assert_array_equal(fused[key].numpy(), reference[key].numpy(), err_msg=key)


@pytest.mark.parametrize("architecture, cbow_mean", [("skipgram", True), ("cbow", True), ("cbow", False)])
@pytest.mark.parametrize("window, length", [(1, 7), (5, 64), (3, 1)])
def test_fused_op_equals_the_tf_definition(architecture, cbow_mean, window, length):
    rng = np.random.default_rng(window * 100 + length)
    blocks = random_blocks(rng, 6, length, window)
    reference = data.context_examples(blocks, architecture, window, cbow_mean)
    assert 0 < reference["words"].shape[0] < 6 * length  # some centres have no context
    assert_same_examples(kernels.context_examples(blocks, architecture, cbow_mean), reference)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_fused_op_on_no_blocks_and_on_blocks_without_examples(architecture):
    empty = random_blocks(np.random.default_rng(0), 0, 8, 2)
    assert_same_examples(kernels.context_examples(empty, architecture),
                         data.context_examples(empty, architecture, 2))
    padding = random_blocks(np.random.default_rng(1), 3, 8, 2)
    padding["sentence"] = -tf.ones_like(padding["sentence"])
    fused = kernels.context_examples(padding, architecture)
    assert fused["words"].shape == (0,)
    assert_same_examples(fused, data.context_examples(padding, architecture, 2))


def test_fused_op_refuses_blocks_without_a_halo():
    blocks = random_blocks(np.random.default_rng(2), 2, 8, 2)
    blocks["half_windows"] = blocks["half_windows"][:, :7]  # 12 slots against 7 centres: an odd halo
    with pytest.raises(tf.errors.InvalidArgumentError, match="halo"):
        kernels.context_examples(blocks, "skipgram")


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_fused_and_tf_pipelines_give_the_same_stream(lee_path, lee_vocab, architecture):
    """The whole dataset, subsampling on, over several chunks: equal batches either way."""
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    fused = collect(make(lee_path, lee_vocab, batch_size=1000, seed=8, fused=True))
    reference = collect(make(lee_path, lee_vocab, batch_size=1000, seed=8, fused=False))
    assert fused.keys() == reference.keys() and len(reference["words"]) > 30_000
    for key in reference:
        assert fused[key].dtype == reference[key].dtype
        np.testing.assert_array_equal(fused[key], reference[key], err_msg=key)


def test_fused_must_be_auto_true_or_false(lee_path, lee_vocab):
    with pytest.raises(ValueError, match="fused='yes'"):
        data.skipgram_dataset(lee_path, lee_vocab, fused="yes")
