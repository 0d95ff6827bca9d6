"""A loss study: train several objectives on the same data with the same seed, then compare them.

A study recipe is an ordinary recipe plus a ``[study]`` section::

    [study]
    losses = ["softmax", "sampled_softmax", "ds", "nce", "ns", "hs"]

``tfw2v study RECIPE --out DIR`` trains one run per objective in ``DIR/<loss>/`` (ordinary run directories:
an interrupted study resumes where it stopped, finished runs are not trained again) and writes

* ``DIR/results.json`` and ``DIR/results.md``: analogy accuracy, similarity Spearman per set, corpus words/s
  and the final training loss per objective (losses of different objectives are different quantities: compare
  them within a row of epochs, not across rows);
* ``DIR/loss_study.png``: the training loss curves (against corpus words read) and quality against speed per
  objective — when matplotlib is installed (``pip install 'tfw2v[study]'``); otherwise it says it skipped it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

from tfw2v.names import OBJECTIVES
from tfw2v.training import recipe as recipes
from tfw2v.cli.report import Reporter
from tfw2v.training.run import train
from tfw2v.training.recipe import Recipe, RecipeError
from tfw2v.training.run_directory import RunDirectory, RunError

STUDY_SECTION = "study"
STUDY_KEYS = {"losses"}
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
PLOT_FILE = "loss_study.png"


def load_study(path: str | Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``(recipe layer, losses)`` of a study recipe; :class:`RecipeError` naming the file and key."""
    path = Path(path)
    document = recipes.read_toml(path)
    study = document.get(STUDY_SECTION)
    if not isinstance(study, dict):
        raise RecipeError(f"{path}: a study recipe needs a [{STUDY_SECTION}] section with 'losses'")
    unknown = sorted(set(study) - STUDY_KEYS)
    if unknown:
        raise RecipeError(f"{path}: unknown key '{unknown[0]}' in [{STUDY_SECTION}] (known: {', '.join(STUDY_KEYS)})")
    losses = study.get("losses", list(OBJECTIVES))
    if not isinstance(losses, list) or not losses or not all(isinstance(x, str) for x in losses):
        raise RecipeError(f"{path}: [{STUDY_SECTION}] losses must be a non-empty list of objective names")
    bad = [x for x in losses if x not in OBJECTIVES]
    if bad:
        raise RecipeError(f"{path}: [{STUDY_SECTION}] losses: {bad[0]!r} is not one of {', '.join(OBJECTIVES)}")
    layer = recipes.check_document(document, str(path), base_dir=path.resolve().parent, allow=(STUDY_SECTION,))
    if "loss" in layer.get("model", {}):
        raise RecipeError(f"{path}: [model] loss is chosen per run by [{STUDY_SECTION}] losses; remove it")
    return layer, list(dict.fromkeys(losses))


def run_study(
    recipe: Recipe,
    losses: list[str],
    out: Path,
    *,
    study_file: str | Path | None = None,
    verbose: int | str = "auto",
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    """Train (or resume, or skip when complete) one run per loss, then write the results; return them."""
    reporter = reporter or Reporter()
    if out.exists() and not out.is_dir():
        raise RunError(f"{out}: exists and is not a directory")
    for loss in losses:  # check every run directory before training anything
        RunDirectory(out / loss).check_usable_for_training()
    out.mkdir(parents=True, exist_ok=True)
    for i, loss in enumerate(losses, 1):
        reporter.say(f"=== [{i}/{len(losses)}] loss = {loss} ===")
        values = {section: dict(keys) for section, keys in recipe.values.items()}
        values["model"]["loss"] = loss
        sources = [str(study_file)] if study_file else []
        train(Recipe(values), out / loss, sources=sources + [f"study loss={loss}"], say=reporter.say,
              note=reporter.note, verbose=verbose, progress_stream=reporter.out)
    results = collect(out, losses, recipe)
    write_results(out, results)
    reporter.say(f"results: {out / RESULTS_MD}, {out / RESULTS_JSON}")
    plotted = plot(out, results, reporter.say)
    if plotted:
        reporter.say(f"plot: {plotted}")
    reporter.say("")
    reporter.say((out / RESULTS_MD).read_text(encoding="utf-8"))
    return results


# ---------------------------------------------------------------------------------------------------------
def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _curve(path: Path) -> list[tuple[float, float]]:
    """``(words, loss)`` points of a run's progress.jsonl, in order of words. The loss is Keras' running mean
    since the start of the epoch, as the progress bar shows it."""
    points: dict[float, float] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "words" in record and "loss" in record:
            points[float(record["words"])] = float(record["loss"])
    return sorted(points.items())


def collect(out: Path, losses: list[str], recipe: Recipe) -> dict[str, Any]:
    """The study's results from its run directories."""
    rows = []
    for loss in losses:
        run = RunDirectory(out / loss)
        status = run.read_status()
        evaluation = _read_json(run.evaluation_file, {})
        history = _read_json(run.history_file, [])
        seconds = sum(h["words"] / h["words_per_sec"] for h in _epoch_words(history) if h["words_per_sec"] > 0)
        words = sum(h["words"] for h in _epoch_words(history))
        analogies = evaluation.get("analogies") or {}
        rows.append({
            "loss": loss,
            "analogy_accuracy": analogies.get("accuracy"),
            "analogy_semantic": analogies.get("semantic_accuracy"),
            "analogy_syntactic": analogies.get("syntactic_accuracy"),
            "similarity": {name: s.get("spearman") for name, s in (evaluation.get("similarity") or {}).items()},
            "words_per_sec": words / seconds if seconds > 0 else status.get("words_per_sec"),
            "final_loss": history[-1].get("loss") if history else None,
            "epochs": len(history),
            "words": status.get("words_seen"),
            "status": status.get("status"),
            "curve": _curve(run.progress_file),
        })
    t, m, c = recipe["training"], recipe["model"], recipe["corpus"]
    return {
        "setup": {
            "corpus": c["paths"], "min_count": c["min_count"], "max_size": c["max_size"],
            "architecture": m["architecture"], "dim": m["dim"], "negatives": m["negatives"], "window": t["window"],
            "sample": t["sample"], "epochs": t["epochs"], "batch_size": t["batch_size"], "seed": t["seed"],
        },
        "results": rows,
    }


def _epoch_words(history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Words read and words/s of each epoch (``words`` in the logs is cumulative)."""
    out, previous = [], 0.0
    for h in history:
        words = float(h.get("words", 0.0))
        out.append({"words": words - previous, "words_per_sec": float(h.get("words_per_sec", 0.0))})
        previous = words
    return out


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, fmt)


def markdown(results: dict[str, Any]) -> str:
    setup = results["setup"]
    rows = results["results"]
    sets = list(dict.fromkeys(name for row in rows for name in row["similarity"]))
    head = ["loss", "analogy acc.", "semantic", "syntactic", *[f"{s} ρ" for s in sets], "words/s", "final loss"]
    lines = [
        "# Loss study",
        "",
        f"Corpus {', '.join(setup['corpus'])} (min_count {setup['min_count']}"
        + (f", max_size {setup['max_size']}" if setup["max_size"] else "")
        + f"); {setup['architecture']}, dim {setup['dim']}, window {setup['window']}, {setup['negatives']} "
        f"negatives/samples, sample {setup['sample']:g}, {setup['epochs']} epochs, batch {setup['batch_size']}, "
        f"seed {setup['seed']}. Analogies: 3CosAdd on questions-words (top 30,000 words, gensim semantics); "
        "ρ: Spearman. The final loss is each objective's own quantity: not comparable across rows.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
    ]
    for row in rows:
        cells = [
            row["loss"],
            _cell(None if row["analogy_accuracy"] is None else 100 * row["analogy_accuracy"], ".2f") + "%",
            _cell(None if row["analogy_semantic"] is None else 100 * row["analogy_semantic"], ".2f") + "%",
            _cell(None if row["analogy_syntactic"] is None else 100 * row["analogy_syntactic"], ".2f") + "%",
            *[_cell(row["similarity"].get(s), ".3f") for s in sets],
            _cell(row["words_per_sec"], ",.0f"),
            _cell(row["final_loss"], ".4f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(out: Path, results: dict[str, Any]) -> None:
    from tfw2v.export.atomic import atomic_file

    with atomic_file(out / RESULTS_JSON) as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    with atomic_file(out / RESULTS_MD) as f:
        f.write(markdown(results))


def plot(out: Path, results: dict[str, Any], say: Callable[[str], None] = print) -> Path | None:
    """Loss curves and quality/speed per objective as ``out/loss_study.png``; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("plot skipped: matplotlib is not installed (pip install 'tfw2v[study]')")
        return None
    rows = results["results"]
    fig, (curves, quality) = plt.subplots(1, 2, figsize=(13, 5))
    for row in rows:
        if row["curve"]:
            words, loss = zip(*row["curve"])
            curves.plot(words, loss, marker=".", markersize=3, label=row["loss"])
    curves.set_xlabel("corpus words read")
    curves.set_ylabel("training loss (per pair; each objective its own scale)")
    curves.set_yscale("log")
    curves.set_title("training loss (running mean within each epoch)")
    if curves.lines:
        curves.legend()
    for row in rows:
        if row["words_per_sec"] and row["analogy_accuracy"] is not None:
            quality.scatter(row["words_per_sec"], 100 * row["analogy_accuracy"])
            quality.annotate(row["loss"], (row["words_per_sec"], 100 * row["analogy_accuracy"]),
                             textcoords="offset points", xytext=(5, 5))
    quality.set_xscale("log")
    quality.set_xlabel("corpus words / second (log)")
    quality.set_ylabel("analogy accuracy (%)")
    quality.set_title("quality vs speed")
    fig.tight_layout()
    path = out / PLOT_FILE
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
