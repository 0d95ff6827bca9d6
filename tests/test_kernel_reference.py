"""The fused kernel, on one thread, equals the sequential numpy reference of word2vec.c's update.

Each case applies the same random batch, with the same negatives, to copies of the same tables, once through
``kernels.sgd_step(max_threads=1)`` and once through :func:`tests.word2vec_reference.sgd_step`, and compares
the updated tables and the per-example losses. The batches are built to hit the order-sensitive cases: ids
repeated within and across examples, negatives equal to the positive, a negative drawn twice, and zero-weight
padding slots. Tolerances: the kernel computes in float32 and reads the sigmoid from an interpolated table
(error below 1e-6), the reference in float64 with the exact sigmoid, so tables agree to ``atol 2e-5`` and
losses to ``rtol 1e-4`` after a batch of 24 examples (measured gap: about 1e-6).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import word2vec_reference as reference
from tfw2v import kernels
from tfw2v.losses.huffman import build_huffman
from tfw2v.losses.noise import unigram

V, D, K, WIDTH, B = 30, 16, 5, 6, 24
LEARNING_RATE = 0.3  # large, so that the order of updates moves the results far beyond the tolerance


def random_batch(architecture: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``B`` examples over a small vocabulary (so ids repeat), the last two context slots of some padded."""
    context = rng.integers(0, V, size=[B, WIDTH]).astype(np.int32)
    weights = np.ones([B, WIDTH], np.float32)
    weights[::3, -2:] = 0.0  # padding: zero weight, id 0
    context[::3, -2:] = 0
    centre = rng.integers(0, V, size=[B, 1]).astype(np.int32)
    if architecture == "skipgram":
        return {"inputs": centre, "input_weights": np.ones([B, 1], np.float32), "labels": context,
                "label_weights": weights / WIDTH}
    return {"inputs": context, "input_weights": weights / np.maximum(weights.sum(1, keepdims=True), 1),
            "labels": centre, "label_weights": np.ones([B, 1], np.float32)}


def random_negatives(batch: dict[str, np.ndarray], architecture: str, rng: np.random.Generator) -> np.ndarray:
    negatives = rng.integers(0, V, size=[B, K]).astype(np.int32)
    positive = batch["inputs"][:, 0] if architecture == "skipgram" else batch["labels"][:, 0]
    negatives[::4, 1] = positive[::4]  # a negative equal to the positive: skipped
    negatives[1::4, 3] = negatives[1::4, 2]  # a negative drawn twice: two candidates
    return negatives


def nce_options(rng: np.random.Generator) -> tuple[dict, dict]:
    """NCE's biases and logit offsets, for the kernel (a variable) and for the reference (a numpy copy)."""
    bias = rng.normal(0, 0.3, [V]).astype(np.float32)
    offset = rng.normal(-2, 0.5, [V]).astype(np.float32)
    kernel = {"output_bias": tf.Variable(bias), "logit_offset": offset}
    return kernel, {"output_bias": bias.copy(), "logit_offset": offset}


def assert_equal_to_reference(kernel_results, reference_results) -> None:
    """The kernel's tables and losses equal the reference's, within the tolerances of the module docstring."""
    (inputs, outputs, losses), (expected_input, expected_output, expected_losses) = kernel_results, reference_results
    np.testing.assert_allclose(inputs.numpy(), expected_input, atol=2e-5)
    np.testing.assert_allclose(outputs.numpy(), expected_output, atol=2e-5)
    np.testing.assert_allclose(losses.numpy(), expected_losses, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("objective", ["ns", "nce", "ds", "hs"])
@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_one_thread_equals_the_sequential_reference(architecture, objective):
    rng = np.random.default_rng(7)
    input_table = rng.normal(0, 0.5, [V, D]).astype(np.float32)
    output_table = rng.normal(0, 0.5, [V, D]).astype(np.float32)
    batch = random_batch(architecture, rng)
    negatives = random_negatives(batch, architecture, rng) if objective != "hs" else np.zeros([B, 0], np.int32)
    options, reference_options = nce_options(rng) if objective == "nce" else ({}, {})
    if objective == "hs":
        tree = build_huffman(np.sort(rng.integers(1, 1000, size=V))[::-1])
        options = {"huffman": (tree.points, tree.codes, tree.lengths)}
        reference_options = {"hs_points": tree.points, "hs_codes": tree.codes, "hs_lengths": tree.lengths}

    inputs, outputs = tf.Variable(input_table), tf.Variable(output_table)
    losses = kernels.sgd_step(inputs, outputs, {k: tf.constant(v) for k, v in batch.items()}, negatives,
                              LEARNING_RATE, architecture=architecture, objective=objective, max_threads=1,
                              **options)
    expected_input, expected_output = input_table.copy(), output_table.copy()
    expected_losses = reference.sgd_step(expected_input, expected_output, batch, architecture=architecture,
                                         objective=objective, negatives=negatives, learning_rate=LEARNING_RATE,
                                         **reference_options)

    # The batch changed the tables by far more than the tolerance, so agreement is not vacuous.
    assert np.abs(expected_input - input_table).max() > 0.05
    assert np.abs(expected_output - output_table).max() > 0.05
    assert_equal_to_reference((inputs, outputs, losses), (expected_input, expected_output, expected_losses))
    if objective == "nce":
        np.testing.assert_allclose(options["output_bias"].numpy(), reference_options["output_bias"], atol=2e-5)


@pytest.mark.parametrize("objective", ["ns", "nce", "ds"])
@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_per_pair_draws_equal_the_reference_fed_the_same_draws(architecture, objective):
    """With ``pair_noise`` the op draws K fresh negatives for every pair (word2vec.c's way). Fed the draws that
    :func:`reference.draw_pair_negatives` computes independently from the same key and alias tables, the
    sequential reference gives the same tables and losses."""
    rng = np.random.default_rng(11)
    input_table = rng.normal(0, 0.5, [V, D]).astype(np.float32)
    output_table = rng.normal(0, 0.5, [V, D]).astype(np.float32)
    batch = random_batch(architecture, rng)
    noise = unigram(np.sort(rng.integers(1, 1000, size=V))[::-1])
    seed = (12345, 7)
    options, reference_options = nce_options(rng) if objective == "nce" else ({}, {})
    inputs, outputs = tf.Variable(input_table), tf.Variable(output_table)
    losses = kernels.sgd_step(inputs, outputs, {k: tf.constant(v) for k, v in batch.items()},
                              np.zeros([B, 0], np.int32), LEARNING_RATE, architecture=architecture,
                              objective=objective, max_threads=1, pair_noise=(noise.threshold, noise.alias, K),
                              seed=tf.constant(seed, tf.int64), **options)
    pairs = batch["labels"].shape[1] if architecture == "skipgram" else 1
    drawn = reference.draw_pair_negatives(seed, noise.threshold, noise.alias, B, pairs, K)
    if architecture == "skipgram":  # the pairs of one example got different draws
        assert len({tuple(row) for row in drawn.reshape(-1, K)}) > B
    expected_input, expected_output = input_table.copy(), output_table.copy()
    expected_losses = reference.sgd_step(expected_input, expected_output, batch, architecture=architecture,
                                         objective=objective, negatives=drawn, learning_rate=LEARNING_RATE,
                                         **reference_options)
    assert_equal_to_reference((inputs, outputs, losses), (expected_input, expected_output, expected_losses))


def test_per_pair_draws_follow_the_noise_distribution():
    """The op's draws (which the test above ties to :func:`reference.draw_pair_negatives`) are unigram^0.75:
    200,000 draws over 30 words, chi-square below its 99.9% point for 29 degrees of freedom (58.3)."""
    counts = np.sort(np.random.default_rng(3).integers(1, 1000, size=V))[::-1]
    noise = unigram(counts)
    drawn = reference.draw_pair_negatives((1, 2), noise.threshold, noise.alias, 4000, 10, 5).ravel()
    observed = np.bincount(drawn, minlength=V)
    expected = noise.probabilities * drawn.size
    assert ((observed - expected) ** 2 / expected).sum() < 58.3


def test_the_reference_depends_on_the_order_of_updates():
    """Guard for the test above: a batched (simultaneous) update differs from the sequential one by far more
    than its tolerance, so a kernel that applied the batch's gradients at once would fail it."""
    rng = np.random.default_rng(7)
    input_table = rng.normal(0, 0.5, [V, D]).astype(np.float64)
    output_table = rng.normal(0, 0.5, [V, D]).astype(np.float64)
    batch = random_batch("skipgram", rng)
    negatives = random_negatives(batch, "skipgram", rng)
    sequential_input, sequential_output = input_table.copy(), output_table.copy()
    reference.sgd_step(sequential_input, sequential_output, batch, architecture="skipgram", objective="ns",
                       negatives=negatives, learning_rate=LEARNING_RATE)
    simultaneous_input, simultaneous_output = input_table.copy(), output_table.copy()
    for b in range(B):  # each example applied to the untouched tables, the updates summed
        one = {key: value[b:b + 1] for key, value in batch.items()}
        start_input, start_output = input_table.copy(), output_table.copy()
        reference.sgd_step(start_input, start_output, one, architecture="skipgram", objective="ns",
                           negatives=negatives[b:b + 1], learning_rate=LEARNING_RATE)
        simultaneous_input += start_input - input_table
        simultaneous_output += start_output - output_table
    assert np.abs(simultaneous_input - sequential_input).max() > 100 * 2e-5
    assert np.abs(simultaneous_output - sequential_output).max() > 100 * 2e-5
