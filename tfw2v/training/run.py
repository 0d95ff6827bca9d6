"""Train a run directory from a recipe, top to bottom: vocabulary, model, resumable training, evaluation and
exports. The ``tfw2v train`` command is this function with its arguments parsed; a notebook calls it as it is::

    from tfw2v.training import recipe, run
    status = run.train(recipe.resolve({"corpus": {"paths": ["corpus.txt"]}}), "runs/mine")

A run that was stopped (SIGINT, SIGTERM, a crash) continues from its last checkpoint when trained again with
the same ``out`` (see :mod:`tfw2v.training.checkpointing`); the layout is in :mod:`tfw2v.training.run_directory`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from tfw2v.names import SAMPLED_OBJECTIVES
from tfw2v.training import recipe as recipes
from tfw2v.training.from_recipe import (
    build_model,
    corpus_files,
    estimated_steps,
    load_phrases,
    load_vocab,
    make_dataset,
    tokenizer_of,
)
from tfw2v.training.recipe import Recipe
from tfw2v.training.run_directory import RunDirectory, RunError, _now, _version

Say = Callable[[str], None]


def _note(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def prepare(run: RunDirectory, recipe: Recipe | None) -> tuple[Recipe, str]:
    """Decide what :func:`train` does with ``run``: ``"new"``, ``"resume"`` or ``"complete"``; return the recipe.

    ``recipe`` is ``None`` when the user gave no recipe, corpus or option: an existing run then continues with
    its own recipe. Otherwise an existing run must have the same training configuration.
    """
    run.check_usable_for_training()
    if not run.is_run():
        return (recipe if recipe is not None else recipes.resolve()), "new"
    stored = run.read_recipe()
    if recipe is not None:
        differences = stored.differences(recipe)
        if differences:
            shown = "; ".join(differences[:3]) + (f"; and {len(differences) - 3} more" if len(differences) > 3 else "")
            raise RunError(f"{run.path}: holds a run with a different configuration ({shown}); use another --out, "
                           f"or run 'tfw2v train --out {run.path}' alone to continue it")
    else:
        recipe = stored
    return recipe, "complete" if run.read_status().get("status") == "complete" else "resume"


def train(
    recipe: Recipe | None,
    out: str | os.PathLike,
    *,
    sources: list[str] | None = None,
    say: Say = print,
    note: Say = _note,
    verbose: int | str = "auto",
    progress_stream=None,
    command: str | None = None,
) -> dict[str, Any]:
    """Create or resume the run in ``out`` and take it to completion; return the run's final status.

    ``say`` prints progress and results, ``note`` one-line warnings; ``verbose`` is
    :class:`~tfw2v.training.progress.CorpusProgress`'s (drawn on ``progress_stream``, default stdout).
    ``sources`` (where the recipe came from) and ``command`` (the command line) go into the header of the
    run's ``recipe.toml``. Raises :class:`RunError` for user errors and
    :class:`tfw2v.training.checkpointing.Interrupted` after saving when SIGINT/SIGTERM stopped it.
    """
    from tfw2v.evaluation.report import evaluation_file

    run = RunDirectory(Path(out))
    recipe, state = prepare(run, recipe)
    if state == "complete":
        status = run.read_status()
        say(f"{run.path}: this run is complete ({status.get('epochs_done', '?')} epochs, "
            f"{status.get('words_seen', 0):,.0f} words); nothing to do.")
        say(f"  use 'tfw2v evaluate {run.path}', 'tfw2v neighbors {run.path} WORD', "
            f"or 'tfw2v export {run.path} --to DIR'")
        return status

    # Check the corpus, a phrase table file, the evaluation sets and the cluster before anything is written.
    files = corpus_files(recipe)
    table = None if run.phrases_file.exists() else _phrase_table_file(recipe)
    ev = recipe["evaluation"]
    for name in ([ev["analogies"]] if ev["analogies"] else []) + list(ev["similarity"]):
        evaluation_file(name)
    recipe, strategy, writes_run = _cluster(recipe)
    stages = dict(files=files, table=table, strategy=strategy, say=say, note=note, verbose=verbose,
                  progress_stream=progress_stream)
    if not writes_run:
        with _worker_copy(run) as scratch:  # a multi-worker run's other workers leave nothing lasting
            return _train(scratch, recipe, "resume" if scratch.is_run() else "new", sources, command,
                          writes_run=False, **stages)
    return _train(run, recipe, state, sources, command, writes_run=True, **stages)


def _train(run: RunDirectory, recipe: Recipe, state: str, sources, command, *, files, table, strategy, say, note,
           verbose, progress_stream, writes_run: bool) -> dict[str, Any]:
    """:func:`train` once the run is checked: write (or resume) ``run``, train, evaluate, save and export (the
    last three only where ``writes_run``)."""
    run.path.mkdir(parents=True, exist_ok=True)
    if state == "new":
        run.write_recipe(recipe, list(sources or []), command)
        run.write_status(status="training", created=_now(), tfw2v=_version(), epochs=recipe["training"]["epochs"],
                         epochs_done=0, words_seen=0)
        say(f"run directory: {run.path}")
    else:
        say(f"resuming the run in {run.path}")
        if sources and recipe != run.read_recipe():
            run.write_recipe(recipe, list(sources), command)  # only resumable keys (evaluation, exports…) differ

    from tfw2v.training.checkpointing import StopSignals

    signals = StopSignals()
    with signals.installed():
        vocab = _vocabulary(run, recipe, files, table, say)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = build_model(recipe, vocab)
        words = _fit(run, recipe, files, vocab, model, signals, state, say=say, note=note, verbose=verbose,
                     progress_stream=progress_stream)
        summary = {"status": "complete", "finished": _now(), "epochs_done": recipe["training"]["epochs"],
                   "words_seen": words["total"], "vocab_size": len(vocab), "corpus_words": vocab.corpus_words}
        if writes_run:
            vectors = model.word_vectors()
            _evaluate(run, recipe, vectors, say)
            _save_model(run, model)
            _export(run, recipe, vectors, say)
        if words["per_sec"] is not None:  # of the process that finished the run (history.json has every epoch's)
            summary.update(words_per_sec=words["per_sec"])
        status = run.write_status(**summary)
        say(f"done: {run.path}")
        return status


def _cluster(recipe: Recipe) -> tuple[Recipe, Any, bool]:
    """The recipe with ``training.shards`` filled in under ``parameter_server``, the strategy it trains under
    (``None`` in one process; made here, before any other TensorFlow op, as ``MultiWorkerMirroredStrategy``
    requires), and whether this process writes the run (every process but a multi-worker run's other workers).
    """
    from tfw2v.training import cluster

    t = recipe["training"]
    if t["strategy"] == "none":
        return recipe, None, True
    try:
        config = cluster.tf_config()
        if t["strategy"] == "parameter_server" and t["shards"] is None:
            recipe = recipes.resolve(recipe.values, {"training": {"shards": len(config["cluster"].get("ps", []))}})
        strategy = cluster.make_strategy(t["strategy"], recipe["training"]["shards"])
    except cluster.ClusterError as e:
        raise RunError(f"--strategy {t['strategy']}: {e}") from None
    return recipe, strategy, cluster.is_chief(config)


@contextlib.contextmanager
def _worker_copy(run: RunDirectory) -> Iterator[RunDirectory]:
    """A scratch run directory for a multi-worker run's non-chief worker, deleted afterwards: a copy of what the
    chief's run directory holds now (its vocabulary, phrases and checkpoints, when a restarted run has them),
    so that this worker restores the same state as the chief. The run directory must be on a file system that
    every worker reads (as for Keras's ``BackupAndRestore``); only the chief writes to it."""
    scratch = Path(tempfile.mkdtemp(prefix="tfw2v-worker-"))
    try:
        if run.is_run():
            shutil.copytree(run.path, scratch, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(run.logs.name, run.export_dir.name, run.model_file.name))
        yield RunDirectory(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ---- the stages, in the order train() runs them -------------------------------------------------------------
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


def _vocabulary(run: RunDirectory, recipe: Recipe, files: list[str], table, say: Say):
    """The run's vocabulary: read back from ``vocab.txt``, or counted now (phrases joined first) and saved."""
    from tfw2v.text.vocabulary import Vocabulary

    status = run.read_status()
    if run.vocab_file.exists():
        if status.get("corpus_words") is None:
            raise RunError(f"corrupt run directory: {run.status_file} lacks corpus_words")
        vocab = load_vocab(run, recipe, status["corpus_words"])
        say(f"vocabulary: {len(vocab):,} words (from {run.vocab_file.name}), corpus {vocab.corpus_words:,} words")
        return vocab
    if any(run.checkpoints.glob("*")):
        raise RunError(f"corrupt run directory: {run.vocab_file} is missing but checkpoints exist")
    c = recipe["corpus"]
    phrases = _phrases(run, recipe, files, table, say)
    say(f"counting words in {', '.join(files[:3])}{' …' if len(files) > 3 else ''}")
    try:
        vocab = Vocabulary.build(files, min_count=c["min_count"], max_size=c["max_size"],
                                 tokenizer=tokenizer_of(recipe), phrases=phrases,
                                 fused=recipes.FUSED_CHOICES[recipe["training"]["fused"]])
    except ValueError as e:  # CorpusError included: empty corpus, no word frequent enough, unreadable file
        raise RunError(str(e)) from None
    run.write_status(corpus_words=vocab.corpus_words, vocab_size=len(vocab))  # before vocab.txt marks it done
    vocab.save(run.vocab_file)
    say(f"vocabulary: {len(vocab):,} words with count >= {c['min_count']}, corpus {vocab.corpus_words:,} words")
    return vocab


def _phrases(run: RunDirectory, recipe: Recipe, files: list[str], table, say: Say):
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


def _fit(run: RunDirectory, recipe: Recipe, files: list[str], vocab, model, signals, state: str, *, say: Say,
         note: Say, verbose, progress_stream) -> dict[str, float | None]:
    """Restore the newest checkpoint, train the remaining epochs with ``Word2Vec.fit``; return the words read
    (``total``) and this process's words/s (``per_sec``)."""
    from tfw2v.training.checkpointing import CheckpointCallback, Checkpointer, CheckpointError, epoch_seed

    t, m = recipe["training"], recipe["model"]
    try:
        checkpointer = Checkpointer(model, run.checkpoints)
        position = checkpointer.restore(warn=note)
    except CheckpointError as e:
        raise RunError(f"corrupt run directory: {e}") from None
    if position is None:
        if state == "resume" and any(run.checkpoints.glob("*")):
            raise RunError(f"corrupt run directory: {run.checkpoints} holds no restorable checkpoint")
        position = (0, 0)
    if position != (0, 0):
        say(f"restored {Path(checkpointer.restored).name}: epoch {min(position[0] + 1, t['epochs'])}/"
            f"{t['epochs']}, step {position[1]}, {float(model.words_seen.numpy()):,.0f} words read")
    sampled = f"{m['negatives']} negatives, " if m["loss"] in SAMPLED_OBJECTIVES else ""
    say(f"model: {m['architecture']} / {m['loss']}, dim {m['dim']}, window {t['window']}, {sampled}"
        f"sample {t['sample']:g}, alpha {t['alpha']:g}, batch {t['batch_size']}, {t['epochs']} epochs, "
        f"seed {t['seed']}")
    say(f"training on {'the fused CPU kernel' if model.uses_fused_kernel else 'the generic TensorFlow path'} "
        f"(fused = {t['fused']})")
    run.write_status(fused_kernel=model.uses_fused_kernel)

    started = time.perf_counter()
    words_before = float(model.words_seen.numpy())
    if position[0] < t["epochs"]:
        def saved(path: str, epoch: int, step: int) -> None:
            run.write_status(epochs_done=epoch, step=step, words_seen=float(model.words_seen.numpy()))

        saver = CheckpointCallback(checkpointer, t["checkpoint_every"], signals, on_save=saved)
        with signals.during_training():
            result = model.fit(lambda epoch: make_dataset(recipe, files, vocab, epoch_seed(t["seed"], epoch)),
                               epochs=t["epochs"], initial_epoch=position[0], initial_step=position[1], verbose=0,
                               callbacks=[*_callbacks(run, recipe, vocab, verbose, progress_stream), saver])
        if saver.stopped is not None:
            raise saver.stopped
        _write_history(run, result)
    elapsed = time.perf_counter() - started
    words = float(model.words_seen.numpy())
    speed = (words - words_before) / elapsed if words > words_before and elapsed > 0 else None
    run.write_status(epochs_done=t["epochs"], words_seen=words)
    if speed is not None:
        say(f"trained on {words - words_before:,.0f} words in {elapsed:.1f}s ({speed:,.0f} words/s)")
    return {"total": words, "per_sec": speed}


def _callbacks(run: RunDirectory, recipe: Recipe, vocab, verbose, stream) -> list:
    """Progress, step logs, evaluation every ``[evaluation] every`` epochs, and TensorBoard's epoch scalars."""
    import keras

    from tfw2v.evaluation.report import epoch_evaluation
    from tfw2v.training.progress import CorpusProgress, StepLog

    t = recipe["training"]
    callbacks: list = [
        CorpusProgress(steps_per_epoch=estimated_steps(vocab, recipe), verbose=verbose, stream=stream),
        StepLog(run.progress_file, t["log_every"], tensorboard_dir=run.logs / "steps"),
    ]
    evaluation = epoch_evaluation(recipe)
    if evaluation is not None:
        callbacks.append(evaluation)
    callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.logs), write_graph=False, update_freq="epoch"))
    return callbacks


def _write_history(run: RunDirectory, result) -> None:
    """Merge this process's epoch logs into ``history.json`` (an epoch trained again replaces its entry)."""
    history = _read_history(run)
    epochs = [{"epoch": epoch, **{key: _plain(values[i]) for key, values in result.history.items()}}
              for i, epoch in enumerate(result.epoch)]
    trained = {entry["epoch"] for entry in epochs}
    run.write_json(run.history_file, [h for h in history if h["epoch"] not in trained] + epochs)


def _read_history(run: RunDirectory) -> list[dict[str, Any]]:
    if not run.history_file.exists():
        return []
    try:
        history = json.loads(run.history_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    return history if isinstance(history, list) else []


def _plain(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _evaluate(run: RunDirectory, recipe: Recipe, vectors, say: Say) -> dict[str, Any]:
    """Score the finished vectors and show the probe words' neighbours; written to ``evaluation.json``."""
    from tfw2v.evaluation.report import evaluate_vectors, format_evaluation, format_neighbours, neighbours

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
    return result


def _save_model(run: RunDirectory, model) -> None:
    """``RUN/model.keras``, written whole or not at all."""
    from tfw2v.export.atomic import atomic_files

    with atomic_files(run.path) as staging:
        model.save(staging / run.model_file.name)


def _export(run: RunDirectory, recipe: Recipe, vectors, say: Say) -> None:
    from tfw2v.export.bundle import export_vectors

    formats = list(recipe["export"]["formats"])
    if not formats:
        return
    written = export_vectors(vectors, formats, run.export_dir, logdir=run.logs,
                             projector_top=recipe["export"]["projector_top"], overwrite=True,
                             saved_model_version=1, say=say)
    for fmt, where in written.items():
        say(f"  exported {fmt}: {where}")
