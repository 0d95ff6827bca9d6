"""The generic (GradientTape) train step's cost against the vocabulary size: it should not grow with V.

Run: ``python -m benchmarks.step_vs_vocab [--sizes 20000 2000000] [--steps 50]``. Results:
``benchmarks/results/step_vs_vocab.json``.

For each vocabulary size a skip-gram ``Word2Vec(dim=64, loss=..., fused=False)`` takes the same batches (1024
examples, 10 context slots, ids drawn from the 20,000 most frequent words, so that every size touches the same
rows) through ``tf.function(model.train_step)``; the median step time over ``--steps`` steps is reported after
warm-up. A step reads and writes ``O(B·(T+1+K)·D)`` rows: any cost that grows with ``V`` is a whole-table
read or copy (issue: 67 ms at 2M rows against 8 ms at 20k before the tables were read sparsely).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf

from benchmarks.common import save
from tfw2v import Vocabulary
from tfw2v.training.model import Word2Vec

BATCH, SLOTS, DIM, HOT_ROWS = 1024, 10, 64, 20_000


def batches(count: int, seed: int = 0) -> list[dict[str, tf.Tensor]]:
    rng = np.random.default_rng(seed)
    return [{
        "inputs": tf.constant(rng.integers(0, HOT_ROWS, [BATCH, 1]), tf.int32),
        "input_weights": tf.ones([BATCH, 1]),
        "labels": tf.constant(rng.integers(0, HOT_ROWS, [BATCH, SLOTS]), tf.int32),
        "label_weights": tf.fill([BATCH, SLOTS], 1.0 / SLOTS),
        "words": tf.ones([BATCH]),
    } for _ in range(count)]


def step_ms(size: int, loss: str, steps: int) -> float:
    counts = np.maximum(1, (1e7 / np.arange(1, size + 1)).astype(np.int64))  # Zipf, descending
    vocab = Vocabulary([f"w{i}" for i in range(size)], counts)
    model = Word2Vec(vocab, dim=DIM, architecture="skipgram", loss=loss, seed=1, fused=False)
    model.compile(steps_per_execution=1)
    model.total_words.assign(1e12)
    step = tf.function(model.train_step)
    data = batches(steps + 5)
    for batch in data[:5]:
        step(batch)
    times = []
    for batch in data[5:]:
        start = time.perf_counter()
        logs = step(batch)
        float(logs["loss"])  # wait for the step
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 2_000_000])
    parser.add_argument("--losses", nargs="+", default=["ns", "hs"])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    results: dict = {"batch": BATCH, "slots": SLOTS, "dim": DIM, "steps": args.steps, "median_step_ms": {}}
    for loss in args.losses:
        times = {size: step_ms(size, loss, args.steps) for size in args.sizes}
        results["median_step_ms"][loss] = times
        ratio = times[max(args.sizes)] / times[min(args.sizes)]
        results.setdefault("ratio_largest_to_smallest", {})[loss] = ratio
        print(f"{loss}: " + ", ".join(f"V={size:,}: {ms:.1f} ms" for size, ms in times.items())
              + f"; {max(args.sizes):,} / {min(args.sizes):,} rows = {ratio:.2f}x", flush=True)
    print(f"saved {save('step_vs_vocab', results)}")


if __name__ == "__main__":
    main()
