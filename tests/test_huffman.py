"""Huffman tree: identical to word2vec.c's CreateBinaryTree, fast, and a proper distribution under hs."""

import heapq
import time

import numpy as np
import pytest
import tensorflow as tf

from tfw2v import losses
from tfw2v.losses.huffman import build_huffman

from objective_calls import one_input


def create_binary_tree(counts):
    """word2vec.c's CreateBinaryTree, loop for loop (``vocab[a].cn`` = ``counts[a]``)."""
    vocab_size = len(counts)
    count = [0] * (vocab_size * 2 + 1)
    binary = [0] * (vocab_size * 2 + 1)
    parent_node = [0] * (vocab_size * 2 + 1)
    for a in range(vocab_size):
        count[a] = counts[a]
    for a in range(vocab_size, vocab_size * 2):
        count[a] = int(1e15)
    pos1 = vocab_size - 1
    pos2 = vocab_size
    for a in range(vocab_size - 1):
        if pos1 >= 0:
            if count[pos1] < count[pos2]:
                min1i = pos1
                pos1 -= 1
            else:
                min1i = pos2
                pos2 += 1
        else:
            min1i = pos2
            pos2 += 1
        if pos1 >= 0:
            if count[pos1] < count[pos2]:
                min2i = pos1
                pos1 -= 1
            else:
                min2i = pos2
                pos2 += 1
        else:
            min2i = pos2
            pos2 += 1
        count[vocab_size + a] = count[min1i] + count[min2i]
        parent_node[min1i] = vocab_size + a
        parent_node[min2i] = vocab_size + a
        binary[min2i] = 1
    codes, points = [], []
    for a in range(vocab_size):
        code, point = [0] * 40, [0] * 40
        b = a
        i = 0
        while True:
            code[i] = binary[b]
            point[i] = b
            i += 1
            b = parent_node[b]
            if b == vocab_size * 2 - 2:
                break
        vocab_code, vocab_point = [0] * 40, [0] * 41
        vocab_point[0] = vocab_size - 2
        for b in range(i):
            vocab_code[i - b - 1] = code[b]
            vocab_point[i - b] = point[b] - vocab_size
        codes.append(vocab_code[:i])
        points.append(vocab_point[:i])
    return codes, points


FIXED_COUNTS = [40, 30, 30, 20, 12, 10, 10, 10, 7, 5, 5, 3, 2, 2, 1, 1]  # ties between leaves and inner nodes


def zipf_counts(size, seed):
    return np.sort(np.random.default_rng(seed).zipf(1.5, size).clip(max=10**9))[::-1].astype(np.int64)


@pytest.mark.parametrize("counts", [FIXED_COUNTS, [1, 1], [3, 2, 1], zipf_counts(500, seed=0)],
                         ids=["fixed", "two", "three", "zipf500"])
def test_codes_and_points_equal_word2vec_c(counts):
    tree = build_huffman(counts)
    codes, points = create_binary_tree(list(map(int, counts)))
    np.testing.assert_array_equal(tree.lengths, [len(c) for c in codes])
    assert tree.max_length == max(map(len, codes))
    for word, (code, point) in enumerate(zip(codes, points)):
        n = len(code)
        np.testing.assert_array_equal(tree.codes[word], code + [0] * (tree.max_length - n))
        np.testing.assert_array_equal(tree.points[word], point + [0] * (tree.max_length - n))


def test_tree_is_an_optimal_prefix_code():
    counts = zipf_counts(300, seed=1)
    tree = build_huffman(counts)
    heap = [int(c) for c in counts]
    heapq.heapify(heap)
    optimal_cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        optimal_cost += merged
        heapq.heappush(heap, merged)
    assert int(np.sum(counts * tree.lengths)) == optimal_cost
    paths = {tuple(tree.codes[w, : tree.lengths[w]]) for w in range(len(counts))}
    assert len(paths) == len(counts)
    assert tree.points.max() == len(counts) - 2 and np.all(tree.points[:, 0] == len(counts) - 2)


def test_100k_words_build_in_under_a_second():
    counts = (10**8 // np.arange(1, 100_001)).astype(np.int64) + 5
    start = time.perf_counter()
    tree = build_huffman(counts)
    assert time.perf_counter() - start < 1.0
    assert tree.codes.shape == (100_000, tree.max_length)


def test_rejects_unsorted_or_tiny_vocabularies():
    with pytest.raises(ValueError, match="descending"):
        build_huffman([1, 2, 3])
    with pytest.raises(ValueError, match="at least 2"):
        build_huffman([5])


@pytest.mark.parametrize("counts", [FIXED_COUNTS, zipf_counts(200, seed=2)], ids=["fixed", "zipf200"])
def test_hs_probabilities_sum_to_one_over_the_vocabulary(counts):
    vocab_size, dim = len(counts), 8
    layer = losses.get("hs", vocab_size, dim, counts=np.asarray(counts))
    rng = np.random.default_rng(0)
    layer.output_embeddings.assign(rng.normal(size=(vocab_size, dim)))
    for hidden in rng.normal(size=(3, dim)):
        hidden_per_word = tf.constant(np.tile(hidden, (vocab_size, 1)), tf.float32)
        labels = tf.range(vocab_size)[:, None]
        neg_log_p = one_input(layer, hidden_per_word, labels, tf.ones([vocab_size, 1]))
        assert np.isclose(np.exp(-neg_log_p.numpy().astype(np.float64)).sum(), 1.0, atol=1e-5)
