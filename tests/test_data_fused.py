"""The pipeline's fused stages against their TF definitions: examples (``word2vec_examples.cc`` against
``data.context_examples``), token ids (``word2vec_tokens.cc`` against ``data.token_ids``) and the vocabulary's token
counts (``word2vec_tokens.cc`` against ``tf.unique_with_counts`` of ``tf.strings.split``).

Each pair must be equal bit for bit (values, dtypes, shapes and order), so that ``fused`` changes the speed of the
pipeline and of counting, and nothing else.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfw2v import data, kernels
from tfw2v.text.tokenize import Tokenizer
from tfw2v.text.vocabulary import Vocabulary

from conftest import BUNDLED_CORPUS
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


def random_lines(rng: np.random.Generator, words: list[str], separators: list[str], n: int) -> list[bytes]:
    lines = []
    for _ in range(n):
        parts = [separators[rng.integers(len(separators))] if rng.random() < 0.3 else ""]
        for _ in range(rng.integers(0, 12)):
            parts += [words[rng.integers(len(words))], separators[rng.integers(len(separators))]]
        lines.append("".join(parts).encode())
    return lines + [b"", b" \t ", b"caf\xff\xfe ok", "Mixed CASE Word".encode()]


TRICKY_WORDS = ["the", "cat", "café", "naïve", "東京", "x", "word\u00a0joined", "a\u3000b", "p\x1cq", "ok", "mixed",
                "case"]
SEPARATORS = [" ", "  ", "\t", "\n", "\v", "\f", "\r", " \r\n "]


def test_token_ids_op_equals_the_tf_definition():
    """ASCII whitespace splits (space, \\t, \\n, \\v, \\f, \\r, runs of them); what Python's str.split also splits on
    but tf.strings.split does not (U+00A0, U+3000, \\x1c) stays inside a token; invalid UTF-8 is repaired first."""
    rng = np.random.default_rng(5)
    words = TRICKY_WORDS
    lines = tf.constant(random_lines(rng, words, SEPARATORS, 200))
    tokenizer = Tokenizer()  # the default: lower-cased, whitespace-split
    vocabulary = [w for w in words if rng.random() < 0.7] + ["ok", "mixed", "caf\ufffd\ufffd", "never-seen"]
    vocabulary = list(dict.fromkeys(vocabulary))
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(vocabulary), tf.range(len(vocabulary), dtype=tf.int64)), default_value=-1)
    reference = data.token_ids(lines, tokenizer, None, table)
    fused = kernels.token_ids(tokenizer.normalize(tokenizer.clean(lines)[0]), tf.constant(vocabulary))
    assert int(reference[2]) > len(reference[0]) > 500  # many tokens, some out of the vocabulary
    for ours, theirs, name in zip(fused, reference, ("ids", "sentence", "tokens")):
        assert ours.dtype == theirs.dtype, name
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)


def test_token_ids_op_on_no_lines_and_an_empty_vocabulary():
    ids, sentence, tokens = kernels.token_ids(tf.constant(["a b", "c"]), tf.constant([], tf.string))
    assert ids.shape == (0,) and sentence.shape == (0,) and int(tokens) == 3
    ids, sentence, tokens = kernels.token_ids(tf.constant([], tf.string), tf.constant(["a"]))
    assert ids.shape == (0,) and int(tokens) == 0
    with pytest.raises(tf.errors.InvalidArgumentError, match="lines must be"):
        kernels.token_ids(tf.constant([["a"]]), tf.constant(["a"]))


def reference_token_counts(lines: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    distinct, _, counts = tf.unique_with_counts(tf.strings.split(lines).flat_values, out_idx=tf.int64)
    return distinct, counts


def assert_same_tensors(ours, theirs, names) -> None:
    for mine, reference, name in zip(ours, theirs, names):
        assert mine.dtype == reference.dtype, name
        np.testing.assert_array_equal(mine.numpy(), reference.numpy(), err_msg=name)


def test_token_counts_op_equals_the_tf_definition():
    """The tricky lines of the ids test, plus thousands of distinct tokens (the op's index grows several times)."""
    rng = np.random.default_rng(6)
    tokenizer = Tokenizer()
    many = [" ".join(f"w{rng.integers(5000)}" for _ in range(40)).encode() for _ in range(300)]
    lines = tf.constant(random_lines(rng, TRICKY_WORDS, SEPARATORS, 200) + many)
    text = tokenizer.normalize(tokenizer.clean(lines)[0])
    reference = reference_token_counts(text)
    assert reference[0].shape[0] > 4000 and int(tf.reduce_max(reference[1])) > 50
    assert_same_tensors(kernels.token_counts(text), reference, ("tokens", "counts"))


def test_token_counts_op_on_no_tokens():
    for lines in ([], ["", " \t\r\n "]):
        tokens, counts = kernels.token_counts(tf.constant(lines, tf.string))
        assert tokens.shape == (0,) and counts.shape == (0,) and tokens.dtype == tf.string
    with pytest.raises(tf.errors.InvalidArgumentError, match="lines must be"):
        kernels.token_counts(tf.constant([["a"]]))


@pytest.mark.parametrize("tokenizer", [Tokenizer(), Tokenizer(lowercase=True)], ids=["default", "lowercase"])
def test_fused_and_tf_counting_give_the_same_vocabulary(tokenizer):
    """The bundled corpus: one 9 MB line, so several pieces and chunks, counted either way."""
    fused = Vocabulary.build(BUNDLED_CORPUS, min_count=1, tokenizer=tokenizer, fused=True)
    reference = Vocabulary.build(BUNDLED_CORPUS, min_count=1, tokenizer=tokenizer, fused=False)
    assert len(reference) > 50_000 and reference.corpus_words > 1_000_000
    assert fused.tokens == reference.tokens
    np.testing.assert_array_equal(fused.counts, reference.counts)
    assert fused.corpus_words == reference.corpus_words


def test_fused_counting_repairs_invalid_utf8_as_the_tf_path(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"caf\xff ok ok\nfine line ok\n\xfe\xfe caf\xff\n")
    with pytest.warns(UserWarning, match="2 line"):
        fused = Vocabulary.build(path, min_count=1, fused=True)
    with pytest.warns(UserWarning, match="2 line"):
        reference = Vocabulary.build(path, min_count=1, fused=False)
    assert fused.tokens == reference.tokens and fused.counts.tolist() == reference.counts.tolist()
    assert fused.invalid_utf8_lines == reference.invalid_utf8_lines == 2


def test_counting_fused_must_be_auto_true_or_false(lee_path):
    with pytest.raises(ValueError, match="fused='yes'"):
        Vocabulary.build(lee_path, fused="yes")


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
