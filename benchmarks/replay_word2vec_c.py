"""Is tfw2v's skip-gram NS analogy gap to gensim in its update or in its example stream? word2vec.c's own update
(``benchmarks/replay_word2vec_c.c``), replayed on an example stream, answers it.

Run: ``python -m benchmarks.replay_word2vec_c [--seeds 1 2] [--streams tfw2v numpy] [--words N]``.
Results: ``benchmarks/results/replay_word2vec_c.json``.

For each seed and stream, the skip-gram examples of the ``vs_gensim`` corpus (window 5, sample 1e-3,
min_count 5) are written to a file and trained, one thread, with word2vec.c's update, its random numbers, its
unigram table and its truncated sigmoid (see the C source's header); the vectors go through ``vs_gensim``'s
evaluator. Streams:

* ``tfw2v``: ``data.skipgram_dataset(corpus, vocab, seed=seed)``, the pipeline's examples as they reach the
  kernel;
* ``numpy``: the same definition computed independently with numpy: keep word ``w`` with probability
  ``min(1, sqrt(t/f) + t/f)``, then for each kept word a half-window uniform on ``[1, 5]``, over the kept words
  of the whole corpus.

If the replay scores like tfw2v's kernel on both streams, the gap is neither in the kernel's update nor in the
pipeline. Needs ``gcc`` (the C file is compiled into a temporary folder).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import prepare_corpus, save
from benchmarks.vs_gensim import SETTINGS, WORD2VEC_C_ALPHA, evaluate

SOURCE = Path(__file__).with_suffix(".c")
STREAMS = ("tfw2v", "numpy")


def tfw2v_stream(corpus: str, vocab, seed: int) -> np.ndarray:
    """The pipeline's skip-gram examples: ``[E, 1 + 2·window]`` int32, the centre then the context (-1: none)."""
    from tfw2v import data

    rows = []
    for batch in data.skipgram_dataset(corpus, vocab, seed=seed):
        context = np.where(batch["label_weights"].numpy() > 0, batch["labels"].numpy(), -1)
        rows.append(np.concatenate([batch["inputs"].numpy()[:, :1], context], axis=1).astype(np.int32))
    return np.concatenate(rows)


def numpy_stream(corpus: str, vocab, seed: int) -> np.ndarray:
    """The same examples by the definition, with numpy's generator: subsample, then shrink each window."""
    window = SETTINGS["window"]
    index = {token: i for i, token in enumerate(vocab.tokens)}
    with open(corpus, encoding="utf-8") as f:
        ids = np.array([index.get(word, -1) for word in f.read().split()], np.int32)
    ids = ids[ids >= 0]
    rng = np.random.default_rng(seed)
    kept = ids[vocab.keep_probabilities(SETTINGS["sample"])[ids] >= rng.random(ids.size, dtype=np.float32)]
    half = rng.integers(1, window + 1, size=kept.size)
    rows = np.full((kept.size, 1 + 2 * window), -1, np.int32)
    rows[:, 0] = kept
    offsets = [o for o in range(-window, window + 1) if o]
    for slot, offset in enumerate(offsets, start=1):
        source = np.arange(kept.size) + offset
        ok = (source >= 0) & (source < kept.size) & (abs(offset) <= half)
        rows[ok, slot] = kept[source[ok]]
    return rows


def replay(binary: Path, rows: np.ndarray, vocab, scratch: Path) -> np.ndarray:
    stream, counts, output = scratch / "stream.bin", scratch / "counts.bin", scratch / "vectors.bin"
    rows.tofile(stream)
    np.asarray(vocab.counts, np.int64).tofile(counts)
    subprocess.run([str(binary), str(stream), str(counts), str(len(vocab)), str(SETTINGS["dim"]),
                    str(SETTINGS["negative"]), str(WORD2VEC_C_ALPHA["skipgram"]), str(output)],
                   check=True, stdout=subprocess.DEVNULL)
    return np.fromfile(output, np.float32).reshape(len(vocab), SETTINGS["dim"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--streams", nargs="+", choices=STREAMS, default=list(STREAMS))
    parser.add_argument("--words", type=int, help="train on the corpus's first N words")
    args = parser.parse_args()
    from tfw2v import Vocabulary
    from tfw2v.training.vectors import WordVectors

    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="tfw2v-replay-") as tmp:
        scratch = Path(tmp)
        binary = scratch / "replay"
        subprocess.run(["gcc", "-O3", "-march=native", "-mno-avx512fp16", str(SOURCE), "-o", str(binary), "-lm"],
                       check=True)
        corpus = prepare_corpus(args.words, scratch)
        vocab = Vocabulary.build(corpus, min_count=SETTINGS["min_count"])
        for seed in args.seeds:
            for stream in args.streams:
                rows = (tfw2v_stream if stream == "tfw2v" else numpy_stream)(corpus, vocab, seed)
                start = time.perf_counter()
                vectors = replay(binary, rows, vocab, scratch)
                record = {"examples": len(rows), "pairs": int((rows[:, 1:] >= 0).sum()),
                          "train_seconds": time.perf_counter() - start,
                          **evaluate(WordVectors(list(vocab.tokens), vectors))}
                runs[f"{stream} seed {seed}"] = record
                print(f"replay on the {stream} stream, seed {seed}: {record['examples']:,} examples, "
                      f"{record['pairs']:,} pairs, analogy {100 * record['analogy']['accuracy']:.2f}%", flush=True)
    path = save("replay_word2vec_c", {"settings": SETTINGS, "alpha": WORD2VEC_C_ALPHA["skipgram"], "runs": runs})
    print(f"saved {path}")


if __name__ == "__main__":
    sys.exit(main())
