"""The identities of DESIGN.md §6 and the references, checked with tf.GradientTape on small tensors."""

import numpy as np
import tensorflow as tf

from tfw2v import losses

from objective_calls import one_input

D, B = 6, 5


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def with_random_weights(layer, seed=0):
    rng = np.random.default_rng(seed)
    for variable in layer.trainable_variables:
        variable.assign(rng.normal(scale=0.5, size=variable.shape))
    return layer


def loss_and_grads(layer, hidden, labels, weights, variables=None, **call_kwargs):
    with tf.GradientTape() as tape:
        tape.watch(hidden)
        loss = one_input(layer, hidden, labels, weights, training=True, **call_kwargs)
    return loss.numpy(), dense(tape.gradient(loss, [hidden, *(variables or layer.trainable_variables)]))


def dense(grads):
    return [tf.convert_to_tensor(g).numpy() for g in grads]


def assert_same(first, second):
    np.testing.assert_allclose(first[0], second[0], rtol=1e-5)
    for a, b in zip(first[1], second[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nce_with_unit_expected_counts_is_negative_sampling():
    """Uniform noise with k = V gives k·Pn(w) = 1, i.e. log(k·Pn) = 0: NCE (zero bias) is NS, soft labels,
    padding and accidental hits included."""
    vocab_size = 12
    nce = losses.get("nce", vocab_size, D, noise="uniform", negatives=vocab_size, seed=0)
    ns = losses.get("ns", vocab_size, D, noise="uniform", negatives=vocab_size)
    table = np.random.default_rng(1).normal(size=(vocab_size, D))
    nce.output_embeddings.assign(table)
    ns.output_embeddings.assign(table)
    np.testing.assert_allclose(nce.log_expected_count(tf.range(vocab_size), vocab_size), 0, atol=1e-6)

    rng = np.random.default_rng(2)
    hidden = tf.constant(rng.normal(size=(B, D)), tf.float32)
    labels = tf.constant(rng.integers(0, vocab_size, (B, 3)), tf.int32)
    weights = tf.constant([[0.5, 0.5, 0.0]] * B)
    sampled = nce.sample_negatives(B)
    nce_loss, (nce_hidden, nce_table, _) = loss_and_grads(nce, hidden, labels, weights, sampled_ids=sampled)
    ns_loss, (ns_hidden, ns_table) = loss_and_grads(ns, hidden, labels, weights, sampled_ids=sampled)
    np.testing.assert_allclose(nce_loss, ns_loss, rtol=1e-5)
    np.testing.assert_allclose(nce_hidden, ns_hidden, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nce_table, ns_table, rtol=1e-5, atol=1e-6)


def test_ds_and_ns_gradients_differ_only_by_softmax_versus_sigmoid_weights():
    """With a = h·u_c and b_k = h·u_{n_k}, the reference derives ∂L_NS/∂a = 1 - σ(a), ∂L_NS/∂b_k = -σ(b_k)
    and ∂L_DS/∂a = 1 - f(a), ∂L_DS/∂b_k = -f(b_k), f the softmax over (a, b_1 … b_K). Our losses are -L.
    Every id is used by one example only, so the table gradient of row w is (∂loss/∂s_w)·h: reading the
    per-score gradients off it checks the chain rule too; the hidden gradient is Σ_w (∂loss/∂s_w)·u_w."""
    vocab_size, negatives = 40, 4
    labels = tf.constant([[0], [1], [2]])
    sampled = tf.constant(np.arange(3, 3 + 3 * negatives).reshape(3, negatives))
    hidden = tf.constant(np.random.default_rng(3).normal(size=(3, D)), tf.float32)
    table = np.random.default_rng(4).normal(scale=0.7, size=(vocab_size, D)).astype(np.float32)
    for name, weight in (("ns", sigmoid), ("ds", lambda scores: np.exp(scores) / np.exp(scores).sum())):
        layer = losses.get(name, vocab_size, D, noise="uniform", negatives=negatives)
        layer.output_embeddings.assign(table)
        _, (hidden_grad, table_grad) = loss_and_grads(
            layer, hidden, labels, tf.ones([3, 1]), sampled_ids=sampled
        )
        for b in range(3):
            h = hidden.numpy()[b].astype(np.float64)
            ids = np.concatenate([labels.numpy()[b], sampled.numpy()[b]])
            scores = table[ids] @ h
            if name == "ns":
                expected = np.concatenate([[-(1 - weight(scores[0]))], weight(scores[1:])])
            else:
                f = weight(scores)
                expected = np.concatenate([[-(1 - f[0])], f[1:]])
            np.testing.assert_allclose(table_grad[ids], expected[:, None] * h[None, :], rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(hidden_grad[b], expected @ table[ids], rtol=1e-4, atol=1e-6)


def test_negative_sampling_gradient_is_between_half_and_all_of_the_ml_gradient():
    """The blog's setting, with exact expectations on V = 8 words: a self-normalised model with scores
    s_w = log P_θ(w) (D = V, output table I, so ∂/∂hidden = ∂/∂s), data distribution P_d, and k·Pn(w) = 1, so
    that k·E_Pn[g(w)] = Σ_w g(w): the V words once each as samples.

    ML (full softmax, soft target P_d):  ∂/∂s_w = P_θ(w) - P_d(w).
    NS (blog):  ∂/∂s_w = (P_θ(w) - P_d(w)) / (1 + P_θ(w)),   a factor in [1/2, 1] per word.

    The blog's expectations are independent (a noise word may equal the data word), so its NS is evaluated
    with noise ids V … 2V-1 whose output rows copy words 0 … V-1 and never equal a label. word2vec.c, and our
    layer, skip a noise word equal to the data word; that exact expectation is σ(s_w) - P_d(w), i.e. the
    blog's gradient minus P_d(w)·σ(s_w), which the bound does not cover."""
    vocab_size = 8
    rng = np.random.default_rng(5)
    p_model, p_data = rng.dirichlet(np.ones(vocab_size)), rng.dirichlet(np.ones(vocab_size))
    hidden = tf.constant(np.log(p_model)[None], tf.float32)
    labels, weights = tf.range(vocab_size)[None], tf.constant(p_data[None], tf.float32)
    identity = np.eye(vocab_size)

    softmax = losses.get("softmax", vocab_size, vocab_size)
    softmax.output_embeddings.assign(identity)
    ml = loss_and_grads(softmax, hidden, labels, weights)[1][0][0]
    np.testing.assert_allclose(ml, p_model - p_data, atol=1e-6)

    blog_ns = losses.get("ns", 2 * vocab_size, vocab_size, noise="uniform")
    blog_ns.output_embeddings.assign(np.vstack([identity, identity]))
    copies = tf.range(vocab_size, 2 * vocab_size)[None]
    ns = loss_and_grads(blog_ns, hidden, labels, weights, sampled_ids=copies)[1][0][0]
    np.testing.assert_allclose(ns, ml / (1 + p_model), rtol=1e-5, atol=1e-7)
    ratio = ns / ml
    assert np.all((ratio >= 0.5) & (ratio <= 1.0))

    word2vec_ns = losses.get("ns", vocab_size, vocab_size, noise="uniform")
    word2vec_ns.output_embeddings.assign(identity)
    every_word = tf.range(vocab_size)[None]
    masked = loss_and_grads(word2vec_ns, hidden, labels, weights, sampled_ids=every_word)[1][0][0]
    sigma = sigmoid(np.log(p_model))
    np.testing.assert_allclose(masked, sigma - p_data, atol=1e-6)
    np.testing.assert_allclose(masked, ns - p_data * sigma, atol=1e-6)


VOCAB = 20
COUNTS = (1000 // np.arange(1, VOCAB + 1)).astype(np.int64)


def full_softmax_and_inputs(seed=6, batch=64):
    rng = np.random.default_rng(seed)
    full = with_random_weights(losses.get("softmax", VOCAB, D), seed)
    hidden = tf.constant(rng.normal(size=(batch, D)), tf.float32)
    labels = tf.constant(rng.integers(0, VOCAB, (batch, 1)), tf.int32)
    return full, hidden, labels, tf.ones([batch, 1])


def test_sampled_softmax_approaches_full_softmax_as_samples_cover_the_vocabulary():
    """Mean |sampled - full| over 64 examples falls as k grows; at k = 4096 draws every word is a candidate
    (P(a word is missed) < 1e-15) with Q = 1, and the loss is the full softmax."""
    full, hidden, labels, weights = full_softmax_and_inputs()
    exact = one_input(full, hidden, labels, weights).numpy()
    errors = []
    for k in (2, 8, 32, 128, 4096):
        sampled = losses.get("sampled_softmax", VOCAB, D, counts=COUNTS, negatives=k, seed=k)
        sampled.output_embeddings.assign(full.output_embeddings)
        sampled.output_biases.assign(full.output_biases)
        errors.append(np.mean(np.abs(one_input(sampled, hidden, labels, weights).numpy() - exact)))
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-5


def test_ds_with_the_whole_vocabulary_as_candidates_is_full_softmax():
    """DS's denominator gains one term per new candidate: the error falls to exactly 0 at all V words."""
    full, hidden, labels, weights = full_softmax_and_inputs()
    full.output_biases.assign(tf.zeros([VOCAB]))  # ds has no bias
    exact = one_input(full, hidden, labels, weights).numpy()
    ds = losses.get("ds", VOCAB, D, counts=COUNTS)
    ds.output_embeddings.assign(full.output_embeddings)
    order = np.random.default_rng(7).permutation(VOCAB)
    errors = [
        np.max(np.abs(one_input(ds, hidden, labels, weights, sampled_ids=tf.constant(order[:n])).numpy() - exact))
        for n in (1, 5, 10, 15, VOCAB)
    ]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-5


def test_nce_equals_tf_nn_nce_loss_given_the_same_samples():
    """Single label, batch-shared samples with accidental hits and a repeat, expected counts k·Pn.

    The repeat is not a hit: TF's ``compute_accidental_hits`` assumes distinct samples and removes only the
    last copy of a repeated hit, where we (like word2vec.c's ``continue``) skip every copy."""
    layer = with_random_weights(
        losses.get("nce", VOCAB, D, counts=COUNTS, negatives=6, share_negatives="batch")
    )
    rng = np.random.default_rng(8)
    hidden = tf.constant(rng.normal(size=(B, D)), tf.float32)
    labels = tf.constant(rng.integers(0, VOCAB, (B, 1)), tf.int64)
    hits = sorted(set(labels.numpy().ravel()))[:2]
    others = sorted(set(range(VOCAB)) - set(labels.numpy().ravel()))
    sampled = tf.constant([hits[0], others[0], others[0], others[1], others[2], hits[1]], tf.int64)
    expected_count = lambda ids: tf.exp(layer.log_expected_count(ids, 6))
    variables = [layer.output_embeddings.value, layer.output_biases.value]
    ours = loss_and_grads(layer, hidden, labels, tf.ones([B, 1]), variables, sampled_ids=sampled)
    sampled_values = (sampled, expected_count(labels), expected_count(sampled))
    with tf.GradientTape() as tape:
        tape.watch(hidden)
        loss = tf.nn.nce_loss(
            *variables, labels, hidden, num_sampled=6, num_classes=VOCAB, sampled_values=sampled_values,
            remove_accidental_hits=True,
        )
    assert_same(ours, (loss.numpy(), dense(tape.gradient(loss, [hidden, *variables]))))


def test_sampled_softmax_equals_tf_nn_sampled_softmax_loss_given_the_same_samples():
    """Single label, batch-shared distinct samples (as TF's unique samplers give) with an accidental hit,
    expected counts Q(w) = 1 - (1 - Pn(w))**k."""
    layer = with_random_weights(
        losses.get("sampled_softmax", VOCAB, D, counts=COUNTS, negatives=6, share_negatives="batch")
    )
    rng = np.random.default_rng(9)
    hidden = tf.constant(rng.normal(size=(B, D)), tf.float32)
    labels = tf.constant(rng.integers(0, VOCAB, (B, 1)), tf.int64)
    others = [w for w in range(VOCAB) if w != int(labels[0, 0])]
    sampled = tf.constant([int(labels[0, 0]), *others[:5]], tf.int64)
    expected_count = lambda ids: tf.exp(layer.log_expected_count(ids, 6))
    p = layer.noise.probabilities
    np.testing.assert_allclose(expected_count(tf.range(VOCAB)), 1 - (1 - p) ** 6, rtol=1e-5)
    variables = [layer.output_embeddings.value, layer.output_biases.value]
    ours = loss_and_grads(layer, hidden, labels, tf.ones([B, 1]), variables, sampled_ids=sampled)
    sampled_values = (sampled, expected_count(labels), expected_count(sampled))
    with tf.GradientTape() as tape:
        tape.watch(hidden)
        loss = tf.nn.sampled_softmax_loss(
            *variables, labels, hidden, num_sampled=6, num_classes=VOCAB, sampled_values=sampled_values,
            remove_accidental_hits=True,
        )
    assert_same(ours, (loss.numpy(), dense(tape.gradient(loss, [hidden, *variables]))))
