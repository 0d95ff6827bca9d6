"""The objectives behind losses.get: interface, formulas, padding, hits, soft targets, sparsity, XLA."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from tfw2v import losses

from objective_calls import one_input

V, D, B, T, K = 20, 6, 4, 3, 5
COUNTS = (1000 // np.arange(1, V + 1)).astype(np.int64)
SAMPLED = ("sampled_softmax", "ds", "nce", "ns")


def make(name, vocab_size=V, dim=D, seed=0, **options):
    """An objective whose weights are random (zero output tables would hide most mistakes)."""
    options = {"counts": (10**6 // np.arange(1, vocab_size + 1)).astype(np.int64), "negatives": K, **options}
    layer = losses.get(name, vocab_size, dim, seed=seed, **options)
    rng = np.random.default_rng(seed)
    for variable in layer.trainable_variables:
        variable.assign(rng.normal(scale=0.5, size=variable.shape))
    return layer


def inputs(seed=0, batch=B, labels_per_example=T):
    rng = np.random.default_rng(seed)
    hidden = tf.constant(rng.normal(size=(batch, D)), tf.float32)
    labels = tf.constant(rng.integers(0, V, (batch, labels_per_example)), tf.int32)
    weights = tf.fill([batch, labels_per_example], 1.0 / labels_per_example)
    return hidden, labels, weights


def loss_and_grads(layer, hidden, labels, weights, **call_kwargs):
    """Summed loss and dense gradients w.r.t. hidden and every trainable weight, as numpy."""
    with tf.GradientTape() as tape:
        tape.watch(hidden)
        loss = one_input(layer, hidden, labels, weights, training=True, **call_kwargs)
    grads = tape.gradient(loss, [hidden, *layer.trainable_variables])
    return loss.numpy(), [tf.convert_to_tensor(g).numpy() for g in grads]


def assert_same(first, second, atol=1e-5):
    np.testing.assert_allclose(first[0], second[0], rtol=1e-5, atol=atol)
    for a, b in zip(first[1], second[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=atol)


def softplus(x):
    return np.logaddexp(0.0, x)


def reference_loss(name, layer, hidden, labels, weights, sampled_ids):
    """The docstring formulas, one example, label and sample at a time, in float64."""
    table = layer.output_embeddings.numpy().astype(np.float64)
    bias = layer.output_biases.numpy().astype(np.float64) if hasattr(layer, "output_biases") else np.zeros(V)
    p, k = layer.noise.probabilities, sampled_ids.shape[-1]
    log_expected = {"ns": 0, "ds": 0, "nce": np.log(k * p), "sampled_softmax": np.log(1 - (1 - p) ** k)}
    losses_ = []
    for b in range(len(hidden)):
        z = np.asarray(hidden[b], np.float64) @ table.T + bias - log_expected[name]
        samples = sampled_ids[b] if sampled_ids.ndim == 2 else sampled_ids
        total = 0.0
        for y, w in zip(labels[b], weights[b]):
            negatives = [n for n in samples if n != y]
            if name in ("ns", "nce"):
                term = softplus(-z[y]) + sum(softplus(z[n]) for n in negatives)
            else:
                if name == "sampled_softmax":
                    negatives = sorted(set(negatives))
                term = np.logaddexp.reduce([z[y]] + [z[n] for n in negatives]) - z[y]
            total += w * term
        losses_.append(total)
    return np.array(losses_)


# ------------------------------------------------------------------------------------------ interface


def test_get_builds_every_objective_with_a_zero_output_table():
    for name in losses.NAMES:
        layer = losses.get(name, V, D, counts=COUNTS, seed=0)
        assert isinstance(layer, losses.Objective)
        table = layer.output_embeddings
        assert table.shape == (V, D) and table.path.endswith("output_embeddings")
        assert not np.any(table.numpy())
        has_bias = name in ("softmax", "nce", "sampled_softmax")
        assert hasattr(layer, "output_biases") == has_bias
        assert len(layer.trainable_variables) == 1 + has_bias


@pytest.mark.parametrize(
    "name, options, parameter",
    [
        ("word2vec", {}, "name"),
        ("ns", {"negatives": 0}, "negatives"),
        ("nce", {"noise": "zipf"}, "noise"),
        ("ds", {"share_negatives": "per_pair"}, "share_negatives"),
        ("ns", {"negative": 5}, "negative"),
        ("ns", {"counts": COUNTS[:-1]}, "counts"),
        ("hs", {"counts": COUNTS[::-1].copy()}, "descending"),
        ("softmax", {"vocab_size": 0}, "vocab_size"),
    ],
)
def test_get_raises_value_errors_naming_the_parameter(name, options, parameter):
    options = {"vocab_size": V, "dim": D, "counts": COUNTS, **options}
    with pytest.raises(ValueError, match=parameter):
        losses.get(name, **options)


@pytest.mark.parametrize("name", ["hs", "sampled_softmax", "ns"])
def test_an_objective_built_without_its_counts_refuses_to_score_until_it_gets_them(name):
    """``from_config`` builds objectives before their counts arrive (as a .keras asset); using one before then
    is an error naming the counts, never a silently uniform noise or an empty tree."""
    layer = losses.get(name, vocab_size=V, dim=D, counts=None, seed=0)
    assert layer.needs_counts
    hidden = tf.random.stateless_normal([2, D], seed=[1, 2])
    labels, weights = tf.constant([[1], [2]]), tf.ones([2, 1])
    with pytest.raises(ValueError, match="counts"):
        one_input(layer, hidden, labels, weights)
    layer.set_counts(COUNTS)
    complete = losses.get(name, vocab_size=V, dim=D, counts=COUNTS, seed=0)
    np.testing.assert_array_equal(one_input(layer, hidden, labels, weights),
                                  one_input(complete, hidden, labels, weights))


def test_options_an_objective_does_not_use_are_ignored():
    softmax = losses.get("softmax", V, D, counts=COUNTS, negatives=0, noise="zipf", seed=1)
    assert isinstance(softmax, losses.Softmax)
    assert losses.get("ns", V, D, noise="uniform").noise.vocab_size == V  # only unigram noise needs counts


@pytest.mark.parametrize("name", losses.NAMES)
def test_per_example_float32_loss_for_int32_and_int64_labels(name):
    layer = make(name)
    hidden, labels, weights = inputs()
    kwargs = {"sampled_ids": layer.sample_negatives(B)} if name in SAMPLED else {}
    loss32 = one_input(layer, hidden, labels, weights, **kwargs)
    loss64 = one_input(layer, hidden, tf.cast(labels, tf.int64), weights, **kwargs)
    assert loss32.shape == (B,) and loss32.dtype == tf.float32
    np.testing.assert_allclose(loss32, loss64)
    assert np.all(loss32.numpy() > 0)


@pytest.mark.parametrize("share, shape", [("example", (B, K)), ("batch", (K,))])
def test_sampling_is_shaped_by_share_negatives_and_deterministic_for_a_seed(share, shape):
    first, second = make("ns", share_negatives=share, seed=3), make("ns", share_negatives=share, seed=3)
    hidden, labels, weights = inputs()
    loss = one_input(first, hidden, labels, weights)
    np.testing.assert_array_equal(loss, one_input(second, hidden, labels, weights))
    assert not np.array_equal(one_input(first, hidden, labels, weights), loss)  # fresh samples at every call
    assert tuple(first.sample_negatives(B).shape) == shape


# ------------------------------------------------------------------------------------------ formulas


@pytest.mark.parametrize("share", ["example", "batch"])
@pytest.mark.parametrize("name", SAMPLED)
def test_sampled_objectives_compute_their_docstring_formula(name, share):
    """Soft weights, repeated samples and accidental hits included."""
    layer = make(name, share_negatives=share)
    hidden, labels, weights = inputs()
    sampled = layer.sample_negatives(B).numpy()
    sampled.reshape(-1)[:3] = [labels[0, 0], labels[0, 0], labels[1, 2]]  # hits, and a repeated id
    loss = one_input(layer, hidden, labels, weights, sampled_ids=tf.constant(sampled)).numpy()
    expected = reference_loss(name, layer, hidden.numpy(), labels.numpy(), weights.numpy(), sampled)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_softmax_is_the_full_cross_entropy():
    layer = make("softmax")
    hidden, labels, weights = inputs()
    logits = hidden.numpy() @ layer.output_embeddings.numpy().T + layer.output_biases.numpy()
    log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    expected = -np.sum(weights.numpy() * np.take_along_axis(log_p, labels.numpy(), axis=1), axis=1)
    np.testing.assert_allclose(one_input(layer, hidden, labels, weights), expected, rtol=1e-5)


def test_hs_is_the_log_sigmoid_sum_along_the_huffman_path():
    layer = make("hs")
    hidden, labels, weights = inputs()
    tree, table = layer.tree, layer.output_embeddings.numpy()
    expected = []
    for h, ys, ws in zip(hidden.numpy(), labels.numpy(), weights.numpy()):
        path_losses = [
            sum(
                softplus(-(1 - 2 * tree.codes[y, j]) * h @ table[tree.points[y, j]])
                for j in range(tree.lengths[y])
            )
            for y in ys
        ]
        expected.append(np.dot(ws, path_losses))
    np.testing.assert_allclose(one_input(layer, hidden, labels, weights), expected, rtol=1e-5)


# ------------------------------------------------------------------------------------------ padding and hits


@pytest.mark.parametrize("name", losses.NAMES)
def test_padding_changes_neither_loss_nor_gradients(name):
    layer = make(name)
    hidden, labels, weights = inputs(labels_per_example=2)
    kwargs = {"sampled_ids": layer.sample_negatives(B)} if name in SAMPLED else {}
    unpadded = loss_and_grads(layer, hidden, labels, weights, **kwargs)
    for pad_id in (0, 7):
        padded_labels = tf.concat([labels, tf.fill([B, 2], pad_id)], axis=1)
        padded_weights = tf.concat([weights, tf.zeros([B, 2])], axis=1)
        assert_same(loss_and_grads(layer, hidden, padded_labels, padded_weights, **kwargs), unpadded)


def test_an_all_padding_example_has_zero_loss_and_gradient():
    for name in losses.NAMES:
        layer = make(name)
        hidden, labels, _ = inputs(batch=1)
        loss, grads = loss_and_grads(layer, hidden, labels, tf.zeros([1, T]))
        assert loss[0] == 0 and not any(np.any(g) for g in grads)


@pytest.mark.parametrize("name", ["ns", "ds"])
def test_a_sample_equal_to_the_label_is_not_a_negative(name):
    layer = make(name)
    hidden, labels, weights = inputs(batch=1, labels_per_example=1)
    y = int(labels[0, 0])
    others = [n for n in range(V) if n != y][:3]
    hits = tf.constant([[others[0], y, others[1], y, others[2]]])
    with_hits = loss_and_grads(layer, hidden, labels, weights, sampled_ids=hits)
    without = loss_and_grads(layer, hidden, labels, weights, sampled_ids=tf.constant([others]))
    assert_same(with_hits, without)


def test_sampled_softmax_candidates_are_the_distinct_non_hit_samples():
    """Hits and repeats drop out; k (in Q) stays the number of draws."""
    layer = make("sampled_softmax")
    hidden, labels, weights = inputs(batch=1, labels_per_example=1)
    y = int(labels[0, 0])
    a, b = [n for n in range(V) if n != y][:2]
    with_hit = loss_and_grads(layer, hidden, labels, weights, sampled_ids=tf.constant([[a, y, b, a]]))
    with_repeats = loss_and_grads(layer, hidden, labels, weights, sampled_ids=tf.constant([[a, b, b, a]]))
    assert_same(with_hit, with_repeats)


# ------------------------------------------------------------------------------------------ soft targets


@pytest.mark.parametrize(
    "name, share", [(name, "example") for name in losses.NAMES] + [(name, "batch") for name in SAMPLED]
)
def test_one_soft_target_example_is_the_mean_of_its_single_label_examples(name, share):
    """Equality given the same samples: the soft example's K samples are reused by each expanded pair."""
    m = 4
    layer = make(name, share_negatives=share)
    hidden, labels, _ = inputs(batch=1, labels_per_example=m)
    soft_kwargs, expanded_kwargs = {}, {}
    if name in SAMPLED:
        sampled = layer.sample_negatives(1)
        hit = [[0, 0]] if share == "example" else [[0]]
        sampled = tf.tensor_scatter_nd_update(sampled, hit, labels[0, :1])
        soft_kwargs["sampled_ids"] = sampled
        expanded_kwargs["sampled_ids"] = tf.tile(sampled, [m, 1]) if share == "example" else sampled

    soft = loss_and_grads(layer, hidden, labels, tf.fill([1, m], 1.0 / m), **soft_kwargs)
    with tf.GradientTape() as tape:
        tape.watch(hidden)
        mean = tf.reduce_mean(
            one_input(layer, tf.repeat(hidden, m, axis=0), tf.transpose(labels), tf.ones([m, 1]), **expanded_kwargs)
        )
    grads = tape.gradient(mean, [hidden, *layer.trainable_variables])
    assert_same(soft, (mean.numpy(), [tf.convert_to_tensor(g).numpy() for g in grads]))


def test_shared_negatives_have_the_expected_loss_of_fresh_negatives_per_pair():
    """Where the equality stops: word2vec.c draws fresh negatives for every (centre, context) pair, we draw K
    per example and share them among its labels. Sample by sample the two differ; in expectation they agree,
    because each label's term only depends on its own label and on samples from the same Pn:

        E[L_soft] = Σ_t w_t · (softplus(-s_{y_t}) + K · Σ_w Pn(w) · [w ≠ y_t] · softplus(s_w))

    which is the mean of the expanded pairs' expected losses. Checked for ns on 20,000 independent draws of
    one soft example: the mean must lie within 5 standard errors of the exact expectation."""
    draws = 20_000
    layer = make("ns", seed=5)
    hidden, labels, _ = inputs(batch=1, labels_per_example=3)
    weights = np.array([0.5, 0.3, 0.2])
    repeated_weights = tf.constant(np.tile(weights, (draws, 1)), tf.float32)
    losses_ = one_input(
        layer, tf.repeat(hidden, draws, axis=0), tf.repeat(labels, draws, axis=0), repeated_weights
    ).numpy()
    s = hidden.numpy()[0].astype(np.float64) @ layer.output_embeddings.numpy().T
    p = layer.noise.probabilities
    exact = sum(
        w * (softplus(-s[y]) + K * np.sum(p * (np.arange(V) != y) * softplus(s)))
        for y, w in zip(labels.numpy()[0], weights)
    )
    assert abs(losses_.mean() - exact) < 5 * losses_.std() / np.sqrt(draws)


# ------------------------------------------------------------------------------------------ sparsity and XLA


@pytest.mark.parametrize("name", ["sampled_softmax", "ds", "nce", "ns", "hs"])
def test_gradients_are_sparse_rows_and_xla_compiles(name):
    layer = make(name, vocab_size=5000, share_negatives="example")
    hidden, labels, weights = inputs()

    def step(hidden, labels, weights, **kwargs):
        with tf.GradientTape() as tape:
            tape.watch(hidden)
            loss = one_input(layer, hidden, labels, weights, training=True, **kwargs)
        return loss, tape.gradient(loss, [hidden, *layer.trainable_variables])

    kwargs = {"sampled_ids": layer.sample_negatives(B)} if name in SAMPLED else {}
    eager_loss, eager_grads = step(hidden, labels, weights, **kwargs)
    xla_loss, xla_grads = tf.function(step, jit_compile=True)(hidden, labels, weights, **kwargs)
    rows_read = B * T * layer.tree.max_length if name == "hs" else B * (T + K)
    for eager, xla in zip(eager_grads[1:], xla_grads[1:]):
        assert isinstance(eager, tf.IndexedSlices) and isinstance(xla, tf.IndexedSlices)
        assert eager.indices.shape[0] <= rows_read < layer.vocab_size
    np.testing.assert_allclose(xla_loss, eager_loss, rtol=1e-5)
    for eager, xla in zip(eager_grads, xla_grads):
        np.testing.assert_allclose(
            tf.convert_to_tensor(xla), tf.convert_to_tensor(eager), rtol=1e-4, atol=1e-6
        )
    if name in SAMPLED:  # the layer's own sampling compiles too
        fresh = tf.function(step, jit_compile=True)(hidden, labels, weights)[0]
        assert fresh.shape == (B,) and np.all(np.isfinite(fresh))


def test_full_softmax_also_compiles_with_xla():
    layer = make("softmax")
    hidden, labels, weights = inputs()
    compiled = tf.function(functools.partial(one_input, layer), jit_compile=True)
    np.testing.assert_allclose(compiled(hidden, labels, weights), one_input(layer, hidden, labels, weights), rtol=1e-5)


@pytest.mark.parametrize("labels_per_example", [1, 3])
@pytest.mark.parametrize("share", ["example", "batch"])
@pytest.mark.parametrize("name", losses.NAMES)
def test_p_input_vectors_are_their_pairs_scored_one_input_at_a_time(name, share, labels_per_example):
    """The one signature, ``L_b = Σ_p Σ_t w_bpt ℓ(h_bp, y_bt)``: ``hidden [B, P, D]`` against ``labels [B, T]``
    (``T = 1`` is word2vec.c's skip-gram orientation) has the loss and gradients of ``P`` calls with one input
    vector each, the same labels and the same samples."""
    layer = make(name, share_negatives=share) if name in SAMPLED else make(name)
    rng = np.random.default_rng(7)
    pairs = 4
    hidden = tf.constant(rng.normal(size=(B, pairs, D)), tf.float32)
    labels = tf.constant(rng.integers(0, V, (B, labels_per_example)), tf.int32)
    input_weights = np.array([[0.5, 0.5, 0.0, 0.0], [0.25] * 4, [1.0, 0.0, 0.0, 0.0], [0.0, 0.2, 0.3, 0.5]])
    label_weights = rng.dirichlet(np.ones(labels_per_example), B)
    weights = tf.constant(input_weights[:, :, None] * label_weights[:, None, :], tf.float32)  # [B, P, T]
    kwargs = {"sampled_ids": layer.sample_negatives(B)} if name in SAMPLED else {}
    with tf.GradientTape() as tape:
        tape.watch(hidden)
        together = layer(hidden, labels, weights, training=True, **kwargs)
    shared = (together.numpy(), [tf.convert_to_tensor(g).numpy()
                                 for g in tape.gradient(together, [hidden, *layer.trainable_variables])])

    with tf.GradientTape() as tape:
        tape.watch(hidden)
        one_by_one = sum(
            one_input(layer, hidden[:, p], labels, weights[:, p], training=True, **kwargs) for p in range(pairs)
        )
    grads = tape.gradient(one_by_one, [hidden, *layer.trainable_variables])
    assert_same(shared, (one_by_one.numpy(), [tf.convert_to_tensor(g).numpy() for g in grads]))


@pytest.mark.parametrize("name", losses.NAMES)
def test_inputs_of_the_wrong_rank_are_refused_naming_the_argument(name):
    """The old ``hidden [B, D]`` form is an error that names the argument, never a silently broadcast loss."""
    layer = make(name)
    hidden, labels, weights = inputs()
    with pytest.raises(ValueError, match="hidden must have rank 3"):
        layer(hidden, labels, weights[:, None, :])
    with pytest.raises(ValueError, match="pair_weights must have rank 3"):
        layer(hidden[:, None, :], labels, weights)
    with pytest.raises(ValueError, match="labels must have rank 2"):
        layer(hidden[:, None, :], labels[:, :, None], weights[:, None, :])
