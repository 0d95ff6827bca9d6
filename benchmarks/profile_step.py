"""Where a training step's time goes, at the API's defaults: the input pipeline, the train step, and both.

Run: ``python -m benchmarks.profile_step [--configs sg-ns cbow-ns sg-hs sg-ds] [--steps 300] [--words N]
[--trace DIR]``. For each config (as in ``benchmarks.vs_gensim``: ``Vocabulary.build(min_count=5)``, the
default dataset with ``seed=1``, ``Word2Vec(seed=1)``, ``compile()``) the same first ``--steps`` batches
are timed three ways:

* pipeline — the ``tf.data`` pipeline alone, drained inside a ``tf.function`` (no model);
* step     — ``model.fit`` on those batches cached in memory (the train step, Keras' loop included, no input);
* fit      — ``model.fit`` on the live pipeline: what a user gets.

``fit ≈ step`` means the train step is the bottleneck, ``fit ≈ pipeline`` the input; ``fit`` above both
means the two compete for the same cores. The train function is traced on a few warm-up batches first, so
no row includes tracing. ``--trace DIR`` also writes a ``tf.profiler`` trace of the live fit (TensorBoard's
Profile tab). Results: ``benchmarks/results/profile_step[_N].json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from benchmarks.common import corpus_path, prepare_corpus, save
from benchmarks.vs_gensim import CONFIGS, SEED
from tfw2v import Vocabulary, data
from tfw2v.training.model import Word2Vec

WARMUP = 5


def drain(dataset: tf.data.Dataset) -> float:
    """Seconds to iterate ``dataset`` to the end inside a ``tf.function``."""

    @tf.function
    def run() -> tf.Tensor:
        examples = tf.constant(0, tf.int64)
        for batch in dataset:
            examples += tf.shape(batch["inputs"], out_type=tf.int64)[0]
        return examples

    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def timed_fit(model: Word2Vec, dataset: tf.data.Dataset) -> float:
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    return time.perf_counter() - start


def profile(corpus: str, vocab: Vocabulary, architecture: str, objective: str, steps: int,
            trace: str | None) -> dict:
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    batches = make(corpus, vocab, seed=SEED).take(steps)
    cached = batches.cache()
    words = sum(float(tf.reduce_sum(tf.cast(b["words"], tf.float64))) for b in cached)  # fills the cache
    n = int(cached.reduce(0, lambda count, _: count + 1))
    model = Word2Vec(vocab, architecture=architecture, loss=objective, seed=SEED)
    model.compile()
    model.fit(cached.take(WARMUP), epochs=1, verbose=0)  # trace the train function once

    seconds = {"pipeline": drain(batches), "step": timed_fit(model, cached)}
    if trace:
        tf.profiler.experimental.start(trace)
    seconds["fit"] = timed_fit(model, batches)
    if trace:
        tf.profiler.experimental.stop()
    return {"steps": n, "corpus_words": words, "seconds": seconds,
            "ms_per_step": {k: 1000 * s / n for k, s in seconds.items()},
            "corpus_words_per_s": {k: words / s for k, s in seconds.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--steps", type=int, default=300, help="batches timed per config")
    parser.add_argument("--words", type=int, default=None, help="use only the first N words of the corpus")
    parser.add_argument("--trace", default=None, help="write a tf.profiler trace of each live fit under DIR/<config>")
    args = parser.parse_args()

    record: dict = {"steps": args.steps, "words": args.words, "runs": {}}
    with tempfile.TemporaryDirectory() as scratch:
        corpus = prepare_corpus(args.words, Path(scratch)) if args.words else str(corpus_path())
        vocab = Vocabulary.build(corpus, min_count=5)
        print("| config | steps | pipeline ms/step | step ms/step | fit ms/step | fit corpus words/s |\n"
              "|---|---:|---:|---:|---:|---:|")
        for name in args.configs:
            architecture, objective, _ = CONFIGS[name]
            trace = str(Path(args.trace) / name) if args.trace else None
            r = profile(corpus, vocab, architecture, objective, args.steps, trace)
            record["runs"][name] = r
            ms = r["ms_per_step"]
            print(f"| {name} | {r['steps']} | {ms['pipeline']:.2f} | {ms['step']:.2f} | {ms['fit']:.2f} | "
                  f"{r['corpus_words_per_s']['fit']:,.0f} |", flush=True)
    print(f"saved {save('profile_step' if args.words is None else f'profile_step_{args.words}', record)}")


if __name__ == "__main__":
    main()
