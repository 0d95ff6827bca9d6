"""word2vec.c's Huffman tree (``CreateBinaryTree``) for hierarchical softmax.

Word ``w``'s path from the root has ``lengths[w]`` steps. Step ``j`` sits at inner node ``points[w, j]``
(a row of the output table: inner nodes are numbered ``node - V``, so the ``V-1`` of them use rows
``0 … V-2`` and the root is ``V-2``) and goes to the child marked ``codes[w, j]``. word2vec.c trains the
node towards ``1 - code``, i.e. ``P(w | h) = Π_j σ((1 - 2·codes[w, j]) · h·u_{points[w, j]})``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# word2vec.c gives not-yet-created inner nodes the count 1e15; infinity is the same for any real corpus and
# stays right when counts exceed 1e15.
_UNCREATED_NODE_COUNT = math.inf


@dataclasses.dataclass(frozen=True, eq=False)
class HuffmanTree:
    """Paths of all words, padded to the longest one.

    Attributes:
      codes: int32 ``[V, L]``, bit ``j`` of word ``w``'s code from the root (0 after ``lengths[w]``).
      points: int32 ``[V, L]``, inner node (output-table row) visited at step ``j`` (0 after ``lengths[w]``).
      lengths: int32 ``[V]``, code length of each word, ``1 ≤ lengths ≤ L``.
    """

    codes: np.ndarray
    points: np.ndarray
    lengths: np.ndarray

    @property
    def max_length(self) -> int:
        return int(self.codes.shape[1])


def build_huffman(counts: np.ndarray) -> HuffmanTree:
    """Build the tree exactly as word2vec.c's ``CreateBinaryTree`` does (same tie-breaking, same codes).

    Args:
      counts: ``[V]`` word counts, ``V ≥ 2``, in descending order (the vocabulary's order).

    The two-pointer merge is word2vec.c's (O(V), Python ints); the paths are then read off all leaves at once,
    one tree level per numpy step, so 100k words take well under a second.
    """
    counts = np.asarray(counts, dtype=np.int64)
    size = counts.size
    if counts.ndim != 1 or size < 2:
        raise ValueError(f"counts must be a vector of at least 2 word counts, got shape {counts.shape}")
    if np.any(np.diff(counts) > 0):
        raise ValueError("counts must be sorted in descending order")
    parent, binary = _merge(counts.tolist())
    return _paths(np.asarray(parent, dtype=np.int64), np.asarray(binary, dtype=np.int32), size)


def _merge(counts: list[int]) -> tuple[list[int], list[int]]:
    """Parent and branch bit of each of the ``2V-1`` nodes (leaves ``0 … V-1``, inner nodes ``V … 2V-2``;
    the root ``2V-2`` is its own parent)."""
    size = len(counts)
    root = 2 * size - 2
    count = counts + [_UNCREATED_NODE_COUNT] * (size - 1)
    parent = [0] * (root + 1)
    binary = [0] * (root + 1)
    leaf, inner = size - 1, size  # word2vec.c's pos1, pos2
    for node in range(size, root + 1):
        smallest = []
        for _ in range(2):
            if leaf >= 0 and count[leaf] < count[inner]:
                smallest.append(leaf)
                leaf -= 1
            else:
                smallest.append(inner)
                inner += 1
        first, second = smallest
        count[node] = count[first] + count[second]
        parent[first] = parent[second] = node
        binary[second] = 1
    parent[root] = root
    return parent, binary


def _paths(parent: np.ndarray, binary: np.ndarray, size: int) -> HuffmanTree:
    """Walk all leaves up to the root together; step ``i`` up from a leaf is position ``length - 1 - i``
    from the root, where that node's branch bit is the code and its parent is the point."""
    root = 2 * size - 2
    lengths = np.zeros(size, dtype=np.int64)
    node = np.arange(size)
    while np.any(node != root):
        lengths += node != root
        node = parent[node]
    codes = np.zeros((size, int(lengths.max())), dtype=np.int32)
    points = np.zeros_like(codes)
    words = np.arange(size)
    node = words
    position = lengths - 1
    while words.size:
        codes[words, position] = binary[node]
        points[words, position] = parent[node] - size
        below_root = position > 0
        words, node, position = words[below_root], parent[node[below_root]], position[below_root] - 1
    return HuffmanTree(codes=codes, points=points, lengths=lengths.astype(np.int32))
