"""Full softmax at batch 1024 and 4096: does its dense output-table update learn at both batch sizes?

Run: ``python -m benchmarks.softmax_batch [--words N] [--batch-sizes 1024 4096] [--label NAME] [--note TEXT]``.
Results: ``benchmarks/results/softmax_batch.json``, under ``runs[NAME]``. Runs stored under other labels are
kept, so the file can hold the code before a change (measured from a checkout of it) beside the code after.

What runs: skip-gram with full softmax (``loss="softmax"``: the generic ``GradientTape`` path with
:class:`~tfw2v.training.optimizer.Word2VecSGD`, whose dense rows are capped by ``cap_dense_gradients``), the
API's defaults otherwise (dim 100, window 5, sample 1e-3, min_count 5), seed 1, 1 epoch on the first ``--words``
words (default 2,000,000) of the shared text8-style corpus, vocabulary capped at 10,000 words so that the
``O(B·V·D)`` softmax fits the time. The batch sizes run one after the other in this process, on the same
uncompressed copy of the corpus.

What is measured: WordSim353 Spearman and analogy accuracy (the bundled sets, :mod:`tfw2v.evaluate`), the final
mean loss per pair, and corpus words/s over ``model.fit`` (which depends on whatever else runs on the machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, prepare_corpus, save

NAME = "softmax_batch"
WORDS = 2_000_000
MAX_SIZE = 10_000
SEED = 1
BATCH_SIZES = (1024, 4096)
SETTINGS = {"architecture": "skipgram", "loss": "softmax", "dim": 100, "window": 5, "sample": 1e-3,
            "min_count": 5, "seed": SEED, "epochs": 1, "max_size": MAX_SIZE}


def run(corpus: str, batch_size: int) -> dict:
    """One full-softmax skip-gram model trained for 1 epoch at ``batch_size``, and its scores."""
    import tfw2v
    from tfw2v import evaluate

    vocab = tfw2v.Vocabulary.build(corpus, max_size=MAX_SIZE)
    dataset = tfw2v.data.skipgram_dataset(corpus, vocab, batch_size=batch_size, seed=SEED)
    model = tfw2v.Word2Vec(vocab, loss="softmax", seed=SEED)
    model.compile()
    assert not model.uses_fused_kernel, "full softmax trains on the generic path"
    start = time.perf_counter()
    history = model.fit(dataset, epochs=1, verbose=0)
    train_seconds = time.perf_counter() - start
    vectors = model.word_vectors()
    analogy = evaluate.analogies(vectors, evaluate.bundled("questions-words"))
    wordsim = evaluate.similarity(vectors, evaluate.bundled("wordsim353"))
    return {
        "batch_size": batch_size, "vocab_size": len(vocab), "corpus_words": vocab.corpus_words,
        "train_seconds": train_seconds, "words_per_s": vocab.corpus_words / train_seconds,
        "final_loss": history.history["loss"][-1],
        "wordsim353": wordsim["spearman"], "wordsim353_pairs": wordsim["pairs"],
        "analogy": analogy["accuracy"], "analogy_correct": analogy["correct"], "analogy_total": analogy["total"],
    }


def git_state() -> str:
    """The commit measured, with ``+changes`` when the working tree differs from it ("" outside git)."""
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    return commit + ("+changes" if commit and git("status", "--porcelain", "--untracked-files=no") else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=WORDS, help="the first N words of the corpus")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--label", default="current", help="name of this set of runs in the JSON")
    parser.add_argument("--note", default="", help="free text stored with the runs (which code was measured)")
    args = parser.parse_args()

    path = RESULTS / f"{NAME}.json"
    runs = json.loads(path.read_text()).get("runs", {}) if path.exists() else {}
    record = {"git": git_state(), "note": args.note, "words": args.words, "by_batch_size": {}}
    with tempfile.TemporaryDirectory() as scratch:
        corpus = prepare_corpus(args.words, Path(scratch))
        for batch_size in args.batch_sizes:
            result = run(corpus, batch_size)
            record["by_batch_size"][str(batch_size)] = result
            print(f"[{args.label}] batch {batch_size}: WS353 {result['wordsim353']:.3f}, analogy "
                  f"{100 * result['analogy']:.2f}%, {result['words_per_s']:,.0f} corpus words/s, final loss "
                  f"{result['final_loss']:.3f}", flush=True)
    runs[args.label] = record
    note = "corpus words/s over model.fit, measured on a shared 2-core machine"
    print(f"wrote {save(NAME, {'settings': SETTINGS, 'words_per_s_note': note, 'runs': runs})}")


if __name__ == "__main__":
    main()
