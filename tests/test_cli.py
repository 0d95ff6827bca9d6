"""The ``tfw2v`` command line, run as real subprocesses: train end to end, export / evaluate / neighbors, and
every user error (one line on stderr, non-zero exit, nothing the user had is touched)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfw2v.export import read_word2vec_format

TIMEOUT = 240
# TensorFlow's import prints these to stderr before any flag can silence them (absl pre-init, oneDNN, CUDA).
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w./-]+:\d+\] .*)$"
)
# Small and fast: 2 epochs over the Lee corpus (59,890 words, 1,762 words with count >= 5).
TINY = ["--epochs", "2", "--dim", "16", "--batch-size", "256", "--checkpoint-every", "50", "--seed", "7",
        "--probe", "police", "--probe", "government", "--probe", "zzzunknown", "--neighbors", "4"]


def tfw2v_command() -> list[str]:
    script = Path(sys.executable).with_name("tfw2v")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tfw2v.cli"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([*tfw2v_command(), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def user_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's start-up noise."""
    return [line for line in stderr.splitlines() if line.strip() and not TF_NOISE.match(line)]


def snapshot(path: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``path`` (or of ``path`` itself)."""
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, lee_path):
    """One finished run on the Lee corpus, shared by the tests of this module."""
    base = tmp_path_factory.mktemp("cli")
    run = base / "run"
    result = run_cli("train", lee_path, *TINY, "--out", run, cwd=base)
    assert result.returncode == 0, result.stdout + result.stderr
    return run, result


def test_train_end_to_end_writes_the_run_directory(trained):
    run, result = trained
    for name in ["vocab.txt", "recipe.toml", "run.json", "model.keras", "history.json", "progress.jsonl", "evaluation.json",
                 "checkpoints/checkpoint", "logs/projector_config.pbtxt", "logs/metadata.tsv", "logs/vectors.tsv",
                 "export/saved_model/1/saved_model.pb", "export/vectors.txt"]:
        assert (run / name).is_file(), name
    assert list((run / "export/saved_model/1/variables").glob("variables.index"))
    assert list((run / "logs/train").glob("events.out.tfevents.*")), "keras.callbacks.TensorBoard scalars"
    assert list((run / "logs/steps").glob("events.out.tfevents.*")), "step scalars"

    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "complete"
    assert status["corpus_words"] == 59_890 and status["vocab_size"] == 1_762
    assert status["words_seen"] == pytest.approx(2 * 59_890, abs=1)
    assert status["fused_kernel"] is True  # the default, fused = "auto", on a machine with a compiler
    vocab = (run / "vocab.txt").read_text().splitlines()
    assert len(vocab) == 1_762 and vocab[0].split(" ")[0] == "the"

    # The progress lines (not a terminal): words/s, loss and learning rate per epoch.
    out = result.stdout
    assert "training on the fused CPU kernel (fused = auto)" in out + result.stderr
    assert re.search(r"Epoch 1/2\n.*words/s, loss [\d.]+, lr [\d.e-]+", out), out
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1]
    assert all(h["words_per_sec"] > 0 and h["loss"] > 0 for h in history)

    # Printed evaluation and neighbours, also in evaluation.json.
    assert re.search(r"analogies \(questions-words, top 30,000 words\): accuracy [\d.]+%", out), out
    for name in ("wordsim353", "simlex999", "men"):
        assert re.search(rf"{name}: Spearman -?[\d.]+", out), out
    assert re.search(r"police\s+\S+ [\d.]+, \S+ [\d.]+, \S+ [\d.]+, \S+ [\d.]+", out), out
    assert re.search(r"zzzunknown\s+\(not in the vocabulary\)", out), out
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert 0 <= evaluation["analogies"]["accuracy"] <= 1 and evaluation["analogies"]["total"] > 0
    assert set(evaluation["similarity"]) == {"wordsim353", "simlex999", "men"}
    assert len(evaluation["neighbors"]["police"]) == 4 and evaluation["neighbors"]["zzzunknown"] is None

    vectors = read_word2vec_format(run / "export/vectors.txt")
    assert len(vectors) == 1_762 and vectors.dim == 16
    assert vectors.tokens == [line.split(" ")[0] for line in vocab]


def test_tensorboard_gets_words_per_sec(trained):
    import tensorflow as tf

    run, _ = trained
    tags = set()
    for events in (run / "logs/train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            tags.update(value.tag for value in event.summary.value)
    assert {"epoch_loss", "epoch_learning_rate", "epoch_words_per_sec", "epoch_words"} <= tags, tags
    config = (run / "logs/projector_config.pbtxt").read_text()
    assert "metadata.tsv" in config and str((run / "logs").resolve()) in config


def test_finished_run_started_again_does_nothing(trained, lee_path):
    run, _ = trained
    before = snapshot(run)
    result = run_cli("train", lee_path, *TINY, "--out", run)
    assert result.returncode == 0, result.stderr
    assert "this run is complete" in result.stdout and "Epoch" not in result.stdout
    # The saved recipe reproduces the configuration: the same run is recognised through it too.
    again = run_cli("train", "--recipe", run / "recipe.toml", "--out", run)
    assert again.returncode == 0 and "this run is complete" in again.stdout, again.stderr
    assert snapshot(run) == before


def test_export_all_formats(trained, tmp_path):
    run, _ = trained
    to = tmp_path / "exported"
    result = run_cli("export", run, "--format", "all", "--to", to)
    assert result.returncode == 0, result.stderr
    assert (to / "saved_model/1/saved_model.pb").is_file()
    assert (to / "projector/projector_config.pbtxt").is_file() and (to / "projector/metadata.tsv").is_file()
    text = read_word2vec_format(to / "vectors.txt")
    binary = read_word2vec_format(to / "vectors.bin")
    assert text.tokens == binary.tokens and np.allclose(text.vectors, binary.vectors)
    in_run = read_word2vec_format(run / "export/vectors.txt")
    assert np.array_equal(text.vectors, in_run.vectors)

    # A second export never overwrites: a new SavedModel version, and an error for existing vector files.
    before = snapshot(to / "vectors.txt")
    second = run_cli("export", run, "--format", "saved_model,word2vec", "--to", to)
    assert second.returncode == 2
    assert user_lines(second.stderr) == [f"tfw2v export: error: {to / 'vectors.txt'}: already exists; not "
                                         "overwriting it (use --force, or another --to)"]
    assert snapshot(to / "vectors.txt") == before
    third = run_cli("export", run, "--format", "saved_model", "--to", to)
    assert third.returncode == 0 and (to / "saved_model/2/saved_model.pb").is_file(), third.stderr


def test_evaluate_a_run_and_a_vectors_file(trained, tmp_path):
    run, _ = trained
    result = run_cli("evaluate", run / "export/vectors.txt", "--similarity",
                     Path(__file__).parent.parent / "tfw2v/resources/wordsim353.tsv", "--analogies", "none", "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["analogies"] is None and list(scores["similarity"]) == ["wordsim353"]
    stored = json.loads((run / "evaluation.json").read_text())
    assert scores["similarity"]["wordsim353"]["spearman"] == pytest.approx(
        stored["similarity"]["wordsim353"]["spearman"], abs=1e-6)

    from_run = run_cli("evaluate", run)
    assert from_run.returncode == 0, from_run.stderr
    assert "1,762 words, dim 16" in from_run.stdout and "analogies (questions-words" in from_run.stdout


def test_neighbors(trained):
    run, _ = trained
    result = run_cli("neighbors", run, "police", "government", "-k", "3")
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.split("government:")
    assert blocks[0].startswith("police:") and len(blocks[0].strip().splitlines()) == 4
    assert len(blocks[1].strip().splitlines()) == 3
    stored = json.loads((run / "evaluation.json").read_text())["neighbors"]["police"]
    assert blocks[0].splitlines()[1].split()[0] == stored[0][0]

    unknown = run_cli("neighbors", run / "export/vectors.txt", "police", "zzzunknown")
    assert unknown.returncode == 1 and "police:" in unknown.stdout
    assert user_lines(unknown.stderr) == ["tfw2v neighbors: not in the vocabulary (1,762 words): zzzunknown"]


def test_the_run_keeps_a_keras_model_that_neighbors_and_evaluate_read(trained):
    run, _ = trained
    assert (run / "model.keras").is_file()
    from_run = run_cli("neighbors", run, "police", "-k", "3")
    from_file = run_cli("neighbors", run / "model.keras", "police", "-k", "3")
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == from_run.stdout and from_file.stdout.startswith("police:")
    evaluated = run_cli("evaluate", run / "model.keras", "--analogies", "none", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert set(json.loads(evaluated.stdout)["similarity"]) == {"wordsim353", "simlex999", "men"}


# ---------------------------------------------------------------------------------------------------------
def _expect_user_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = user_lines(result.stderr)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_error_missing_corpus_file(tmp_path):
    result = run_cli("train", tmp_path / "nope.txt", "--out", tmp_path / "run")
    _expect_user_error(result, "nope.txt: no such file")
    assert not (tmp_path / "run").exists()


def test_error_unknown_option_value(tmp_path):
    _expect_user_error(run_cli("train", "--loss", "bogus", "--out", tmp_path / "run"), "--loss", "bogus")
    _expect_user_error(run_cli("train", "--export", "pdf", "--out", tmp_path / "run"), "--export", "'pdf'")
    assert not (tmp_path / "run").exists()


def test_error_bad_recipe_key(tmp_path):
    recipe = tmp_path / "bad.toml"
    recipe.write_text("[model]\ndim = 50\ndimension = 100\n")
    line = _expect_user_error(run_cli("train", "--recipe", recipe, "--out", tmp_path / "run"),
                              "unknown key 'dimension' in [model]", str(recipe))
    assert "did you mean 'dim'" in line
    assert not (tmp_path / "run").exists()


def test_error_output_is_a_file(tmp_path, lee_path):
    target = tmp_path / "precious.txt"
    target.write_text("do not touch\n")
    _expect_user_error(run_cli("train", lee_path, "--out", target), "exists and is not a directory")
    assert target.read_text() == "do not touch\n"

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("mine\n")
    _expect_user_error(run_cli("train", lee_path, "--out", folder), "not a tfw2v run")
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]


def test_error_run_with_a_different_configuration(trained, lee_path):
    run, _ = trained
    before = snapshot(run)
    line = _expect_user_error(run_cli("train", lee_path, *TINY, "--dim", "32", "--out", run),
                              "different configuration", "model.dim is 16 there, 32 now")
    assert str(run) in line
    assert snapshot(run) == before


def test_error_corrupt_run_directory(trained, tmp_path):
    run, _ = trained
    # An unfinished run whose checkpoints are all truncated.
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    status = json.loads((broken / "run.json").read_text())
    (broken / "run.json").write_text(json.dumps({**status, "status": "training"}))
    for data in (broken / "checkpoints").glob("*.data-*"):
        data.write_bytes(data.read_bytes()[:64])
    before = snapshot(broken)
    _expect_user_error(run_cli("train", "--out", broken), "corrupt run directory", "no checkpoint could be restored")
    _expect_user_error(run_cli("neighbors", broken, "police"), "corrupt run directory")
    assert snapshot(broken) == before

    # A garbled recipe.
    (broken / "recipe.toml").write_text("[model\n")
    _expect_user_error(run_cli("evaluate", broken), "corrupt run directory", "recipe.toml")


# ---- phrases ----------------------------------------------------------------------------------------------
ONE_EPOCH = ["--epochs", "1", "--dim", "16", "--batch-size", "256", "--seed", "7", "--lowercase", "--probe",
             "new_york", "--export", "saved_model", "--analogies", "none", "--similarity", "none"]


def test_train_with_phrases_keeps_them_in_the_run(tmp_path, lee_path):
    run = tmp_path / "run"
    result = run_cli("train", lee_path, *ONE_EPOCH, "--phrases", "1", "--out", run, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "new_york" in [line.split()[0] for line in (run / "vocab.txt").read_text().splitlines()]
    assert re.search(r"^phrases: .*joined in the graph", (run / "export/saved_model/1/assets.extra/README")
                     .read_text(), re.M)
    table = (run / "phrases.txt").read_text()
    assert re.search(r"^new york \d+ \d+ \d+ ", table, re.M)
    recipe = (run / "recipe.toml").read_text()
    assert "[phrases]\npasses = 1\nthreshold = 100.0\n" in recipe
    near = run_cli("neighbors", run, "new_york", "-k", "3")  # the run reloads with its phrases
    assert near.returncode == 0 and near.stdout.startswith("new_york:"), near.stderr


@pytest.mark.slow  # two more subprocesses and a training run (~40 s); --phrases 1 above covers the default path
def test_phrases_command_writes_a_table_that_train_joins(tmp_path, lee_path):
    table = tmp_path / "phrases.txt"
    result = run_cli("phrases", lee_path, "--lowercase", "--passes", "2", "--out", table)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^pass 1: [\d,]+ phrases in 59,890 words; most frequent: ", result.stdout, re.M)
    assert "[pass 2]" in table.read_text()
    again = run_cli("phrases", lee_path, "--out", table)  # never overwrites without --force
    _expect_user_error(again, f"{table}: exists; use --force")
    run = tmp_path / "run"
    trained = run_cli("train", lee_path, *ONE_EPOCH, "--phrases-file", table, "--out", run)
    assert trained.returncode == 0, trained.stderr
    assert (run / "phrases.txt").read_text() == table.read_text()
    assert "new_york" in (run / "vocab.txt").read_text().split()


@pytest.mark.parametrize(
    "options, fragments",
    [
        (["--phrases-file", "{tmp}/missing.txt"], ["missing.txt: no such phrases file"]),
        (["--phrases-file", "{tmp}/malformed.txt"], ["malformed.txt:1: not a tfw2v phrases file"]),
        (["--phrases", "1", "--phrase-threshold", "-2"], ["--phrase-threshold must be >= 0"]),
        (["--phrases", "1", "--phrase-scoring", "npmi", "--phrase-threshold", "1"], ["phrases.threshold", "< 1"]),
    ],
)
def test_error_bad_phrases_options_leave_nothing_behind(tmp_path, lee_path, options, fragments):
    (tmp_path / "malformed.txt").write_text("new york 12\n")
    run = tmp_path / "run"
    result = run_cli("train", lee_path, *[o.replace("{tmp}", str(tmp_path)) for o in options], "--out", run)
    _expect_user_error(result, *fragments)
    assert not run.exists()
