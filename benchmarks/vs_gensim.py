"""tfw2v vs gensim on the same corpus, settings, cores and run: words/s, wall time, peak memory, quality.

Run: ``python -m benchmarks.vs_gensim [--configs sg-ns cbow-ns sg-hs sg-ds] [--objectives] [--words N]
[--max-size N] [--batch-size N] [--extra JSON] [--seeds S ...]``. Results: ``benchmarks/results/vs_gensim[_N].json``
(``objectives[_N].json`` for ``--configs --objectives``); the README table is printed and stored under "table".
``--seeds 1 2 3`` runs every config once per seed (both trainers take it; the seed is not a tuning), and adds
the spread of the ratios and quality gaps over the seeds (``..._seeds_1_2_3.json``).

What runs. Each trainer runs in its own child process (so its memory is its own), one after the other, on
the same uncompressed copy of the corpus (``--words N``: its first N words). Settings: dim 100, window 5,
negative 5, sample 1e-3, min_count 5, 1 epoch.

* tfw2v runs at the API's defaults, exactly as a new user writes it, with no tuning:
  ``Vocabulary.build(corpus, min_count=5)``, ``data.skipgram_dataset(corpus, vocab, seed=1)`` (or
  ``cbow_dataset``; default batch size), ``Word2Vec(vocab, architecture=..., loss=..., seed=1)``,
  ``model.compile()``, ``model.fit(dataset, epochs=1, verbose=0)``. The child asserts that the API's
  defaults *are* the settings above (it does not pass them). ``--batch-size`` and ``--extra`` (model
  keyword arguments, e.g. ``'{"fused": false}'``) make a *tuned* run, labelled so in the table and JSON.
* gensim 4.4 runs with ``workers=2`` (the benchmark machine's cores) and word2vec.c's learning rates:
  alpha 0.025 for skip-gram and 0.05 for CBOW (gensim's own default, 0.025 for both, under-trains CBOW),
  gensim's default min_alpha. Both trainers' alphas are recorded.
* Configs: sg-ns, cbow-ns, sg-hs, and sg-ds (tfw2v's downsampled softmax, ``loss="ds"``). gensim has no
  DS: sg-ds is compared with gensim sg-ns (the same gensim run as the sg-ns row when both are run), and
  the row label and JSON say so. ``--objectives`` adds tfw2v skip-gram runs for all six objectives
  (``--max-size`` caps their vocabulary so that full softmax fits the time).

What is measured, for both trainers:

* seconds: vocabulary (``Vocabulary.build`` / ``build_vocab``), train (``model.fit`` / ``train``), and total
  wall "vocabulary included" (tfw2v: Vocabulary.build + dataset + model + compile + fit; gensim: model
  constructor + build_vocab + train). Imports are timed separately and are in neither.
* corpus words/s over the train time and over the total time, and the tfw2v/gensim ratio of each.
* memory: the peak RSS right after training (``ru_maxrss``). gensim's is read before anything imports
  TensorFlow (asserted), since the shared evaluator imports it afterwards; the process's peak after
  evaluation is recorded separately. tfw2v's child imports TensorFlow first and records the RSS of that
  import alone, the share of its peak that is the TF runtime. Also recorded: ``/proc/self/status`` after
  training (``VmHWM`` = peak RSS; ``VmRSS``/``RssAnon``/``RssFile`` are *current*, not peaks) and a sampled
  peak of anonymous memory (``RssAnon`` read every 50 ms by a thread: a lower bound).
* quality: both sets of vectors go through the same evaluator (``tfw2v.evaluate``): analogies (30k
  vocabulary), WordSim353, SimLex-999 and MEN; gensim's own ``evaluate_word_analogies`` cross-checks it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import SHARED_DATA, AnonPeakSampler, peak_rss_mib, prepare_corpus, proc_status_mib, save

SETTINGS = dict(dim=100, window=5, negative=5, sample=1e-3, min_count=5, epochs=1)
WORD2VEC_C_ALPHA = {"skipgram": 0.025, "cbow": 0.05}  # gensim's alpha here: word2vec.c's per-architecture rates
GENSIM_WORKERS = 2
SEED = 1  # the seed a run uses unless --seeds says otherwise
CONFIGS = {  # name: (architecture, tfw2v objective, gensim objective)
    "sg-ns": ("skipgram", "ns", "ns"),
    "cbow-ns": ("cbow", "ns", "ns"),
    "sg-hs": ("skipgram", "hs", "hs"),
    "sg-ds": ("skipgram", "ds", "ns"),  # gensim has no downsampled softmax: its peer is gensim sg-ns
}
OBJECTIVES = ("ns", "nce", "ds", "sampled_softmax", "hs", "softmax")
SIMILARITY_SETS = {
    "wordsim353": SHARED_DATA / "wordsim353.tsv",
    "simlex999": SHARED_DATA / "simlex999.txt",
    "men": SHARED_DATA / "MEN_dataset_natural_form_full",
}


def evaluate(vectors) -> dict:
    from tfw2v import evaluate as ev

    result = {"analogy": ev.analogies(vectors, SHARED_DATA / "questions-words.txt", restrict_vocab=30000)}
    for name, path in SIMILARITY_SETS.items():
        result[name] = ev.similarity(vectors, path)
    return result


def tfw2v_defaults() -> dict:
    """The defaults of the tfw2v calls the benchmark makes, read from their signatures."""
    import inspect

    from tfw2v import Vocabulary, data
    from tfw2v.training.model import DEFAULT_ALPHA, Word2Vec

    def default(function, name):
        return inspect.signature(function).parameters[name].default

    return {
        "min_count": default(Vocabulary.build, "min_count"),
        "window": default(data.examples_dataset, "window"),
        "sample": default(data.examples_dataset, "sample"),
        "batch_size": default(data.examples_dataset, "batch_size"),
        "dim": default(Word2Vec.__init__, "dim"),
        "negative": default(Word2Vec.__init__, "negatives"),
        "alpha": dict(DEFAULT_ALPHA),
    }


def run_tfw2v(corpus: str, architecture: str, objective: str, batch_size: int | None, extra: dict,
              max_size: int | None, seed: int = SEED) -> dict:
    memory = {"python_start_mib": peak_rss_mib()}
    sampler = AnonPeakSampler().start()
    start = time.perf_counter()
    import tensorflow  # noqa: F401  first and alone: the TF runtime's share of this process's memory

    memory["import_tensorflow_mib"] = peak_rss_mib()
    from tfw2v import Vocabulary, data
    from tfw2v.training.model import MIN_ALPHA_RATIO, Word2Vec

    import_seconds = time.perf_counter() - start
    memory["import_tfw2v_mib"] = peak_rss_mib()  # TensorFlow + Keras + tfw2v

    defaults = tfw2v_defaults()
    for key in ("dim", "window", "negative", "sample", "min_count"):
        assert defaults[key] == SETTINGS[key], (
            f"tfw2v's default {key}={defaults[key]!r} is not the benchmark's {SETTINGS[key]!r}: this benchmark "
            f"measures the API's defaults, so update SETTINGS (and gensim's) rather than passing {key}")
    vocab_options = {"min_count": SETTINGS["min_count"]} | ({"max_size": max_size} if max_size else {})
    data_options = {"seed": seed} | ({"batch_size": batch_size} if batch_size is not None else {})
    model_options = {"architecture": architecture, "loss": objective, "seed": seed, **extra}
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    calls = [f"Vocabulary.build(corpus, {kwargs(vocab_options)})",
             f"data.{make.__name__}(corpus, vocab, {kwargs(data_options)})",
             f"Word2Vec(vocab, {kwargs(model_options)})", "model.compile()",
             f"model.fit(dataset, epochs={SETTINGS['epochs']}, verbose=0)"]

    start = time.perf_counter()
    vocab = Vocabulary.build(corpus, **vocab_options)
    vocab_seconds = time.perf_counter() - start
    dataset = make(corpus, vocab, **data_options)
    model = Word2Vec(vocab, **model_options)
    model.compile()
    fit_start = time.perf_counter()
    history = model.fit(dataset, epochs=SETTINGS["epochs"], verbose=0)
    end = time.perf_counter()

    memory["peak_after_train_mib"] = peak_rss_mib()
    memory["status_after_train_mib"] = proc_status_mib()
    memory.update(sampler.stop())
    return {
        "trainer": "tfw2v", "calls": calls, "api_defaults": defaults, "tuned": bool(batch_size is not None or extra),
        "batch_size": batch_size if batch_size is not None else defaults["batch_size"], "extra": extra,
        "max_size": max_size, "alpha": model.alpha, "min_alpha": model.alpha * MIN_ALPHA_RATIO,
        "corpus_words": vocab.corpus_words, "vocab_size": len(vocab), "import_seconds": import_seconds,
        "vocab_seconds": vocab_seconds, "setup_seconds": fit_start - start - vocab_seconds,
        "train_seconds": end - fit_start, "total_seconds": end - start,
        "final_loss": history.history["loss"][-1], "memory": memory, "vectors": model.word_vectors(),
    }


def kwargs(options: dict) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in options.items())


def run_gensim(corpus: str, architecture: str, objective: str, seed: int = SEED) -> dict:
    memory = {"python_start_mib": peak_rss_mib()}
    sampler = AnonPeakSampler().start()
    start = time.perf_counter()
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.models.word2vec import Text8Corpus

    import_seconds = time.perf_counter() - start
    sentences = Text8Corpus(corpus)
    start = time.perf_counter()
    model = GensimWord2Vec(
        vector_size=SETTINGS["dim"], alpha=WORD2VEC_C_ALPHA[architecture], window=SETTINGS["window"],
        sample=SETTINGS["sample"], min_count=SETTINGS["min_count"], workers=GENSIM_WORKERS,
        sg=int(architecture == "skipgram"), hs=int(objective == "hs"),
        negative=0 if objective == "hs" else SETTINGS["negative"], epochs=SETTINGS["epochs"], seed=seed,
    )
    model.build_vocab(sentences)
    vocab_seconds = time.perf_counter() - start
    train_start = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=SETTINGS["epochs"])
    end = time.perf_counter()

    # gensim's own memory: read before the evaluator (below) imports TensorFlow.
    assert "tensorflow" not in sys.modules, "TensorFlow was imported before gensim's peak memory was read"
    memory["peak_after_train_mib"] = peak_rss_mib()
    memory["status_after_train_mib"] = proc_status_mib()
    memory.update(sampler.stop())
    gensim_analogy = model.wv.evaluate_word_analogies(str(SHARED_DATA / "questions-words.txt"), restrict_vocab=30000)[0]
    from tfw2v.training.vectors import WordVectors

    return {
        "trainer": "gensim", "workers": GENSIM_WORKERS, "alpha": model.alpha, "min_alpha": model.min_alpha,
        "sg": model.sg, "hs": model.hs, "negative": model.negative,
        "corpus_words": model.corpus_total_words, "vocab_size": len(model.wv), "import_seconds": import_seconds,
        "vocab_seconds": vocab_seconds, "train_seconds": end - train_start, "total_seconds": end - start,
        "gensim_own_analogy_accuracy": gensim_analogy, "memory": memory,
        "vectors": WordVectors(list(model.wv.index_to_key), model.wv.vectors),
    }


def child(args: argparse.Namespace) -> None:
    """One trainer, in this process; prints one JSON line."""
    architecture, objective = args.architecture, args.objective
    if args.child == "tfw2v":
        record = run_tfw2v(args.corpus, architecture, objective, args.batch_size, json.loads(args.extra),
                           args.max_size, args.seed)
    else:
        record = run_gensim(args.corpus, architecture, objective, args.seed)
    record.update(architecture=architecture, objective=objective)
    vectors = record.pop("vectors")
    record.update(evaluate(vectors))
    record["words_per_s"] = record["corpus_words"] / record["train_seconds"]
    record["words_per_s_total"] = record["corpus_words"] / record["total_seconds"]
    record["peak_rss_mib"] = record["memory"]["peak_after_train_mib"]
    record["memory"]["peak_after_eval_mib"] = peak_rss_mib()
    print("RESULT " + json.dumps(record))


def spawn(trainer: str, corpus: str, architecture: str, objective: str, batch_size: int | None = None,
          extra: dict | None = None, max_size: int | None = None, seed: int = SEED) -> dict:
    command = [sys.executable, "-m", "benchmarks.vs_gensim", "--child", trainer, "--corpus", corpus,
               "--architecture", architecture, "--objective", objective, "--extra", json.dumps(extra or {}),
               "--seed", str(seed)]
    command += (["--batch-size", str(batch_size)] if batch_size is not None else []) + (
        ["--max-size", str(max_size)] if max_size else [])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1])
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{trainer} {architecture}/{objective} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def row(name: str, r: dict) -> str:
    peak = f"{r['peak_rss_mib']:,.0f}"
    if "import_tensorflow_mib" in r["memory"]:
        peak += f" (TF {r['memory']['import_tensorflow_mib']:,.0f})"
    return (f"| {name} | {r['words_per_s']:,.0f} | {r['total_seconds']:.1f} | {peak} | "
            f"{100 * r['analogy']['accuracy']:.2f} | {r['wordsim353']['spearman']:.3f} | "
            f"{r['simlex999']['spearman']:.3f} | {r['men']['spearman']:.3f} |")


def ratio_row(name: str, ours: dict, theirs: dict) -> str:
    """tfw2v ÷ gensim: speed over the train time and over the total (the wall-s column), peak RSS; then
    quality differences tfw2v − gensim."""
    def delta(key):
        return ours[key]["spearman"] - theirs[key]["spearman"]

    analogy = 100 * (ours["analogy"]["accuracy"] - theirs["analogy"]["accuracy"])
    return (f"| *{name}: tfw2v ÷ gensim* | {ours['words_per_s'] / theirs['words_per_s']:.2f}× | "
            f"{ours['words_per_s_total'] / theirs['words_per_s_total']:.2f}× speed | "
            f"{ours['peak_rss_mib'] / theirs['peak_rss_mib']:.2f}× | {analogy:+.2f} pp | {delta('wordsim353'):+.3f} | "
            f"{delta('simlex999'):+.3f} | {delta('men'):+.3f} |")


def spread(runs: list[dict]) -> dict:
    """Mean, minimum and maximum over ``runs`` (one per seed) of the speed ratios and the analogy gap (pp)."""
    measures = {
        "speed_ratio_train": [r["speed_ratio_train"] for r in runs],
        "speed_ratio_total": [r["speed_ratio_total"] for r in runs],
        "analogy_gap_pp": [100 * (r["tfw2v"]["analogy"]["accuracy"] - r["gensim"]["analogy"]["accuracy"])
                           for r in runs],
    }
    return {key: {"mean": sum(v) / len(v), "min": min(v), "max": max(v), "n": len(v)} for key, v in measures.items()}


def spread_row(name: str, summary: dict) -> str:
    def cell(key, unit, sign=""):
        m = summary[key]
        return f"{m['mean']:{sign}.2f}{unit} ({m['min']:{sign}.2f} to {m['max']:{sign}.2f})"

    return (f"| *{name}, mean (min to max) over {summary['analogy_gap_pp']['n']} seeds* | "
            f"{cell('speed_ratio_train', '×')} | {cell('speed_ratio_total', '×')} speed | | "
            f"{cell('analogy_gap_pp', ' pp', '+')} | | | |")


HEADER = ("| run | corpus words/s (train) | wall s incl. vocabulary | peak MiB | analogy % | WS353 ρ | SimLex ρ "
          "| MEN ρ |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
LEGEND = ("peak MiB: peak RSS right after training (gensim's before TensorFlow is imported); (TF n): RSS of "
          "`import tensorflow` alone in the same process. Ratio rows: tfw2v ÷ gensim corpus words/s over the "
          "train time and over the total wall time incl. vocabulary (> 1: tfw2v faster), peak RSS, then quality "
          "differences tfw2v − gensim.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS),
                        help="tfw2v vs gensim pairs to run (none: only --objectives)")
    parser.add_argument("--objectives", action="store_true", help="also all six objectives on skip-gram")
    parser.add_argument("--words", type=int, default=None, help="use only the first N words of the corpus")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="tfw2v batch size (default: the API's; giving one makes a 'tuned' run)")
    parser.add_argument("--max-size", type=int, default=None,
                        help="tfw2v vocabulary cap for --objectives (so that full softmax fits the time)")
    parser.add_argument("--extra", default="{}",
                        help="JSON of extra Word2Vec keyword arguments, e.g. '{\"fused\": false}' ('tuned' run)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[SEED],
                        help="run every config once per seed, both trainers seeded alike (default: 1)")
    parser.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=("tfw2v", "gensim"), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--architecture", help=argparse.SUPPRESS)
    parser.add_argument("--objective", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    extra = json.loads(args.extra)
    tuned = args.batch_size is not None or bool(extra)
    tuning = ", ".join(([f"batch {args.batch_size}"] if args.batch_size is not None else []) +
                       [f"{k}={v!r}" for k, v in extra.items()])
    suffix = f" (tuned: {tuning})" if tuned else ""
    results: dict = {
        "settings": SETTINGS, "words": args.words, "max_size": args.max_size, "tuned": tuned,
        "batch_size": args.batch_size or "API default", "extra": extra,
        "peers": {"tfw2v": "API defaults: Vocabulary.build(min_count=5), dataset(seed=1), Word2Vec(seed=1), "
                           "compile(), fit(epochs=1)" + suffix,
                  "gensim": {"alpha": WORD2VEC_C_ALPHA, "min_alpha": "gensim default", "workers": GENSIM_WORKERS,
                             "note": "word2vec.c's learning rates (gensim's own default alpha, 0.025, "
                                     "under-trains CBOW)"}},
        "runs": {},
    }
    lines = [HEADER]
    ratios = []
    gensim_runs: dict = {}  # (architecture, objective) -> record: sg-ns and sg-ds share one gensim sg-ns run
    with tempfile.TemporaryDirectory() as scratch:
        corpus = prepare_corpus(args.words, Path(scratch))
        for seed, name in ((seed, name) for seed in args.seeds for name in args.configs):
            architecture, objective, peer_objective = CONFIGS[name]
            peer = f"{name.split('-')[0]}-{peer_objective}"
            ours = spawn("tfw2v", corpus, architecture, objective, args.batch_size, extra, seed=seed)
            if (architecture, peer_objective, seed) not in gensim_runs:
                gensim_runs[architecture, peer_objective, seed] = spawn("gensim", corpus, architecture,
                                                                        peer_objective, seed=seed)
            theirs = gensim_runs[architecture, peer_objective, seed]
            run = {"tfw2v": ours, "gensim": theirs, "gensim_peer": peer,
                   "speed_ratio_train": ours["words_per_s"] / theirs["words_per_s"],
                   "speed_ratio_total": ours["words_per_s_total"] / theirs["words_per_s_total"],
                   "peak_rss_ratio": ours["peak_rss_mib"] / theirs["peak_rss_mib"]}
            if peer != name:
                run["note"] = f"gensim has no '{objective}' objective; compared with gensim {peer}"
            run["seed"] = seed
            label = name if args.seeds == [SEED] else f"{name} seed {seed}"
            results["runs"][label] = run
            theirs_label = f"gensim {peer}" + (f" (peer of {name}: gensim has no {objective.upper()})"
                                               if peer != name else "") + label[len(name):]
            lines += [row(f"tfw2v {label}{suffix}", ours), row(theirs_label, theirs)]
            ratios.append(ratio_row(label, ours, theirs))
            print(f"{name}: tfw2v/gensim corpus words/s {run['speed_ratio_train']:.2f}x (train), "
                  f"{run['speed_ratio_total']:.2f}x (vocabulary included; {ours['total_seconds']:.1f} s vs "
                  f"{theirs['total_seconds']:.1f} s); peak RSS {ours['peak_rss_mib']:,.0f} MiB (TF import alone "
                  f"{ours['memory']['import_tensorflow_mib']:,.0f}) vs {theirs['peak_rss_mib']:,.0f} MiB; analogy "
                  f"{100 * ours['analogy']['accuracy']:.2f}% vs {100 * theirs['analogy']['accuracy']:.2f}% "
                  f"(gensim's own evaluator: {100 * theirs['gensim_own_analogy_accuracy']:.2f}%)", flush=True)
        if args.objectives:
            for objective in OBJECTIVES:
                r = spawn("tfw2v", corpus, "skipgram", objective, args.batch_size, extra, args.max_size)
                results["runs"][f"objective-{objective}"] = r
                cap = f" (vocabulary ≤ {args.max_size:,})" if args.max_size else ""
                lines.append(row(f"tfw2v sg-{objective}{cap}{suffix}", r))
                print(lines[-1], flush=True)
    if len(args.seeds) > 1:
        results["over_seeds"] = {name: spread([r for r in results["runs"].values()
                                               if r["tfw2v"]["architecture"] == CONFIGS[name][0]
                                               and r["tfw2v"]["objective"] == CONFIGS[name][1]])
                                 for name in args.configs}
        ratios += [spread_row(name, summary) for name, summary in results["over_seeds"].items()]
    table = "\n".join(lines + ratios) + ("\n\n" + LEGEND if ratios else "")
    results["table"] = table
    print(table)
    name = "objectives" if args.objectives and not args.configs else "vs_gensim"
    name = name if args.words is None else f"{name}_{args.words}"
    name += "" if args.seeds == [SEED] else "_seeds_" + "_".join(map(str, args.seeds))
    print(f"saved {save(name + ('_tuned' if tuned else ''), results)}")


if __name__ == "__main__":
    main()
