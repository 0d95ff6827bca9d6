"""word2vec.c itself as a reference for quality and speed, with the settings of ``benchmarks.vs_gensim``.

Run: ``python -m benchmarks.vs_word2vec_c --binary PATH [--configs sg-ns cbow-ns sg-hs] [--runs N] [--words N]``.
``PATH`` is a ``word2vec`` built from https://github.com/tmikolov/word2vec (``make`` there, or
``gcc word2vec.c -o word2vec -lm -pthread -O3 -march=native -funroll-loops``); nothing is downloaded here.
Results: ``benchmarks/results/vs_word2vec_c.json``.

Each run trains on the same uncompressed corpus as ``vs_gensim`` with ``-threads 2 -iter 1 -size 100 -window 5
-sample 1e-3 -min-count 5``, ``-negative 5 -hs 0`` (NS) or ``-negative 0 -hs 1`` (HS), and word2vec.c's
learning rates (α 0.025 for skip-gram, 0.05 for CBOW), and writes binary vectors that go through the same
evaluator (``vs_gensim.evaluate``) without word2vec.c's ``</s>`` row. word2vec.c takes no seed (its threads
seed themselves by number), so ``--runs`` repeats a config to show the spread that thread timing makes.

Measured: the wall time of the whole process (word2vec.c counts its vocabulary in the same process, so this is
"vocabulary included"), corpus words/s over that time, and the child's peak RSS (``wait4``'s ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import prepare_corpus, save
from benchmarks.vs_gensim import CONFIGS, SETTINGS, WORD2VEC_C_ALPHA, evaluate

WORD2VEC_C_THREADS = 2
WORD2VEC_C_CONFIGS = ("sg-ns", "cbow-ns", "sg-hs")  # word2vec.c has no downsampled softmax


def count_words(path: str) -> int:
    """The whitespace-separated words of the file, read in 1 MiB pieces (a word cut by a read counts once)."""
    words, previous_ended_in_space = 0, True
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            words += len(piece.split()) - (not previous_ended_in_space and not piece[:1].isspace())
            previous_ended_in_space = piece[-1:].isspace()
    return words


def command(binary: str, corpus: str, output: str, architecture: str, objective: str) -> list[str]:
    """The word2vec.c command line for one config."""
    hs = objective == "hs"
    return [binary, "-train", corpus, "-output", output, "-cbow", str(int(architecture == "cbow")),
            "-size", str(SETTINGS["dim"]), "-window", str(SETTINGS["window"]),
            "-negative", "0" if hs else str(SETTINGS["negative"]), "-hs", str(int(hs)),
            "-sample", str(SETTINGS["sample"]), "-min-count", str(SETTINGS["min_count"]),
            "-iter", str(SETTINGS["epochs"]), "-threads", str(WORD2VEC_C_THREADS),
            "-alpha", str(WORD2VEC_C_ALPHA[architecture]), "-binary", "1"]


def run(binary: str, corpus: str, corpus_words: int, architecture: str, objective: str, scratch: Path) -> dict:
    """Train once with word2vec.c; its time, memory and the evaluator's scores."""
    from tfw2v.export.word2vec_format import read_word2vec_format
    from tfw2v.training.vectors import WordVectors

    output = scratch / "vectors.bin"
    argv = command(binary, corpus, str(output), architecture, objective)
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed: {child.stderr.read().decode(errors='replace')[-2000:]}")
    loaded = read_word2vec_format(output)
    keep = [i for i, token in enumerate(loaded.tokens) if token != "</s>"]
    vectors = WordVectors([loaded.tokens[i] for i in keep], loaded.vectors[keep])
    return {"trainer": "word2vec.c", "command": " ".join(argv[:1] + ["..."] + argv[5:]),
            "total_seconds": seconds, "words_per_second_incl_vocabulary": corpus_words / seconds,
            "peak_rss_mib": usage.ru_maxrss / 1024, "vocab_size": len(vectors.tokens), **evaluate(vectors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="a word2vec binary built from tmikolov/word2vec")
    parser.add_argument("--configs", nargs="+", choices=WORD2VEC_C_CONFIGS, default=["sg-ns", "cbow-ns"])
    parser.add_argument("--runs", type=int, default=2, help="runs per config (word2vec.c takes no seed)")
    parser.add_argument("--words", type=int, help="train on the corpus's first N words")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"--binary {args.binary}: not an executable file")
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="tfw2v-vs-word2vec-c-") as tmp:
        scratch = Path(tmp)
        corpus = prepare_corpus(args.words, scratch)
        corpus_words = count_words(corpus)
        for name in args.configs:
            architecture, objective, _ = CONFIGS[name]
            for number in range(1, args.runs + 1):
                record = run(args.binary, corpus, corpus_words, architecture, objective, scratch)
                runs[f"{name} run {number}"] = record
                print(f"word2vec.c {name} run {number}: {record['total_seconds']:.1f} s incl. vocabulary "
                      f"({record['words_per_second_incl_vocabulary']:,.0f} corpus words/s), peak "
                      f"{record['peak_rss_mib']:.0f} MiB, analogy {100 * record['analogy']['accuracy']:.2f}%, "
                      f"WS353 {record['wordsim353']['spearman']:.3f}, SimLex {record['simlex999']['spearman']:.3f}, "
                      f"MEN {record['men']['spearman']:.3f}", flush=True)
    path = save("vs_word2vec_c", {"settings": SETTINGS, "alpha": WORD2VEC_C_ALPHA, "threads": WORD2VEC_C_THREADS,
                                  "corpus_words": corpus_words, "runs": runs})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
