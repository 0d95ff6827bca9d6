"""A sequential numpy reference for one batch of word2vec.c-style SGD, for testing a fused training op.

:func:`sgd_step` applies a batch of the pipeline's examples to the tables *in place*, one example after the
other and, inside an example, one (input, target) pair and one output row after the other: every read sees
every earlier write, as in word2vec.c's ``TrainModelThread`` (Mikolov et al., 2013,
https://code.google.com/archive/p/word2vec/), where a single thread's updates are strictly sequential. It is
not a gradient step on the batch loss: a batched step computes every gradient at the same parameters, so the
two agree only to first order in the learning rate (exactly, for one pair whose output rows are distinct).

Notation: ``E`` the input table (word2vec.c's ``syn0``), ``U`` the output table (``syn1neg``, or ``syn1`` for
hierarchical softmax), ``b`` the output biases and ``off`` the logit offsets ``log(k·Pn(w))`` (NCE only),
``lr`` the learning rate, ``h`` the input vector of a pair and ``e`` the accumulated input update
(word2vec.c's ``neu1e``).

* ``σ(z)`` is word2vec.c's clamped sigmoid: 1 if ``z > 6``, 0 if ``z < -6``, else ``1/(1+exp(-z))``
  (``MAX_EXP = 6``). word2vec.c reads it from a 1000-entry table (``expTable``); here it is exact inside the
  clamp. ``softplus(x) = log(1 + exp(x))``, exact (the losses are reported; word2vec.c computes none).
* Score ``z_w(h) = h·U[w] + b[w] - off[w]``; ``b`` and ``off`` only for ``"nce"``.

Objectives (one step = one input vector ``h``, a copy, against one positive word ``y``):

``"ns"`` / ``"nce"`` (logistic): candidates ``(y, 1)`` then ``(n_k, 0)`` for the example's negatives in order,
  skipping every ``n_k == y`` (word2vec.c: ``if (target == word) continue;``). For each candidate
  ``(w, label)``: ``z = z_w(h)``; ``g = (label - σ(z))·lr`` (word2vec.c: ``if (f > MAX_EXP) g = (label - 1) *
  alpha; else if (f < -MAX_EXP) g = (label - 0) * alpha;``); ``e += g·U[w]`` with ``U[w]`` as it is at that
  moment; then ``U[w] += g·h`` and (NCE) ``b[w] += g``; loss ``+= softplus(-z)`` if ``label`` else
  ``softplus(z)``. A negative repeated in the list is a separate candidate and sees its earlier update.
``"ds"`` (the softmax over the positive and the negatives, no bias or offset; not in word2vec.c):
  candidates ``C = [y] + [n_k for n_k != y]`` (duplicates each count); all ``z_c = h·U[c]`` are computed
  first; ``p = softmax(z)``; loss ``= logsumexp(z) - z_y``; then for each candidate slot in order:
  ``g = ([slot is 0] - p_c)·lr``; ``e += g·U[c]`` (current ``U``, so a duplicate sees its earlier update);
  ``U[c] += g·h``.
``"hs"`` (hierarchical softmax): for ``j < hs_lengths[y]``, ``node = hs_points[y, j]``,
  ``code = hs_codes[y, j]``: ``z = h·U[node]``; loss ``+= softplus(-(1 - 2·code)·z)``; if ``|z| >= 6`` the node
  is skipped (word2vec.c: ``if (f <= -MAX_EXP) continue; else if (f >= MAX_EXP) continue;``), else
  ``g = (1 - code - σ(z))·lr``; ``e += g·U[node]``; ``U[node] += g·h``. No negatives.

Architectures (examples ``b = 0 … B-1`` in order):

``"skipgram"`` (word2vec.c's orientation: each context word's vector is the input, the centre the target):
  centre ``c = inputs[b, 0]``; for each ``t`` with ``label_weights[b, t] > 0``: ``x = labels[b, t]``,
  ``h = copy of E[x]``, ``(e, l) = step(h, c, negatives[b])``, ``E[x] += e`` (word2vec.c:
  ``syn0[c + l1] += neu1e[c]``), ``loss_b += label_weights[b, t]·l``. The update does not scale with the
  label weight: every pair gets the full ``lr``. ``input_weights`` are not read.
``"cbow"``: ``h = Σ_i input_weights[b, i]·E[inputs[b, i]]`` over the slots with ``input_weights > 0``;
  ``(e, l) = step(h, labels[b, 0], negatives[b])``; then every slot ``i`` with ``input_weights[b, i] > 0``
  gets ``E[inputs[b, i]] += e`` in full, not divided by the context size (word2vec.c:
  ``for (...) syn0[c + last_word * layer1_size] += neu1e[c];``), twice for an id in two slots;
  ``loss_b = label_weights[b, 0]·l`` (the update does not scale with it). An example without any slot of
  positive weight still takes its step with ``h = 0`` (word2vec.c would skip it: ``if (cw) {...}``; the
  pipeline never emits one).

Differences from word2vec.c besides the exact sigmoid: the ``K`` negatives are given per example and shared by
its pairs (word2vec.c draws fresh ones for every pair and redraws id 0, ``</s>``); the learning rate is
constant over the batch; ``"nce"`` and ``"ds"`` are this package's objectives; one objective at a time
(word2vec.c can run HS and NS on the same ``neu1e``).

The tables are updated in float64 working copies and written back (in their own dtype) once, at the end.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, Mapping

import numpy as np

MAX_EXP = 6.0
ARCHITECTURES = ("skipgram", "cbow")
OBJECTIVES = ("ns", "nce", "ds", "hs")


def sigmoid(z: float) -> float:
    """word2vec.c's sigmoid: clamped to exactly 1 above ``MAX_EXP`` and 0 below ``-MAX_EXP``."""
    if z > MAX_EXP:
        return 1.0
    if z < -MAX_EXP:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


def softplus(x: float) -> float:
    """``log(1 + exp(x))``, exact and stable for any ``x``."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def logsumexp(z: np.ndarray) -> float:
    top = float(np.max(z))
    return top + math.log(float(np.sum(np.exp(z - top))))


@dataclasses.dataclass
class Tables:
    """float64 working copies of the tables, updated as the batch is applied.

    ``bias`` and ``offset`` are ``None`` except for NCE; ``offset`` is never written.
    """

    input: np.ndarray  # E [V, D]
    output: np.ndarray  # U [V, D]
    bias: np.ndarray | None = None  # b [V]
    offset: np.ndarray | None = None  # off [V]

    def score(self, h: np.ndarray, word: int) -> float:
        """``z_w(h) = h·U[w] (+ b[w] - off[w])``."""
        z = float(h @ self.output[word])
        if self.bias is not None:
            z += float(self.bias[word]) - float(self.offset[word])
        return z


@dataclasses.dataclass(frozen=True)
class HuffmanPaths:
    """word2vec.c's Huffman paths (see :mod:`tfw2v.losses.huffman`): ``points``/``codes`` ``[V, L]``, ``lengths [V]``."""

    points: np.ndarray
    codes: np.ndarray
    lengths: np.ndarray

    def path(self, word: int) -> list[tuple[int, int]]:
        """``(node, code)`` for each step from the root to ``word``."""
        length = int(self.lengths[word])
        return [(int(self.points[word, j]), int(self.codes[word, j])) for j in range(length)]


def logistic_candidates(positive: int, negatives: np.ndarray) -> list[tuple[int, int]]:
    """``(word, label)``: the positive, then every negative that is not the positive, in order."""
    return [(positive, 1)] + [(int(n), 0) for n in negatives if int(n) != positive]


def logistic_step(
    tables: Tables, h: np.ndarray, positive: int, negatives: np.ndarray, learning_rate: float
) -> tuple[np.ndarray, float]:
    """Negative sampling (``tables.bias is None``) or NCE: updates ``U`` (and ``b``), returns ``(e, loss)``."""
    e = np.zeros_like(h)
    loss = 0.0
    for word, label in logistic_candidates(positive, negatives):
        z = tables.score(h, word)
        g = (label - sigmoid(z)) * learning_rate
        e += g * tables.output[word]  # U[w] before this candidate's own update
        tables.output[word] += g * h
        if tables.bias is not None:
            tables.bias[word] += g
        loss += softplus(-z) if label else softplus(z)
    return e, loss


def downsampled_softmax_step(
    tables: Tables, h: np.ndarray, positive: int, negatives: np.ndarray, learning_rate: float
) -> tuple[np.ndarray, float]:
    """Softmax over the positive (slot 0) and the negatives other than it: updates ``U``, returns ``(e, loss)``."""
    candidates = [positive] + [int(n) for n in negatives if int(n) != positive]
    z = np.array([float(h @ tables.output[c]) for c in candidates])  # all scores before any update
    probabilities = np.exp(z - logsumexp(z))
    loss = logsumexp(z) - float(z[0])
    e = np.zeros_like(h)
    for slot, word in enumerate(candidates):
        g = (float(slot == 0) - float(probabilities[slot])) * learning_rate
        e += g * tables.output[word]  # current U: a duplicate sees its earlier slot's update
        tables.output[word] += g * h
    return e, loss


def hierarchical_softmax_step(
    tables: Tables, h: np.ndarray, positive: int, paths: HuffmanPaths, learning_rate: float
) -> tuple[np.ndarray, float]:
    """Hierarchical softmax along the positive's path: updates ``U``, returns ``(e, loss)``."""
    e = np.zeros_like(h)
    loss = 0.0
    for node, code in paths.path(positive):
        z = float(h @ tables.output[node])
        loss += softplus(-(1 - 2 * code) * z)
        if abs(z) >= MAX_EXP:  # word2vec.c skips the node, it is not clamped
            continue
        g = (1 - code - sigmoid(z)) * learning_rate
        e += g * tables.output[node]
        tables.output[node] += g * h
    return e, loss


def pair_step(
    objective: str,
    tables: Tables,
    h: np.ndarray,
    positive: int,
    negatives: np.ndarray | None,
    learning_rate: float,
    paths: HuffmanPaths | None,
) -> tuple[np.ndarray, float]:
    """One (input vector, positive) pair under ``objective``: updates the output side, returns ``(e, loss)``."""
    if objective in ("ns", "nce"):
        return logistic_step(tables, h, positive, negatives, learning_rate)
    if objective == "ds":
        return downsampled_softmax_step(tables, h, positive, negatives, learning_rate)
    return hierarchical_softmax_step(tables, h, positive, paths, learning_rate)


def skipgram_example(
    objective: str,
    tables: Tables,
    centre: int,
    labels: np.ndarray,
    label_weights: np.ndarray,
    negatives: np.ndarray | None,
    learning_rate: float,
    paths: HuffmanPaths | None,
) -> float:
    """Each context word ``x`` with positive weight: ``E[x]`` predicts the centre, then ``E[x] += e``."""
    loss = 0.0
    for t, (context, weight) in enumerate(zip(labels, label_weights)):
        if weight <= 0:
            continue
        h = tables.input[int(context)].copy()
        pair_negatives = negatives[t] if negatives is not None and negatives.ndim == 2 else negatives
        e, pair_loss = pair_step(objective, tables, h, centre, pair_negatives, learning_rate, paths)
        tables.input[int(context)] += e
        loss += float(weight) * pair_loss
    return loss


def cbow_example(
    objective: str,
    tables: Tables,
    inputs: np.ndarray,
    input_weights: np.ndarray,
    target: int,
    target_weight: float,
    negatives: np.ndarray | None,
    learning_rate: float,
    paths: HuffmanPaths | None,
) -> float:
    """``h = Σ w_i E[x_i]`` predicts the target, then every context slot gets ``E[x_i] += e`` in full."""
    slots = [int(word) for word, weight in zip(inputs, input_weights) if weight > 0]
    weights = [float(weight) for weight in input_weights if weight > 0]
    h = np.zeros(tables.input.shape[1])
    for word, weight in zip(slots, weights):
        h += weight * tables.input[word]
    if negatives is not None and negatives.ndim == 2:  # per pair, and CBOW has one pair
        negatives = negatives[0]
    e, loss = pair_step(objective, tables, h, target, negatives, learning_rate, paths)
    for word in slots:
        tables.input[word] += e
    return float(target_weight) * loss


_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's output function on uint64 arrays (arithmetic modulo 2**64)."""
    z = (z + np.uint64(_GOLDEN)) & np.uint64(_MASK64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def draw_pair_negatives(seed: tuple[int, int], threshold: np.ndarray, alias: np.ndarray, batch: int, pairs: int,
                        k: int) -> np.ndarray:
    """The noise ids ``[batch, pairs, k]`` that the fused op draws with ``pair_noise`` for the step key ``seed``,
    computed independently: draw ``n = (b·P + p)·K + j`` is ``r = mix(key + n·φ)`` with
    ``key = mix(mix(seed[0]) ^ seed[1])``, bucket ``⌊(r >> 32)·V / 2³²⌋``, ``u = (r mod 2²⁴)/2²⁴``, and the id
    is the bucket if ``u < threshold[bucket]`` else ``alias[bucket]`` (Walker's alias method)."""
    with np.errstate(over="ignore"):
        key = _mix(_mix(np.array([seed[0]], np.int64).view(np.uint64)) ^ np.array([seed[1]], np.int64).view(np.uint64))
        n = np.arange(batch * pairs * k, dtype=np.uint64)
        r = _mix(key + n * np.uint64(_GOLDEN))
    bucket = ((r >> np.uint64(32)) * np.uint64(len(threshold))) >> np.uint64(32)
    u = (r & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(1 / 16777216)
    bucket = bucket.astype(np.int64)
    ids = np.where(u < threshold[bucket], bucket, alias[bucket]).astype(np.int32)
    return ids.reshape(batch, pairs, k)


def sgd_step(
    input_table: np.ndarray,
    output_table: np.ndarray,
    batch: Mapping[str, np.ndarray],
    *,
    architecture: Literal["skipgram", "cbow"],
    objective: Literal["ns", "nce", "ds", "hs"],
    negatives: np.ndarray | None,
    learning_rate: float,
    output_bias: np.ndarray | None = None,
    logit_offset: np.ndarray | None = None,
    hs_points: np.ndarray | None = None,
    hs_codes: np.ndarray | None = None,
    hs_lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Apply one batch sequentially, word2vec.c-style, updating the tables in place (see the module docstring).

    Args:
      input_table: ``E`` ``[V, D]`` float numpy array, updated in place.
      output_table: ``U`` ``[V, D]`` float numpy array, updated in place.
      batch: the pipeline's example dict: ``inputs [B, I]``, ``input_weights [B, I]``, ``labels [B, T]``,
        ``label_weights [B, T]`` (numpy arrays or eager tensors).
      architecture: ``"skipgram"`` or ``"cbow"``.
      objective: ``"ns"``, ``"nce"``, ``"ds"`` or ``"hs"``.
      negatives: int ``[B, K]``, each example's negatives shared by its pairs, or ``[B, P, K]``, fresh ones for
        each pair ``p`` (``P = T`` for skip-gram, 1 for CBOW; see :func:`draw_pair_negatives`); ignored, may be
        ``None``, for ``"hs"``.
      learning_rate: ``lr``, the same for the whole batch.
      output_bias: ``b`` ``[V]``, updated in place; required for ``"nce"`` and only then used.
      logit_offset: ``off`` ``[V]`` = ``log(k·Pn(w))``; required for ``"nce"`` and only then used.
      hs_points, hs_codes, hs_lengths: the Huffman paths (``[V, L]``, ``[V, L]``, ``[V]``), for ``"hs"``.

    Returns:
      float64 ``[B]``: each example's loss, every pair's loss taken at the parameters it saw.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r}: expected one of {ARCHITECTURES}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r}: expected one of {OBJECTIVES}")
    tables_in_place = [input_table, output_table] + ([output_bias] if objective == "nce" else [])
    for table in tables_in_place:
        if not isinstance(table, np.ndarray) or not table.flags.writeable:
            raise TypeError("the tables must be writeable numpy arrays (they are updated in place)")
    if objective == "nce" and (output_bias is None or logit_offset is None):
        raise ValueError('objective "nce" needs output_bias and logit_offset')
    if objective == "hs" and (hs_points is None or hs_codes is None or hs_lengths is None):
        raise ValueError('objective "hs" needs hs_points, hs_codes and hs_lengths')
    if objective != "hs" and negatives is None:
        raise ValueError(f"objective {objective!r} needs negatives")

    inputs = np.asarray(batch["inputs"])
    input_weights = np.asarray(batch["input_weights"])
    labels = np.asarray(batch["labels"])
    label_weights = np.asarray(batch["label_weights"])
    if negatives is not None:
        negatives = np.asarray(negatives)
    paths = None
    if objective == "hs":
        paths = HuffmanPaths(np.asarray(hs_points), np.asarray(hs_codes), np.asarray(hs_lengths))

    tables = Tables(input=np.array(input_table, dtype=np.float64), output=np.array(output_table, dtype=np.float64))
    if objective == "nce":
        tables.bias = np.array(output_bias, dtype=np.float64)
        tables.offset = np.array(logit_offset, dtype=np.float64)

    losses = np.zeros(inputs.shape[0], dtype=np.float64)
    for b in range(inputs.shape[0]):
        negatives_b = None if negatives is None else negatives[b]
        if architecture == "skipgram":
            losses[b] = skipgram_example(
                objective, tables, int(inputs[b, 0]), labels[b], label_weights[b], negatives_b, learning_rate,
                paths,
            )
        else:
            losses[b] = cbow_example(
                objective, tables, inputs[b], input_weights[b], int(labels[b, 0]), float(label_weights[b, 0]),
                negatives_b, learning_rate, paths,
            )

    input_table[...] = tables.input
    output_table[...] = tables.output
    if objective == "nce":
        output_bias[...] = tables.bias
    return losses
