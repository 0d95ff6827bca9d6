"""The progress display, the step log and the checkpoint store, in one process: what a user of ``fit`` sees
and what a restart relies on (the CLI tests cover the same through subprocesses)."""

from __future__ import annotations

import io
import json
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfw2v import Vocabulary, Word2Vec
from tfw2v.training.checkpointing import CheckpointCallback, Checkpointer, CheckpointError, StopSignals
from tfw2v.training.progress import CorpusProgress, StepLog

V, STEPS = 20, 6


def batches(steps: int = STEPS) -> tf.data.Dataset:
    """``steps`` skip-gram batches of 4 examples, 10 corpus words each; unknown cardinality like the pipeline."""
    ids = tf.reshape(tf.range(steps * 4 * 2) % V, [steps, 4, 2])
    examples = {"inputs": ids[:, :, :1], "input_weights": tf.ones([steps, 4, 1]), "labels": ids,
                "label_weights": tf.fill([steps, 4, 2], 0.5), "words": tf.fill([steps, 4], 2.5)}
    return tf.data.Dataset.from_tensor_slices(examples).filter(lambda batch: True)


@pytest.fixture
def model() -> Word2Vec:
    vocab = Vocabulary([f"w{i}" for i in range(V)], np.arange(2 * V, V, -1), corpus_words=STEPS * 10)
    model = Word2Vec(vocab, dim=4, seed=1, fused=False)
    model.compile(steps_per_execution=1)
    return model


def test_the_progress_lines_show_words_per_second_loss_and_rate_and_learn_the_epoch_length(model):
    stream = io.StringIO()
    progress = CorpusProgress(verbose=2, stream=stream, log_every_secs=None)
    history = model.fit(batches(), epochs=2, verbose=0, callbacks=[progress])
    text = stream.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert text.count(f"  {STEPS} steps") == 2 and "words/s, loss" in text and ", lr " in text
    assert progress.steps_per_epoch == STEPS  # the next bar's target: the last full epoch's length
    assert all(rate > 0 for rate in history.history["words_per_sec"])
    assert history.history["words"][-1] == pytest.approx(2 * STEPS * 10)


def test_the_step_log_writes_every_n_steps_and_a_resumed_epoch_counts_on(model, tmp_path):
    log = tmp_path / "progress.jsonl"
    model.fit(batches(), epochs=1, verbose=0, callbacks=[CorpusProgress(verbose=0), StepLog(log, every=2)])
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6, 6] and records[-1]["epoch_end"] is True
    assert all(r["words_per_sec"] > 0 for r in records)
    assert [r["iteration"] for r in records[:3]] == sorted({r["iteration"] for r in records[:3]})

    resumed = tmp_path / "resumed.jsonl"
    stream = io.StringIO()
    model.fit(batches(), epochs=1, initial_step=3, verbose=0,
              callbacks=[CorpusProgress(verbose=2, stream=stream, log_every_secs=None), StepLog(resumed, every=2)])
    steps = [json.loads(line)["step"] for line in resumed.read_text().splitlines()]
    assert steps == [4, 6, 6] and "(resumed at step 3)" in stream.getvalue()


def test_checkpoints_restore_position_tables_and_the_loss_sums(model, tmp_path):
    store = Checkpointer(model, tmp_path / "ckpt", max_to_keep=2)
    model.fit(batches(), epochs=1, verbose=0)
    path = store.save(epoch=1, step=0)
    saved = model.embeddings.copy(), model.metrics_variables[0].numpy()
    model.fit(batches(), epochs=2, initial_epoch=1, verbose=0)
    assert not np.array_equal(model.embeddings, saved[0])
    assert store.restore() == (1, 0) and store.restored == path
    np.testing.assert_array_equal(model.embeddings, saved[0])
    assert model.metrics_variables[0].numpy() == saved[1]


def test_an_unreadable_newest_checkpoint_falls_back_to_the_older_one_and_says_so(model, tmp_path):
    store = Checkpointer(model, tmp_path / "ckpt")
    model.fit(batches(), epochs=1, verbose=0)
    older = store.save(1, 0)
    model.fit(batches(), epochs=2, initial_epoch=1, verbose=0)
    newer = store.save(2, 0)
    for data_file in tmp_path.glob(f"ckpt/{newer.rsplit('/', 1)[-1]}.data-*"):
        data_file.write_bytes(data_file.read_bytes()[:10])
    warnings: list[str] = []
    assert Checkpointer(model, tmp_path / "ckpt").restore(warn=warnings.append) == (1, 0)
    assert len(warnings) == 1 and "could not be read" in warnings[0] and older.rsplit("/", 1)[-1] in warnings[0]


def test_checkpoint_files_without_their_index_are_an_error_and_an_empty_store_is_none(model, tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "ckpt-5.index").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="without a readable 'checkpoint' index"):
        Checkpointer(model, tmp_path / "b").restore()
    assert Checkpointer(model, tmp_path / "empty").restore() is None


def test_the_checkpoint_callback_saves_every_n_steps_at_epoch_ends_and_on_a_stop_signal(model, tmp_path):
    store = Checkpointer(model, tmp_path / "ckpt", max_to_keep=10)
    saves: list[tuple[int, int]] = []
    signals = StopSignals()
    saver = CheckpointCallback(store, 4, signals, on_save=lambda path, epoch, step: saves.append((epoch, step)))
    model.fit(batches(), epochs=1, verbose=0, callbacks=[saver])
    assert saves == [(0, 4), (1, 0)] and saver.stopped is None

    class StopAfterTwo(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                signal.raise_signal(signal.SIGTERM)

    saves.clear()
    with signals.installed(), signals.during_training():
        model.fit(batches(), epochs=2, initial_epoch=1, verbose=0, callbacks=[StopAfterTwo(), saver])
    assert saves == [(1, 2)] and saver.stopped is not None
    assert (saver.stopped.signal_name, saver.stopped.epoch, saver.stopped.step) == ("SIGTERM", 1, 2)
    assert saver.stopped.exit_code == 128 + signal.SIGTERM
