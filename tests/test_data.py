"""The tf.data example pipeline: structure, word2vec.c equivalence, statistics, determinism, sharding.

Statistical tests use fixed seeds, so they are deterministic; their tolerances are the bounds a correct
implementation meets with overwhelming probability (stated next to each), so a failure means a real
deviation, not bad luck with the seed.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfw2v import data, kernels
from tfw2v.text.corpus import CorpusError
from tfw2v.text.vocabulary import Vocabulary

LEE_TOKENS = 59_890  # tests/data/README.md


# ---- helpers -------------------------------------------------------------------------------------------------
def collect(ds: tf.data.Dataset) -> dict[str, np.ndarray]:
    """One pass over ``ds`` (one epoch), batches concatenated."""
    parts = defaultdict(list)
    for batch in ds:
        for key, value in batch.items():
            parts[key].append(value.numpy())
    return {key: np.concatenate(values) for key, values in parts.items()}


def example_multiset(ex: dict[str, np.ndarray], architecture: str) -> Counter:
    """Each example as ``(centre, sorted context ids)``; the weights are checked here too:
    ``1/m`` on each of the ``m`` context words (1 for a CBOW sum), 0 on padding."""
    if architecture == "skipgram":
        centres, context, weights = ex["inputs"][:, 0], ex["labels"], ex["label_weights"]
        np.testing.assert_array_equal(ex["input_weights"], 1.0)
    else:
        centres, context, weights = ex["labels"][:, 0], ex["inputs"], ex["input_weights"]
        np.testing.assert_array_equal(ex["label_weights"], 1.0)
    out = Counter()
    for centre, ids, w in zip(centres, context, weights):
        real = w > 0
        m = int(real.sum())
        assert m >= 1, "an example without context"
        assert np.allclose(w[real], 1.0 / m) or np.all(w[real] == 1.0)
        out[(int(centre), tuple(sorted(ids[real].tolist())))] += 1
    return out


def pair_multiset(examples: Counter) -> Counter:
    """Expand soft-target examples into word2vec's (centre, context) pairs."""
    pairs = Counter()
    for (centre, context), n in examples.items():
        for c in context:
            pairs[(centre, c)] += n
    return pairs


def word2vec_c_examples(sentences, half_window, window):
    """word2vec.c's training loop, verbatim in Python: ``sentences`` are lists of ``(word id, stream
    position)`` after subsampling; ``half_window[position]`` is the effective half-window drawn for that
    centre (word2vec.c: ``b = next_random % window``, effective ``window - b``)."""
    for sentence in sentences:
        for sentence_position, (word, g) in enumerate(sentence):
            b = window - int(half_window[g])
            context = []
            for a in range(b, window * 2 + 1 - b):
                if a == window:
                    continue
                c = sentence_position - window + a
                if c < 0 or c >= len(sentence):
                    continue
                context.append(sentence[c][0])
            if context:  # word2vec.c trains nothing for a centre without context
                yield word, tuple(sorted(context))


def token_vocab(tokens_in_order: list[str]) -> Vocabulary:
    """A vocabulary of the given tokens, all with count 1 (ids in the given order)."""
    return Vocabulary(tokens_in_order, np.ones(len(tokens_in_order), np.int64))


def positional_lines(sentences: list[list[str]]) -> list[str]:
    return [" ".join(s) for s in sentences]


def parse(token: str) -> tuple[int, int]:
    s, p = re.fullmatch(r"s(\d+)p(\d+)", token).groups()
    return int(s), int(p)


@pytest.fixture(scope="module")
def lee_vocab(lee_path) -> Vocabulary:
    return Vocabulary.build(lee_path, min_count=5)


# ---- element spec and batching ---------------------------------------------------------------------------
@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_element_spec(lee_path, lee_vocab, architecture):
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    ds = make(lee_path, lee_vocab, window=3, batch_size=512, seed=1)
    inputs, labels = (1, 6) if architecture == "skipgram" else (6, 1)
    assert ds.element_spec == {
        "inputs": tf.TensorSpec([None, inputs], tf.int32),
        "input_weights": tf.TensorSpec([None, inputs], tf.float32),
        "labels": tf.TensorSpec([None, labels], tf.int32),
        "label_weights": tf.TensorSpec([None, labels], tf.float32),
        "words": tf.TensorSpec([None], tf.float32),
    }
    sizes = [int(b["words"].shape[0]) for b in ds]
    assert len(sizes) > 10 and set(sizes[:-1]) == {512} and 1 <= sizes[-1] <= 512

    fixed = make(lee_path, lee_vocab, window=3, batch_size=512, seed=1, drop_remainder=True)
    assert fixed.element_spec["labels"].shape == [512, labels]
    assert fixed.element_spec["words"].shape == [512]
    assert sum(1 for _ in fixed) == len(sizes) - (sizes[-1] < 512)


@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed", "ignore:Your input ran out of data")
def test_feeds_keras_model_fit(write_corpus):
    lines = [" ".join(f"w{(7 * i + 3 * j) % 23}" for j in range(30)) for i in range(40)]
    path = write_corpus(lines)
    vocab = Vocabulary.build(path, min_count=1)
    ds = data.skipgram_dataset(path, vocab, window=2, batch_size=16, seed=3)

    class Tiny(keras.Model):
        """Weighted input sum → dot with label vectors → soft-target logistic loss."""

        def __init__(self, size):
            super().__init__()
            self.input_vectors = keras.layers.Embedding(size, 8)
            self.output_vectors = keras.layers.Embedding(size, 8)

        def call(self, batch):
            hidden = tf.einsum("bi,bid->bd", batch["input_weights"], self.input_vectors(batch["inputs"]))
            logits = tf.einsum("bd,btd->bt", hidden, self.output_vectors(batch["labels"]))
            return -tf.reduce_sum(batch["label_weights"] * tf.math.log_sigmoid(logits), axis=1)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return tf.reduce_mean(y_pred)

    class CountBatches(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.per_epoch: list[int] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.per_epoch.append(0)

        def on_train_batch_end(self, batch, logs=None):
            self.per_epoch[-1] += 1

    model = Tiny(len(vocab))
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    counter = CountBatches()
    losses = []
    for _ in range(2):  # one fit call per epoch: each iterates the dataset afresh (new draws)
        losses += model.fit(ds, epochs=1, verbose=0, callbacks=[counter]).history["loss"]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    # Every batch of both epochs was consumed, although subsampling makes the epochs differ in size (a fresh
    # dataset with the same seed replays the same epochs). NB: a single fit(ds, epochs=n) would cap later
    # epochs at the first epoch's batch count + 1, as Keras does for datasets of unknown cardinality.
    replay = data.skipgram_dataset(path, vocab, window=2, batch_size=16, seed=3)
    expected = [sum(1 for _ in replay) for _ in range(2)]
    assert expected[0] != expected[1]
    assert counter.per_epoch == expected


# ---- structure: windows, sentences, blocks, OOV ----------------------------------------------------------
def check_structure(ex, vocab, sentences_in_vocab, window, architecture):
    """Every example's context is exactly the words within some half-window b ∈ [1, window] of its centre,
    counted over the in-vocabulary words of the centre's own sentence; every centre of a sentence with
    ≥ 2 in-vocabulary words appears exactly once."""
    rank = {}  # token → (sentence, rank among the sentence's in-vocabulary words)
    for s, words in enumerate(sentences_in_vocab):
        for r, w in enumerate(words):
            rank[w] = (s, r)
    if architecture == "skipgram":
        centres, context, weights = ex["inputs"][:, 0], ex["labels"], ex["label_weights"]
    else:
        centres, context, weights = ex["labels"][:, 0], ex["inputs"], ex["input_weights"]
    seen = Counter()
    half_windows = Counter()
    for centre, ids, w in zip(centres, context, weights):
        s, r = rank[vocab.token(int(centre))]
        seen[(s, r)] += 1
        got = sorted(rank[vocab.token(int(i))] for i in ids[w > 0])
        assert all(cs == s for cs, _ in got), f"context crosses a sentence end at s{s}"
        got_ranks = [cr for _, cr in got]
        n = len(sentences_in_vocab[s])
        candidates = [
            b for b in range(1, window + 1)
            if got_ranks == [q for q in range(max(0, r - b), min(n, r + b + 1)) if q != r]
        ]
        assert candidates, f"context of s{s} rank {r} is not a window: {got_ranks}"
        half_windows[candidates[0]] += 1
    expected = Counter(
        (s, r) for s, words in enumerate(sentences_in_vocab) if len(words) >= 2 for r in range(len(words))
    )
    assert seen == expected
    return half_windows


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_context_within_window_and_sentence(monkeypatch, positional_corpus, architecture):
    # Small blocks and chunks so that sentences straddle blocks and the corpus spans several chunks.
    monkeypatch.setattr(data, "BLOCK_SIZE", 16)
    monkeypatch.setattr(data, "LINES_PER_CHUNK", 5)
    lengths = [1, 2, 3, 7, 40, 1, 16, 17, 33, 2, 100, 5, 1, 64, 9, 4]
    sentences = positional_corpus(lengths)
    vocab = token_vocab([w for s in sentences for w in s])
    window = 4
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    ds = make(tf.data.Dataset.from_tensor_slices(positional_lines(sentences)), vocab,
              window=window, sample=0, batch_size=64, seed=11)
    half = check_structure(collect(ds), vocab, sentences, window, architecture)
    assert set(half) == set(range(1, window + 1))


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_oov_words_are_dropped_before_windowing(monkeypatch, positional_corpus, architecture):
    monkeypatch.setattr(data, "BLOCK_SIZE", 8)
    rng = np.random.default_rng(5)
    sentences = positional_corpus([3, 30, 12, 2, 50])
    # Interleave out-of-vocabulary tokens; a window must reach over them.
    lines = [" ".join(w + (" OOV" * int(rng.integers(0, 3))) for w in s) for s in sentences]
    lines.append("OOV OOV")  # a line of only unknown words
    sentences.append([])
    vocab = token_vocab([w for s in sentences for w in s])
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    ds = make(tf.data.Dataset.from_tensor_slices(lines), vocab, window=3, sample=0, batch_size=32, seed=2)
    check_structure(collect(ds), vocab, sentences, 3, architecture)


def test_oov_span_exact():
    vocab = token_vocab(["a", "b", "c"])
    lines = tf.data.Dataset.from_tensor_slices(["a X b Y Z c", "X", "c Q"])
    ex = collect(data.skipgram_dataset(lines, vocab, window=1, sample=0, seed=0))
    got = pair_multiset(example_multiset(ex, "skipgram"))
    a, b, c = 0, 1, 2
    assert got == Counter({(a, b): 1, (b, a): 1, (b, c): 1, (c, b): 1})  # "c Q": one word, no example


def test_long_sentence_across_blocks_uniform_half_window():
    # One sentence of 20,000 distinct words (no cap; ~10 blocks of the default BLOCK_SIZE), sample=0.
    n, window = 20_000, 5
    assert n > 4 * data.BLOCK_SIZE
    words = [f"s0p{i}" for i in range(n)]
    vocab = token_vocab(words)
    ds = data.skipgram_dataset(tf.data.Dataset.from_tensor_slices([" ".join(words)]), vocab,
                               window=window, sample=0, batch_size=4096, seed=123)
    ex = collect(ds)
    assert len(ex["inputs"]) == n
    positions = ex["inputs"][:, 0]  # the id of s0p{i} is i
    m = (ex["label_weights"] > 0).sum(axis=1)
    interior = (positions >= window) & (positions < n - window)
    assert np.all(m[interior] % 2 == 0)
    b = m[interior] // 2  # an interior centre with half-window b has exactly 2b labels
    # Exactly the window {p-b, …, p+b} \ {p}, also for centres near block boundaries.
    for p, labels, weights, bb in zip(positions[interior], ex["labels"][interior], ex["label_weights"][interior], b):
        expected = list(range(p - bb, p)) + list(range(p + 1, p + bb + 1))
        assert sorted(labels[weights > 0].tolist()) == expected
    counts = np.bincount(b, minlength=window + 1)[1:]
    assert counts.sum() == n - 2 * window and len(np.bincount(b)) == window + 1
    # Uniform on [1, window]: each count ~ Binomial(N, 1/window). Bound each within 5 standard deviations
    # (two-sided false-alarm rate 5.7e-7 per bin), and the Pearson chi-square (df = window - 1 = 4) below its
    # 1e-6 upper quantile, 33.38 (scipy.stats.chi2.isf(1e-6, 4)).
    total = counts.sum()
    expected_count = total / window
    sd = math.sqrt(total * (1 / window) * (1 - 1 / window))
    assert np.all(np.abs(counts - expected_count) <= 5 * sd), counts
    assert ((counts - expected_count) ** 2 / expected_count).sum() < 33.38


def test_shrunk_windows_uniform():
    window, n = 7, 70_000
    draws = data.shrunk_windows(n, window, tf.constant([42, 1], tf.int64)).numpy()
    assert draws.dtype == np.int32 and draws.min() == 1 and draws.max() == window
    counts = np.bincount(draws, minlength=window + 1)[1:]
    # Chi-square, df = 6: 1e-6 upper quantile 39.5 (scipy.stats.chi2.isf(1e-6, 6) = 39.48).
    expected_count = n / window
    assert ((counts - expected_count) ** 2 / expected_count).sum() < 39.5
    np.testing.assert_array_equal(data.shrunk_windows(100, 1, tf.constant([1, 2], tf.int64)), 1)


def test_split_blocks_halo():
    ids = tf.range(10, 20, dtype=tf.int32)
    sentence = tf.constant([0] * 6 + [1] * 4, tf.int32)
    half_windows = tf.range(1, 11, dtype=tf.int32)
    blocks = data.split_blocks(ids, sentence, half_windows, block_size=4, window=2)
    assert blocks["ids"].shape == (3, 8) and blocks["half_windows"].shape == (3, 4)
    np.testing.assert_array_equal(blocks["ids"][1], [12, 13, 14, 15, 16, 17, 18, 19])
    np.testing.assert_array_equal(blocks["sentence"][0], [-1, -1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(blocks["sentence"][2], [1, 1, 1, 1, -1, -1, -1, -1])
    np.testing.assert_array_equal(blocks["half_windows"], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 0, 0]])
    empty = data.split_blocks(tf.zeros([0], tf.int32), tf.zeros([0], tf.int32), tf.zeros([0], tf.int32), 4, 2)
    assert empty["ids"].shape[0] == 0 and empty["half_windows"].shape == (0, 4)


# ---- equivalence with word2vec.c's per-pair loop -----------------------------------------------------------
def random_corpus(rng, num_sentences, vocab_size, max_length):
    """Zipf-ish word ids in sentences of random length (including 1-word sentences)."""
    weights = 1.0 / np.arange(1, vocab_size + 1)
    return [
        rng.choice(vocab_size, size=int(rng.integers(1, max_length + 1)), p=weights / weights.sum()).tolist()
        for _ in range(num_sentences)
    ]


@pytest.mark.parametrize("architecture, window, cbow_mean", [
    ("skipgram", 5, True), ("skipgram", 1, True), ("cbow", 5, True), ("cbow", 3, False),
])
def test_examples_equal_word2vec_c_loop(architecture, window, cbow_mean):
    """The pure functions and the fused op on one chunk, against word2vec.c's loop fed the same random draws."""
    rng = np.random.default_rng(7)
    vocab_size, block_size, seed = 40, 64, 99
    sentences = random_corpus(rng, 120, vocab_size, 40)
    keep_probability = rng.uniform(0.2, 1.0, vocab_size).astype(np.float32)
    keep_probability[::4] = 1.0
    ids = np.concatenate(sentences).astype(np.int32)
    sentence = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences]).astype(np.int32)

    keep = data.subsample_mask(tf.constant(ids), tf.constant(keep_probability), tf.constant([seed, 0], tf.int64))
    # word2vec.c keeps a word iff ran >= u with u uniform in [0, 1): the same draws, written out.
    u = tf.random.stateless_uniform([len(ids)], seed=tf.constant([seed, 0], tf.int64)).numpy()
    np.testing.assert_array_equal(keep.numpy(), keep_probability[ids] >= u)
    keep = keep.numpy()
    kept_ids, kept_sentence = ids[keep], sentence[keep]
    assert 0 < keep.sum() < len(ids)

    half_window = data.shrunk_windows(len(kept_ids), window, tf.constant([seed, 1], tf.int64)).numpy()
    blocks = data.split_blocks(tf.constant(kept_ids), tf.constant(kept_sentence), tf.constant(half_window),
                               block_size, window)
    assert blocks["ids"].shape[0] > 10  # many block boundaries, many inside sentences
    blocks["words_per_centre"] = tf.range(blocks["ids"].shape[0], dtype=tf.float32)
    ex = {k: v.numpy() for k, v in data.context_examples(blocks, architecture, window, cbow_mean).items()}
    # The fused op computes the same definition, bit for bit.
    fused = kernels.context_examples(blocks, architecture, cbow_mean)
    assert fused.keys() == ex.keys()
    for key, value in fused.items():
        assert value.dtype == ex[key].dtype
        np.testing.assert_array_equal(value.numpy(), ex[key], err_msg=key)
    if architecture == "cbow" and not cbow_mean:
        assert set(np.unique(ex["input_weights"])) == {0.0, 1.0}
    else:
        weights = ex["label_weights"] if architecture == "skipgram" else ex["input_weights"]
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)

    stream = [(int(w), g) for g, w in enumerate(kept_ids)]
    reference_sentences = defaultdict(list)
    for (w, g), s in zip(stream, kept_sentence):
        reference_sentences[int(s)].append((w, g))
    reference = Counter(word2vec_c_examples(reference_sentences.values(), half_window, window))

    got = example_multiset(ex, architecture)
    assert got == reference
    assert pair_multiset(got) == pair_multiset(reference)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_pipeline_equals_word2vec_c_loop_end_to_end(monkeypatch, architecture):
    """The whole dataset (several chunks and blocks, subsampling on) against word2vec.c's loop, with the
    random draws re-derived as the pipeline documents them: chunk k takes the k-th value of
    ``Dataset.random(seed)``; subsampling uses stream 0 of it, the kept words' half-windows stream 1."""
    monkeypatch.setattr(data, "BLOCK_SIZE", 32)
    monkeypatch.setattr(data, "LINES_PER_CHUNK", 16)
    rng = np.random.default_rng(3)
    sentences = random_corpus(rng, 70, 30, 50)
    lines = [" ".join(f"w{i}" for i in s) + (" unknown" if k % 3 == 0 else "") for k, s in enumerate(sentences)]
    vocab = Vocabulary.build(tf.data.Dataset.from_tensor_slices(lines), min_count=1)
    vocab = Vocabulary(*zip(*[(t, c) for t, c in zip(vocab.tokens, vocab.counts) if t != "unknown"]))
    window, sample, seed = 4, 0.02, 2024
    keep_probability = vocab.keep_probabilities(sample)
    assert keep_probability.min() < 0.5
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    ds = make(tf.data.Dataset.from_tensor_slices(lines), vocab, window=window, sample=sample, batch_size=100,
              seed=seed)
    got = example_multiset(collect(ds), architecture)

    chunk_seeds = list(tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(5).as_numpy_iterator())
    reference = Counter()
    for k, start in enumerate(range(0, len(lines), data.LINES_PER_CHUNK)):
        chunk_lines = lines[start:start + data.LINES_PER_CHUNK]
        chunk = [[vocab.id(t) for t in line.split() if t in vocab] for line in chunk_lines]
        ids = np.array([w for s in chunk for w in s], np.int32)
        u = tf.random.stateless_uniform([len(ids)], seed=tf.constant([chunk_seeds[k], 0], tf.int64)).numpy()
        keep = keep_probability[ids] >= u
        half_window = data.shrunk_windows(int(keep.sum()), window,
                                          tf.constant([chunk_seeds[k], 1], tf.int64)).numpy()
        kept_sentences, g, i = [], 0, 0
        for s in chunk:
            kept = []
            for w in s:
                if keep[i]:
                    kept.append((w, g))
                    g += 1
                i += 1
            kept_sentences.append(kept)
        reference.update(word2vec_c_examples(kept_sentences, half_window, window))
    assert got == reference


# ---- weights and word accounting ------------------------------------------------------------------------------
@pytest.mark.parametrize("architecture, cbow_mean", [("skipgram", True), ("cbow", True), ("cbow", False)])
def test_weights(lee_path, lee_vocab, architecture, cbow_mean):
    if architecture == "skipgram":
        ex = collect(data.skipgram_dataset(lee_path, lee_vocab, window=5, batch_size=4096, seed=5))
        soft, soft_ids, other = ex["label_weights"], ex["labels"], ex["input_weights"]
    else:
        ex = collect(data.cbow_dataset(lee_path, lee_vocab, window=5, batch_size=4096, seed=5, cbow_mean=cbow_mean))
        soft, soft_ids, other = ex["input_weights"], ex["inputs"], ex["label_weights"]
    np.testing.assert_array_equal(other, 1.0)
    if cbow_mean:
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)  # a soft target / a mean: rows sum to 1
    else:
        assert set(np.unique(soft)) == {0.0, 1.0}
    assert np.all(soft >= 0) and np.all((soft > 0).sum(axis=1) >= 1)
    np.testing.assert_array_equal(soft_ids[soft == 0], 0)  # padding: id 0, weight 0
    for key in ("inputs", "labels"):
        assert ex[key].min() >= 0 and ex[key].max() < len(lee_vocab)


def test_words_sum_to_corpus_tokens(write_corpus):
    # Every sentence keeps ≥ 2 in-vocabulary words (sample=0), so every kept word yields an example and
    # the epoch's `words` must add up to every corpus token, out-of-vocabulary ones included.
    rng = np.random.default_rng(1)
    lines = []
    for _ in range(700):  # ~3 chunks of 256 lines
        words = [f"w{int(i)}" for i in rng.integers(0, 50, size=int(rng.integers(2, 30)))]
        words += [f"rare{int(i)}" for i in rng.integers(0, 10_000, size=int(rng.integers(0, 4)))]
        rng.shuffle(words)
        lines.append(" ".join(words))
    lines = [line for line in lines if sum(not t.startswith("rare") for t in line.split()) >= 2]
    path = write_corpus(lines)
    vocab = Vocabulary.build(path, min_count=5)
    assert all(not t.startswith("rare") for t in vocab.tokens)
    corpus_tokens = sum(len(line.split()) for line in lines)
    assert vocab.corpus_words == corpus_tokens and vocab.total < corpus_tokens
    for make in (data.skipgram_dataset, data.cbow_dataset):
        ds = make(path, vocab, window=3, sample=0, batch_size=1000, seed=4)
        for _ in range(2):  # two epochs
            words = collect(ds)["words"].astype(np.float64)
            # float32 per-example values: relative error ≤ ~1e-7 each, so 1e-5 on the sum is ample.
            assert words.sum() == pytest.approx(corpus_tokens, rel=1e-5)


def test_words_with_subsampling_on_lee(lee_path, lee_vocab):
    # Lee lines are whole articles (≥ 45 words each), so no line is left with a single kept word: the epoch's
    # `words` still add up to the corpus tokens (out-of-vocabulary and subsampled words included).
    ds = data.skipgram_dataset(lee_path, lee_vocab, window=5, sample=1e-3, batch_size=4096, seed=8)
    assert collect(ds)["words"].astype(np.float64).sum() == pytest.approx(LEE_TOKENS, rel=1e-5)


# ---- subsampling statistics -------------------------------------------------------------------------------------
def test_subsample_mask_rates():
    n = 200_000
    p = np.array([0.0, 0.01, 0.25, 0.5, 0.9, 1.0], np.float32)
    ids = np.repeat(np.arange(len(p)), n).astype(np.int32)
    keep = data.subsample_mask(tf.constant(ids), tf.constant(p), tf.constant([5, 0], tf.int64)).numpy()
    kept = keep.reshape(len(p), n).sum(axis=1)
    assert kept[0] == 0 and kept[-1] == n
    # Binomial(n, p): within 5 standard deviations (two-sided false-alarm rate 5.7e-7 per word).
    assert np.all(np.abs(kept - n * p) <= 5 * np.sqrt(n * p * (1 - p))), kept


def test_subsampling_keep_rates_in_pipeline(write_corpus):
    """Per-word kept fraction over 4 epochs matches min(1, sqrt(t/f) + t/f)."""
    rng = np.random.default_rng(0)
    zipf = 1.0 / np.arange(1, 31)
    counts = np.concatenate([np.round(40_000 * zipf / zipf.sum()), [20] * 5]).astype(int)
    tokens = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(tokens)
    lines = [" ".join(f"w{i}" for i in tokens[k:k + 300]) for k in range(0, len(tokens), 300)]
    path = write_corpus(lines)
    vocab = Vocabulary.build(path, min_count=1)
    sample, epochs = 1e-3, 4
    p = vocab.keep_probabilities(sample).astype(np.float64)
    assert p[0] < 0.1 and p[-1] == 1.0  # a wide range of keep probabilities
    ds = data.skipgram_dataset(path, vocab, window=2, sample=sample, batch_size=8192, seed=17)
    kept = np.zeros(len(vocab))
    for _ in range(epochs):  # the same dataset iterated again: redrawn each epoch
        kept += np.bincount(collect(ds)["inputs"][:, 0], minlength=len(vocab))
    # Lines hold 300 words, ~35 of them kept: a line with a single kept word (whose centre would yield no
    # example) has probability < 1e-10, so the centres counted are exactly the kept words.
    trials = vocab.counts * epochs
    expected = trials * p
    always = p == 1.0
    np.testing.assert_array_equal(kept[always], trials[always])
    sd = np.sqrt(trials * p * (1 - p))[~always]
    # Each word: kept ~ Binomial(count·epochs, p): within 5 standard deviations (5.7e-7 two-sided per word).
    assert np.all(np.abs(kept[~always] - expected[~always]) <= 5 * sd)
    # All words together: Pearson chi-square with df = 30 below its 1e-6 upper quantile 82.04
    # (scipy.stats.chi2.isf(1e-6, 30)); far more sensitive than the per-word bound (it separates the
    # paper's sqrt(t/f) from word2vec.c's sqrt(t/f) + t/f).
    assert (~always).sum() == 30
    chi2 = (((kept[~always] - expected[~always]) / sd) ** 2).sum()
    assert chi2 < 82.04
    paper = np.minimum(1.0, np.sqrt(sample * vocab.total / vocab.counts))[~always]
    assert ((((kept[~always] - trials[~always] * paper) ** 2) / (trials[~always] * paper * (1 - paper))).sum() > 82.04)


# ---- determinism ----------------------------------------------------------------------------------------------------
def stream_signature(ds, epochs=1) -> list[bytes]:
    out = []
    for _ in range(epochs):
        ex = collect(ds)
        out.append(b"".join(ex[k].tobytes() for k in sorted(ex)))
    return out


def test_same_seed_same_stream_and_epochs_differ(lee_path, lee_vocab):
    first = stream_signature(data.skipgram_dataset(lee_path, lee_vocab, batch_size=4096, seed=31), epochs=2)
    again = stream_signature(data.skipgram_dataset(lee_path, lee_vocab, batch_size=4096, seed=31), epochs=2)
    assert first == again  # a fresh dataset with the same seed replays every epoch
    assert first[0] != first[1]  # the same dataset iterated again draws new subsampling and windows
    other = stream_signature(data.skipgram_dataset(lee_path, lee_vocab, batch_size=4096, seed=32))
    assert other[0] != first[0]


def test_epochs_redraw_subsampling(lee_path, lee_vocab):
    ds = data.cbow_dataset(lee_path, lee_vocab, batch_size=4096, seed=6, sample=1e-3)
    epoch1, epoch2 = collect(ds)["labels"][:, 0], collect(ds)["labels"][:, 0]
    assert not np.array_equal(np.sort(epoch1), np.sort(epoch2))  # a different multiset of kept centres


def test_no_seed_draws_a_fresh_one(write_corpus):
    path = write_corpus([" ".join(f"w{i % 17}" for i in range(k, k + 200)) for k in range(20)])
    vocab = Vocabulary.build(path, min_count=1)
    a = stream_signature(data.skipgram_dataset(path, vocab, sample=1e-2))
    b = stream_signature(data.skipgram_dataset(path, vocab, sample=1e-2))
    assert a != b


# ---- sharding --------------------------------------------------------------------------------------------------------
def test_shards_partition_the_stream(monkeypatch, lee_path, lee_vocab):
    monkeypatch.setattr(data, "BLOCK_SIZE", 500)

    def rows(ex):  # each example as the bytes of all its fields
        n = len(ex["words"])
        table = np.concatenate([ex[k].reshape(n, -1).astype(np.float64) for k in sorted(ex)], axis=1)
        return Counter(row.tobytes() for row in table)

    whole = rows(collect(data.skipgram_dataset(lee_path, lee_vocab, sample=1e-3, batch_size=4096, seed=9)))
    shards = [
        rows(collect(data.skipgram_dataset(lee_path, lee_vocab, sample=1e-3, batch_size=4096, seed=9,
                                           num_shards=3, shard_index=i)))
        for i in range(3)
    ]
    assert all(sum(s.values()) > 0.2 * sum(whole.values()) for s in shards)
    assert shards[0] + shards[1] + shards[2] == whole


def test_shards_are_disjoint_by_block(monkeypatch, positional_corpus):
    block, chunk_lines = 16, 4
    monkeypatch.setattr(data, "BLOCK_SIZE", block)
    monkeypatch.setattr(data, "LINES_PER_CHUNK", chunk_lines)
    sentences = positional_corpus([5, 40, 3, 9, 70, 2, 2, 33, 1, 20, 18])
    vocab = token_vocab([w for s in sentences for w in s])
    lines = tf.data.Dataset.from_tensor_slices(positional_lines(sentences))

    def block_of(token):  # (chunk, block within the chunk) of a centre, sample=0
        s, p = parse(token)
        chunk = s // chunk_lines
        rank = sum(len(x) for x in sentences[chunk * chunk_lines:s]) + p
        return chunk, rank // block

    owner = {}
    total = 0
    for shard in range(3):
        ex = collect(data.skipgram_dataset(lines, vocab, window=3, sample=0, batch_size=64, seed=1,
                                           num_shards=3, shard_index=shard))
        total += len(ex["inputs"])
        for centre in ex["inputs"][:, 0]:
            key = block_of(vocab.token(int(centre)))
            assert owner.setdefault(key, shard) == shard, f"block {key} split across shards"
    assert set(owner.values()) == {0, 1, 2}
    assert total == sum(len(s) for s in sentences if len(s) >= 2)


# ---- errors ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "window=0"),
    ({"window": -2}, "window=-2"),
    ({"window": 2.5}, "window=2.5"),
    ({"sample": -1e-4}, "sample=-0.0001"),
    ({"sample": float("nan")}, "sample=nan"),
    ({"batch_size": 0}, "batch_size=0"),
    ({"num_shards": 2, "shard_index": 2}, "shard_index=2"),
    ({"num_shards": 0}, "num_shards=0"),
])
@pytest.mark.parametrize("make", [data.skipgram_dataset, data.cbow_dataset])
def test_bad_parameters(lee_path, lee_vocab, make, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make(lee_path, lee_vocab, **kwargs)


def test_bad_architecture(lee_path, lee_vocab):
    with pytest.raises(ValueError, match="architecture='glove'"):
        data.examples_dataset(lee_path, lee_vocab, "glove")


def test_bad_sources_fail_at_construction(tmp_path, lee_vocab):
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(32))
    cases = [
        (tmp_path / "missing.txt", "missing.txt: no such file"),
        (str(tmp_path / "*.cor"), "*.cor: the pattern matches no file"),
        (tmp_path, "is a directory"),
        (tmp_path / "image.png", "image.png: looks like binary data"),
    ]
    for source, message in cases:
        for make in (data.skipgram_dataset, data.cbow_dataset):
            with pytest.raises(CorpusError, match=re.escape(message)):
                make(source, lee_vocab)


def test_invalid_utf8_lines_still_yield_examples(write_corpus):
    path = write_corpus([b"alpha beta gamma delta", b"alpha \xff\xfe beta", b"\xc3\xa9t\xc3 gamma delta alpha"])
    with pytest.warns(UserWarning, match=r"2 line\(s\) had invalid UTF-8"):
        vocab = Vocabulary.build(path, min_count=2)
    assert sorted(vocab.tokens) == ["alpha", "beta", "delta", "gamma"]
    ex = collect(data.skipgram_dataset(path, vocab, window=5, sample=0, seed=0))
    assert len(ex["inputs"]) == 4 + 2 + 3  # every in-vocabulary word of every line
