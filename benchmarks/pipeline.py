"""Pipeline-only throughput on the 17M-word corpus: corpus words/s and examples/s, skip-gram and CBOW, without
and with phrases (word2phrase, ``--phrase-passes`` passes at threshold 200, joined in-graph before the lookup).

Run: ``python -m benchmarks.pipeline [--batch-size 1024] [--phrase-passes 2]``. The target is >= 1.5M corpus
words/s on 2 cores, so that training is never starved by its input. Each pipeline runs with its examples stage
fused (the C++ op, the default) and as TF ops (``fused=False``); the process CPU-seconds are recorded too, since
in training the pipeline shares the cores with the train step.
"""

from __future__ import annotations

import argparse
import os
import time

import tensorflow as tf

from benchmarks.common import corpus_path, peak_rss_mib, save
from tfw2v import Vocabulary, data
from tfw2v.text.phrases import Phrases


def consume(dataset: tf.data.Dataset) -> tuple[float, int, float, float]:
    """Iterate ``dataset`` to the end; return (corpus words, examples, seconds, process CPU-seconds)."""

    @tf.function
    def drain() -> tuple[tf.Tensor, tf.Tensor]:
        words = tf.constant(0.0, tf.float64)
        examples = tf.constant(0, tf.int64)
        for batch in dataset:
            words += tf.reduce_sum(tf.cast(batch["words"], tf.float64))
            examples += tf.shape(batch["inputs"], out_type=tf.int64)[0]
        return words, examples

    start, cpu = time.perf_counter(), sum(os.times()[:2])
    words, examples = drain()
    return float(words), int(examples), time.perf_counter() - start, sum(os.times()[:2]) - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--phrase-passes", type=int, default=2, help="0 skips the phrase measurement")
    args = parser.parse_args()
    corpus = str(corpus_path())
    record = {"corpus": corpus, "plain": measure(corpus, args, None)}
    if args.phrase_passes:
        start = time.perf_counter()
        phrases = Phrases.build(corpus, passes=args.phrase_passes, threshold=200.0)
        seconds = time.perf_counter() - start
        words = sum(p.corpus_words for p in phrases.passes)
        print(f"phrases: {len(phrases)} in {args.phrase_passes} passes, {seconds:.1f} s "
              f"({words / seconds:,.0f} words/s counted)")
        record["phrases"] = {"passes": args.phrase_passes, "count": len(phrases), "detection_seconds": seconds,
                             "detection_words_per_s": words / seconds, **measure(corpus, args, phrases)}
    record["peak_rss_mib"] = peak_rss_mib()
    print(f"peak memory {record['peak_rss_mib']:.0f} MiB; saved {save('pipeline', record)}")


def measure(corpus: str, args: argparse.Namespace, phrases: Phrases | None) -> dict:
    """Vocabulary time, then one pass of each architecture's pipeline."""
    label = "with phrases" if phrases else "plain"
    start = time.perf_counter()
    vocab = Vocabulary.build(corpus, min_count=5, phrases=phrases)
    vocab_seconds = time.perf_counter() - start
    print(f"[{label}] vocabulary: {len(vocab)} words, {vocab.corpus_words} corpus words, {vocab_seconds:.1f} s "
          f"({vocab.corpus_words / vocab_seconds:,.0f} words/s)")
    record = {"vocabulary_seconds": vocab_seconds, "corpus_words": vocab.corpus_words}
    for architecture, make in (("skipgram", data.skipgram_dataset), ("cbow", data.cbow_dataset)):
        for fused, name in ((True, architecture), (False, f"{architecture}_tf_ops")):
            dataset = make(corpus, vocab, window=args.window, batch_size=args.batch_size, seed=1, fused=fused)
            words, examples, seconds, cpu_seconds = consume(dataset)
            record[name] = {
                "seconds": seconds, "cpu_seconds": cpu_seconds, "corpus_words_per_s": words / seconds,
                "examples_per_s": examples / seconds, "examples": examples, "corpus_words": words,
            }
            print(f"[{label}] {name:18s} {seconds:6.1f} s ({cpu_seconds:5.1f} CPU-s)  "
                  f"{words / seconds:>12,.0f} corpus words/s  {examples / seconds:>12,.0f} examples/s")
    return record


if __name__ == "__main__":
    main()
