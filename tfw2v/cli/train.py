"""``tfw2v train``: create or resume a run and take it to completion — vocabulary, resumable training with
checkpoints, TensorBoard logs, evaluation, nearest neighbours and exports (see :mod:`tfw2v.training.run_directory` for the
directory layout and :mod:`tfw2v.training.checkpointing` for how a stopped run resumes exactly)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import keras

from tfw2v.names import SAMPLED_OBJECTIVES
from tfw2v.training import recipe as recipes
from tfw2v.training.checkpointing import Checkpointer, CheckpointError, StopSignals, epoch_seed, fit_resumable
from tfw2v.cli.report import (
    Reporter,
    evaluate_vectors,
    evaluation_file,
    export_vectors,
    format_evaluation,
    format_neighbours,
    neighbours,
)
from tfw2v.training.recipe import Recipe
from tfw2v.training.run_directory import (
    RunDirectory,
    RunError,
    _now,
    _version,
    build_model,
    corpus_files,
    estimated_steps,
    load_phrases,
    load_vocab,
    make_dataset,
    tokenizer_of,
)


def prepare(run: RunDirectory, recipe: Recipe | None) -> tuple[Recipe, str]:
    """Decide what ``train`` does with ``run``: ``"new"``, ``"resume"`` or ``"complete"``; return the recipe.

    ``recipe`` is ``None`` when the user gave no recipe, corpus or option: an existing run then continues with
    its own recipe. Otherwise an existing run must have the same training configuration.
    """
    run.check_usable_for_training()
    if not run.is_run():
        if recipe is None:
            recipe = recipes.resolve()
        return recipe, "new"
    stored = run.read_recipe()
    status = run.read_status()
    if recipe is not None:
        differences = stored.differences(recipe)
        if differences:
            shown = "; ".join(differences[:3]) + (f"; and {len(differences) - 3} more" if len(differences) > 3 else "")
            raise RunError(f"{run.path}: holds a run with a different configuration ({shown}); use another --out, "
                           f"or run 'tfw2v train --out {run.path}' alone to continue it")
    else:
        recipe = stored
    return recipe, "complete" if status.get("status") == "complete" else "resume"


def train(
    recipe: Recipe | None,
    out: str | os.PathLike,
    *,
    sources: list[str] | None = None,
    reporter: Reporter | None = None,
    verbose: int | str = "auto",
    command: str | None = None,
) -> dict[str, Any]:
    """Create or resume the run in ``out`` and take it to completion (training, evaluation, exports).

    ``sources`` (where the recipe came from) and ``command`` (the command line) go into the header of the
    run's ``recipe.toml``. Returns the run's final status. Raises :class:`RunError` for user errors and
    :class:`tfw2v.training.checkpointing.Interrupted` after saving when SIGINT/SIGTERM stopped it.
    """
    reporter = reporter or Reporter()
    say = reporter.say
    run = RunDirectory(Path(out))
    recipe, state = prepare(run, recipe)
    if state == "complete":
        status = run.read_status()
        say(f"{run.path}: this run is complete ({status.get('epochs_done', '?')} epochs, "
            f"{status.get('words_seen', 0):,.0f} words); nothing to do.")
        say(f"  use 'tfw2v evaluate {run.path}', 'tfw2v neighbors {run.path} WORD', "
            f"or 'tfw2v export {run.path} --to DIR'")
        return status

    files = corpus_files(recipe)  # checks the corpus (and a phrase table file) before anything is written
    table = None if run.phrases_file.exists() else _phrase_table_file(recipe)
    for name in ([recipe["evaluation"]["analogies"]] if recipe["evaluation"]["analogies"] else []) + list(
        recipe["evaluation"]["similarity"]
    ):
        evaluation_file(name)

    # The configuration is known to be usable: from here on the run directory is written.
    run.path.mkdir(parents=True, exist_ok=True)
    if state == "new":
        run.write_recipe(recipe, list(sources or []), command)
        run.write_status(status="training", created=_now(), tfw2v=_version(), epochs=recipe["training"]["epochs"],
                         epochs_done=0, words_seen=0)
        say(f"run directory: {run.path}")
    else:
        say(f"resuming the run in {run.path}")

    signals = StopSignals()
    with signals.installed():
        vocab = _vocabulary(run, recipe, files, table, say)
        t = recipe["training"]
        model = build_model(recipe, vocab)
        try:
            checkpointer = Checkpointer(model, run.checkpoints)
            position = checkpointer.restore(warn=reporter.note)
        except CheckpointError as e:
            raise RunError(f"corrupt run directory: {e}") from None
        if position is None:
            if state == "resume" and any(run.checkpoints.glob("*")):
                raise RunError(f"corrupt run directory: {run.checkpoints} holds no restorable checkpoint")
            position = (0, 0)
        if state == "resume" and sources and recipe != run.read_recipe():
            run.write_recipe(recipe, list(sources), command)  # only resumable keys (evaluation, exports…) can differ
        if position != (0, 0):
            say(f"restored {Path(checkpointer.restored).name}: epoch {min(position[0] + 1, t['epochs'])}/"
                f"{t['epochs']}, step {position[1]}, {float(model.words_seen.numpy()):,.0f} words read")
        m = recipe["model"]
        sampled = f"{m['negatives']} negatives, " if m["loss"] in SAMPLED_OBJECTIVES else ""
        say(f"model: {m['architecture']} / {m['loss']}, dim {m['dim']}, window {t['window']}, {sampled}"
            f"sample {t['sample']:g}, alpha {t['alpha']:g}, batch {t['batch_size']}, {t['epochs']} epochs, "
            f"seed {t['seed']}")
        path = "the fused CPU kernel" if model.uses_fused_kernel else "the generic TensorFlow path"
        say(f"training on {path} (fused = {t['fused']})")
        run.write_status(fused_kernel=model.uses_fused_kernel)

        started = time.perf_counter()
        words_before = float(model.words_seen.numpy())
        history = _read_history(run)
        if position[0] < t["epochs"]:
            epoch_history = fit_resumable(
                model,
                lambda epoch: make_dataset(recipe, files, vocab, epoch_seed(t["seed"], epoch)),
                epochs=t["epochs"],
                checkpointer=checkpointer,
                signals=signals,
                start=position,
                checkpoint_every=t["checkpoint_every"],
                callbacks=_callbacks_factory(run, recipe, vocab, verbose, reporter),
                total_words=float(vocab.corpus_words) * t["epochs"],
                on_save=lambda path, epoch, step: _saved(run, model, epoch, step),
            )
            history = [h for h in history if h["epoch"] not in {e["epoch"] for e in epoch_history}] + epoch_history
            run.write_json(run.history_file, history)
        elapsed = time.perf_counter() - started
        words = float(model.words_seen.numpy())
        speed = (words - words_before) / elapsed if words > words_before and elapsed > 0 else None
        run.write_status(epochs_done=t["epochs"], words_seen=words)
        if speed is not None:
            say(f"trained on {words - words_before:,.0f} words in {elapsed:.1f}s ({speed:,.0f} words/s)")

        vectors = model.word_vectors()
        say("evaluation:")
        try:
            result = evaluate_vectors(vectors, recipe)
        except (ValueError, OSError) as e:  # an evaluation file with bad content: fix it and run again
            raise RunError(f"evaluation failed: {e}") from None
        for line in format_evaluation(result):
            say(line)
        ev = recipe["evaluation"]
        found = neighbours(vectors, list(ev["probes"]), ev["neighbors"])
        if found:
            say("nearest neighbours:")
            for line in format_neighbours(found):
                say(line)
        result["neighbors"] = {w: None if n is None else [[x, s] for x, s in n] for w, n in found.items()}
        run.write_json(run.evaluation_file, result)

        formats = list(recipe["export"]["formats"])
        if formats:
            written = export_vectors(vectors, formats, run.export_dir, logdir=run.logs,
                                     projector_top=recipe["export"]["projector_top"], overwrite=True,
                                     saved_model_version=1, say=say)
            for fmt, where in written.items():
                say(f"  exported {fmt}: {where}")
        summary = {
            "status": "complete", "finished": _now(), "epochs_done": t["epochs"], "words_seen": words,
            "vocab_size": len(vocab), "corpus_words": vocab.corpus_words,
        }
        if speed is not None:  # of the process that finished the run (history.json has every epoch's)
            summary.update(words_per_sec=speed)
        status = run.write_status(**summary)
        say(f"done: {run.path}")
        return status


def _vocabulary(run: RunDirectory, recipe: Recipe, files: list[str], table, say: Callable[[str], None]):
    from tfw2v.text.vocabulary import Vocabulary

    status = run.read_status()
    if run.vocab_file.exists():
        vocab = load_vocab(run, recipe, status.get("corpus_words"))
        if status.get("corpus_words") is None:
            raise RunError(f"corrupt run directory: {run.status_file} lacks corpus_words")
        say(f"vocabulary: {len(vocab):,} words (from {run.vocab_file.name}), corpus {vocab.corpus_words:,} words")
        return vocab
    if any(run.checkpoints.glob("*")):
        raise RunError(f"corrupt run directory: {run.vocab_file} is missing but checkpoints exist")
    c = recipe["corpus"]
    phrases = _phrases(run, recipe, files, table, say)
    say(f"counting words in {', '.join(files[:3])}{' …' if len(files) > 3 else ''}")
    try:
        vocab = Vocabulary.build(files, min_count=c["min_count"], max_size=c["max_size"],
                                 tokenizer=tokenizer_of(recipe), phrases=phrases)
    except ValueError as e:  # CorpusError included: empty corpus, no word frequent enough, unreadable file
        raise RunError(str(e)) from None
    run.write_status(corpus_words=vocab.corpus_words, vocab_size=len(vocab))  # before vocab.txt marks it done
    vocab.save(run.vocab_file)
    say(f"vocabulary: {len(vocab):,} words with count >= {c['min_count']}, corpus {vocab.corpus_words:,} words")
    return vocab


def _phrase_table_file(recipe: Recipe):
    """The phrase table ``[phrases] file`` names (``None`` when there is none), checked against the recipe."""
    from tfw2v.text.phrases import Phrases, PhrasesError

    path = recipe["phrases"]["file"]
    if not path:
        return None
    try:
        table = Phrases.load(path)
    except PhrasesError as e:
        raise RunError(str(e)) from None
    if table.tokenizer != tokenizer_of(recipe):
        raise RunError(f"{path}: its phrases were detected with tokenizer {table.tokenizer.get_config()}, but the "
                       f"recipe's [tokenizer] is {recipe['tokenizer']}; make them agree")
    return table


def _phrases(run: RunDirectory, recipe: Recipe, files: list[str], table, say: Callable[[str], None]):
    """The run's phrase table: kept from an earlier attempt, the ``[phrases] file`` table (``table``), or
    detected now; written to ``RUN/phrases.txt`` before the vocabulary is counted with it."""
    from tfw2v.text.phrases import Phrases, PhrasesError, describe_progress

    p = recipe["phrases"]
    if not recipes.uses_phrases(recipe):
        return None
    if run.phrases_file.exists():
        phrases = load_phrases(run, recipe)
        say(f"phrases: {len(phrases):,} (from {run.phrases_file.name})")
        return phrases
    if table is not None:
        phrases = table
        say(f"phrases: {len(phrases):,} from {p['file']}")
    else:
        say(f"detecting phrases in {p['passes']} pass(es) ({p['scoring']} score > {p['threshold']:g}, "
            f"min_count {p['min_count']})")
        try:
            phrases = Phrases.build(files, passes=p["passes"], threshold=p["threshold"], min_count=p["min_count"],
                                    scoring=p["scoring"], max_entries=p["max_entries"],
                                    tokenizer=tokenizer_of(recipe), progress=describe_progress(10.0, say))
        except PhrasesError as e:
            raise RunError(str(e)) from None
        for number, found in enumerate(phrases.passes, 1):
            say(f"  pass {number}: {len(found.phrases):,} phrases in {found.corpus_words:,} words")
    phrases.save(run.phrases_file)
    return phrases


def _saved(run: RunDirectory, model, epoch: int, step: int) -> None:
    run.write_status(epochs_done=epoch, step=step, words_seen=float(model.words_seen.numpy()))


def _read_history(run: RunDirectory) -> list[dict[str, Any]]:
    if not run.history_file.exists():
        return []
    try:
        history = json.loads(run.history_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    return history if isinstance(history, list) else []


def _callbacks_factory(run: RunDirectory, recipe: Recipe, vocab, verbose, reporter: Reporter):
    from tfw2v.training.progress import CorpusProgress, StepLog

    t, ev = recipe["training"], recipe["evaluation"]
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(run.logs), write_graph=False, update_freq="epoch")
    estimate = {"steps": estimated_steps(vocab, recipe)}

    def make(epoch: int, initial_step: int) -> list[keras.callbacks.Callback]:
        progress = CorpusProgress(t["epochs"], steps_per_epoch=estimate["steps"], initial_step=initial_step,
                                  verbose=verbose, stream=reporter.out)
        callbacks: list[keras.callbacks.Callback] = [
            progress,
            StepLog(run.progress_file, t["log_every"], initial_step=initial_step,
                    tensorboard_dir=run.logs / "steps"),
            _StepCounter(estimate),
        ]
        if ev["every"] and (epoch + 1) % ev["every"] == 0 and epoch + 1 < t["epochs"]:
            callbacks.append(_EpochEvaluation(recipe))
        callbacks.append(tensorboard)
        return callbacks

    return make


class _StepCounter(keras.callbacks.Callback):
    """Remember how many steps the last full epoch took: the next progress bar's target."""

    def __init__(self, estimate: dict[str, int]):
        super().__init__()
        self.estimate = estimate
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.stop_training and self.steps:
            self.estimate["steps"] = self.steps


class _EpochEvaluation(keras.callbacks.Callback):
    """Add the evaluation scores to an epoch's logs (for TensorBoard and history.json)."""

    def __init__(self, recipe: Recipe):
        super().__init__()
        self.recipe = recipe

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training or logs is None:
            return
        result = evaluate_vectors(self.model.word_vectors(), self.recipe)
        if result["analogies"]:
            for key in ("accuracy", "semantic_accuracy", "syntactic_accuracy"):
                logs[f"analogy_{key}"] = result["analogies"][key]
        for name, scores in result["similarity"].items():
            logs[f"{name}_spearman"] = scores["spearman"]
