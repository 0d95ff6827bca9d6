"""Word2VecSGD as a user relies on it: the sparse averaging rule, the dense per-row cap, the schedule, its config."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfw2v import losses
from tfw2v.training.optimizer import Word2VecSGD, linear_decay

from objective_calls import one_input

LR = 0.5
V, D = 6, 3


def table(seed=0):
    return np.random.default_rng(seed).normal(size=(V, D)).astype(np.float32)


def apply_sparse(values, indices, start, **options):
    """The table after one step of a sparse gradient (``values`` [N, D] for rows ``indices``)."""
    variable = keras.Variable(start)
    gradient = tf.IndexedSlices(tf.constant(values, tf.float32), tf.constant(indices, tf.int32),
                                tf.constant([V, D], tf.int64))
    Word2VecSGD(LR, **options).apply([gradient], [variable])
    return keras.ops.convert_to_numpy(variable)


def test_rows_seen_once_get_plain_sgd():
    start, values = table(), table(1)[:4]
    after = apply_sparse(values, [4, 0, 2, 5], start, max_row_repeats=1.0)
    expected = start.copy()
    expected[[4, 0, 2, 5]] -= LR * values
    np.testing.assert_allclose(after, expected, rtol=1e-6, atol=1e-7)


def test_a_row_repeated_more_than_c_times_moves_c_times_the_mean_and_one_within_c_the_sum():
    c, n = 4.0, 10
    rng = np.random.default_rng(2)
    repeated, few = rng.normal(size=(n, D)), rng.normal(size=(3, D))  # row 1: 10 > c slices; row 3: 3 <= c
    start = table()
    after = apply_sparse(np.vstack([repeated, few]), [1] * n + [3] * 3, start, max_row_repeats=c)
    expected = start.copy()
    expected[1] -= LR * c * repeated.mean(axis=0)
    expected[3] -= LR * few.sum(axis=0)
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-6)
    untouched = [0, 2, 4, 5]
    np.testing.assert_array_equal(after[untouched], start[untouched])


def test_all_zero_padding_slices_are_not_counted_as_repeats():
    c = 2.0
    real = np.random.default_rng(3).normal(size=(3, D))
    values = np.vstack([real, np.zeros((5, D))])  # 3 real slices of row 2, 5 padding slices of row 2
    start = table()
    after = apply_sparse(values, [2] * 8, start, max_row_repeats=c)
    expected = start.copy()
    expected[2] -= LR * c * real.mean(axis=0)  # n = 3, not 8
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-6)


def test_dense_row_counts_gives_the_default_update():
    rng = np.random.default_rng(4)
    indices = rng.integers(0, V, 64)
    values = rng.normal(size=(64, D))
    values[::7] = 0.0  # some padding
    start = table()
    default = apply_sparse(values, indices, start, max_row_repeats=3.0)
    counted = apply_sparse(values, indices, start, max_row_repeats=3.0, dense_row_counts=True)
    np.testing.assert_allclose(counted, default, rtol=1e-6, atol=1e-7)
    assert not np.allclose(default, start)


def test_a_dense_gradient_is_applied_as_lr_times_g():
    start, gradient = table(), table(5)
    variable = keras.Variable(start)
    Word2VecSGD(LR).apply([tf.constant(gradient)], [variable])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), start - LR * gradient, rtol=1e-6, atol=1e-7)


def test_dense_rows_are_clipped_to_c_pairs_worth_and_small_rows_untouched():
    """Table rows: ``G_r · min(1, c·|h| / |G_r|)``; biases: ``g_r · min(1, c / |g_r|)``."""
    c, hidden_norm = 4.0, 0.5
    rows = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0], [-1.2, 1.6, 0.0]], np.float32)  # norms 5, 1, 2
    biases = np.array([-10.0, 3.0, 7.0, 0.0], np.float32)
    sparse = tf.IndexedSlices(tf.ones([2, D]), tf.constant([0, 1]), tf.constant([V, D]))
    capped_rows, capped_biases, passed, none = Word2VecSGD(LR, max_row_repeats=c).cap_dense_gradients(
        [tf.constant(rows), tf.constant(biases), sparse, None], tf.constant(hidden_norm))
    limit = c * hidden_norm  # 2
    np.testing.assert_allclose(capped_rows.numpy(), [[1.2, 1.6, 0.0], [0.0, 0.0, 1.0], [-1.2, 1.6, 0.0]],
                               rtol=1e-6)
    assert np.linalg.norm(capped_rows.numpy()[0]) == pytest.approx(limit, rel=1e-6)
    np.testing.assert_array_equal(capped_biases.numpy(), [-4.0, 3.0, 4.0, 0.0])
    assert passed is sparse and none is None


def test_full_softmax_row_pushed_by_many_pairs_is_capped_and_rows_with_little_mass_are_not():
    """The dense rule on a real full-softmax gradient: B examples with the same hidden vector ``h`` and label 0.

    With a zero table every ``p_v = 1/V``, so row 0 gets ``B·(1/V - 1)·h`` (B pairs push it) and every other row
    ``(B/V)·h``; its bias gets ``B·(1/V - 1)``, the others ``B/V``. With B = 64, V = 1000, c = 8: row 0 is cut to
    norm ``c·|h|`` (bias ``-c``), the others carry mass 0.064 < c and are untouched."""
    vocab, batch, c = 1000, 64, 8.0
    objective = losses.get("softmax", vocab, D)
    h = np.array([0.6, -0.8, 0.0], np.float32)  # |h| = 1
    hidden = tf.constant(np.tile(h, (batch, 1)))
    labels = tf.zeros([batch, 1], tf.int32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(one_input(objective, hidden, labels, tf.ones([batch, 1]), training=True))
    table_gradient, bias_gradient = tape.gradient(loss, [objective.output_embeddings, objective.output_biases])
    np.testing.assert_allclose(table_gradient.numpy()[0], batch * (1 / vocab - 1) * h, rtol=1e-5)

    capped_table, capped_bias = Word2VecSGD(LR, max_row_repeats=c).cap_dense_gradients(
        [table_gradient, bias_gradient], tf.reduce_mean(tf.norm(hidden, axis=-1)))
    np.testing.assert_allclose(capped_table.numpy()[0], -c * h, rtol=1e-5)
    assert capped_bias.numpy()[0] == pytest.approx(-c, rel=1e-6)
    np.testing.assert_array_equal(capped_table.numpy()[1:], table_gradient.numpy()[1:])
    np.testing.assert_array_equal(capped_bias.numpy()[1:], bias_gradient.numpy()[1:])
    np.testing.assert_allclose(capped_bias.numpy()[1:], batch / vocab, rtol=1e-5)


@pytest.mark.parametrize("seen, expected", [(0, 0.025), (250, 0.01875), (500, 0.0125), (999, 0.000025),
                                            (1000, 0.025e-4), (5000, 0.025e-4)])
def test_linear_decay_falls_from_alpha_to_alpha_times_floor(seen, expected):
    assert float(linear_decay(0.025, tf.constant(float(seen), tf.float64), tf.constant(1000.0, tf.float64))) \
        == pytest.approx(expected, rel=1e-6)


def test_linear_decay_with_no_total_counts_words_against_one_and_takes_a_floor():
    assert float(linear_decay(0.1, tf.constant(0.0), tf.constant(0.0), floor=0.5)) == pytest.approx(0.1)
    assert float(linear_decay(0.1, tf.constant(3.0), tf.constant(0.0), floor=0.5)) == pytest.approx(0.05)


def test_get_config_from_config_round_trip():
    optimizer = Word2VecSGD(0.05, max_row_repeats=8.0, dense_row_counts=True, name="sgd_for_test")
    config = optimizer.get_config()
    assert config["max_row_repeats"] == 8.0 and config["dense_row_counts"] is True
    restored = Word2VecSGD.from_config(config)
    assert type(restored) is Word2VecSGD
    assert restored.max_row_repeats == 8.0 and restored.dense_row_counts is True and restored.name == "sgd_for_test"
    assert float(restored.learning_rate) == pytest.approx(0.05)
    assert restored.get_config() == config


def test_max_row_repeats_must_be_positive():
    with pytest.raises(ValueError, match="max_row_repeats"):
        Word2VecSGD(0.025, max_row_repeats=0)
