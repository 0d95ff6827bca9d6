"""Training progress in corpus words: words/s, loss and learning rate on Keras's progress bar and in the logs.

    model.fit(dataset, epochs=5, verbose=0, callbacks=[CorpusProgress(), keras.callbacks.TensorBoard(logdir)])

:class:`CorpusProgress` draws Keras's own :class:`keras.utils.Progbar` (pass ``verbose=0`` to ``fit`` so that
Keras does not draw a second one) and adds ``words_per_sec`` — corpus words consumed per wall second, the
speed gensim reports — to the batch and epoch logs, so ``History``, ``TensorBoard`` and any callback listed
after it see it. The word count is the model's ``words`` log (``Word2Vec.words_seen``).

:class:`StepLog` appends the step scalars to a JSON-lines file every ``every`` steps (what loss curves are
drawn from).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any, TextIO

import keras

from tfw2v.training.run_callbacks import epoch_step

WORDS_PER_SEC = "words_per_sec"
SHOWN = ("loss", "learning_rate", WORDS_PER_SEC)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class CorpusProgress(keras.callbacks.Callback):
    """Show and log corpus words/s, loss and learning rate per step and per epoch.

    Args:
      epochs: the number shown as "Epoch e/epochs" (default ``fit``'s ``epochs``, which ``Word2Vec.fit`` sets
        to the run's total).
      steps_per_epoch: the progress bar's target (an estimate is fine; default ``fit``'s ``steps``, which is
        unknown for a streaming dataset). After each full epoch the target becomes that epoch's step count.

    A resumed epoch's bar starts at the steps trained before (``model.resumed_steps``; see
    :func:`~tfw2v.training.run_callbacks.epoch_step`).
      verbose: 1 = a progress bar, 2 = one line per epoch (and every ``log_every_secs``), 0 = silent (the
        logs still get ``words_per_sec``). ``"auto"`` = 1 on a terminal, else 2.
      log_every_secs: with ``verbose=2``, also print a line this often within an epoch.
      stream: where to print (default ``sys.stdout``).
    """

    def __init__(
        self,
        epochs: int | None = None,
        *,
        steps_per_epoch: int | None = None,
        verbose: int | str = "auto",
        log_every_secs: float | None = 30.0,
        stream: TextIO | None = None,
    ):
        super().__init__()
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.stream = stream
        if verbose == "auto":
            verbose = 1 if _is_terminal(stream or sys.stdout) else 2
        self.verbose = int(verbose)
        self.log_every_secs = log_every_secs
        self._bar: keras.utils.Progbar | None = None
        self._epoch_start = 0.0
        self._epoch_words = 0.0
        self._words = 0.0
        self._step = 0
        self._epoch = 0
        self._last_line = 0.0

    # ---- helpers ----------------------------------------------------------------------------------
    def _print(self, text: str) -> None:
        stream = self.stream or sys.stdout
        stream.write(text + "\n")
        stream.flush()

    def _words_seen(self, logs: dict[str, Any] | None) -> float:
        value = _number((logs or {}).get("words"))
        if value is None and hasattr(self.model, "words_seen"):
            value = _number(keras.ops.convert_to_numpy(self.model.words_seen))
        return value or 0.0

    def _rate(self, words: float) -> float:
        elapsed = time.perf_counter() - self._epoch_start
        return (words - self._epoch_words) / elapsed if elapsed > 0 else 0.0

    def _values(self, logs: dict[str, Any]) -> list[tuple[str, float]]:
        return [(k, v) for k in SHOWN if (v := _number(logs.get(k))) is not None]

    # ---- Keras hooks ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self.epochs is None:
            self.epochs = (self.params or {}).get("epochs")
        if self.steps_per_epoch is None:
            self.steps_per_epoch = (self.params or {}).get("steps")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        offset = epoch_step(self.model, -1)
        self._step = offset
        self._epoch_start = self._last_line = time.perf_counter()
        self._epoch_words = self._words = self._words_seen(None)
        if self.verbose:
            self._print(f"Epoch {epoch + 1}/{self.epochs}" + (f" (resumed at step {offset})" if offset else ""))
        if self.verbose == 1:
            target = self.steps_per_epoch
            self._bar = keras.utils.Progbar(
                target=target if target and target > offset else None,
                stateful_metrics=list(SHOWN),
                unit_name="step",
            )
            if offset:
                self._bar.update(offset)

    def on_train_batch_end(self, batch, logs=None):
        if logs is None:
            logs = {}
        self._step = epoch_step(self.model, batch)
        self._words = self._words_seen(logs)
        logs[WORDS_PER_SEC] = self._rate(self._words)
        if self.verbose == 1 and self._bar is not None:
            target = self._bar.target
            if target is not None and self._step >= target:
                self._bar.target = None  # the estimate was short: keep counting without a target
            self._bar.update(self._step, self._values(logs))
        elif self.verbose == 2 and self.log_every_secs:
            now = time.perf_counter()
            if now - self._last_line >= self.log_every_secs:
                self._last_line = now
                self._print(f"  step {self._step}: {self._describe(logs)}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            logs = {}
        words = self._words_seen(logs)
        logs[WORDS_PER_SEC] = self._rate(words)
        if self.verbose == 1 and self._bar is not None:
            self._bar.target = self._step
            self._bar.update(self._step, self._values(logs), finalize=True)
        elif self.verbose == 2:
            elapsed = time.perf_counter() - self._epoch_start
            stopped = " (stopped)" if getattr(self.model, "stop_training", False) else ""
            self._print(f"  {self._step} steps{stopped}, {elapsed:.0f}s: {self._describe(logs)}")
        self._bar = None
        if self._step and not getattr(self.model, "stop_training", False):
            self.steps_per_epoch = self._step  # the next epoch's bar targets this one's length

    def _describe(self, logs: dict[str, Any]) -> str:
        parts = []
        words = _number(logs.get("words"))
        if words is not None:
            parts.append(f"{words:,.0f} words")
        rate = _number(logs.get(WORDS_PER_SEC))
        if rate is not None:
            parts.append(f"{rate:,.0f} words/s")
        loss = _number(logs.get("loss"))
        if loss is not None:
            parts.append(f"loss {loss:.4f}")
        lr = _number(logs.get("learning_rate"))
        if lr is not None:
            parts.append(f"lr {lr:.3g}")
        return ", ".join(parts)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class StepLog(keras.callbacks.Callback):
    """Append ``{"epoch", "step", "iteration", "words", "loss", "learning_rate", "words_per_sec"}`` as one JSON
    line every ``every`` steps and at every epoch end (``"epoch_end": true``; ``"stopped": true`` when training
    was stopped inside the epoch) to ``path``.

    List it after :class:`CorpusProgress` to get ``words_per_sec``. The file is opened in append mode, so a
    resumed run continues it. With ``tensorboard_dir`` the same scalars also go to TensorBoard as
    ``step/<name>`` against the optimizer's step count (continuous across ``fit`` calls and restarts, unlike the
    batch scalars of ``keras.callbacks.TensorBoard``, which count from 0 in every ``fit``).
    """

    def __init__(self, path: str | os.PathLike | None, every: int = 100, *,
                 tensorboard_dir: str | os.PathLike | None = None):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.path = None if path is None else os.fspath(path)
        self.every = every
        self.tensorboard_dir = None if tensorboard_dir is None else os.fspath(tensorboard_dir)
        self._writer = None
        self._epoch = 0
        self._step = 0

    def _write(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if self.tensorboard_dir is not None and "iteration" in record:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.tensorboard_dir)
            with self._writer.as_default(step=record["iteration"]):
                for key in ("words", *SHOWN):
                    if key in record:
                        tf.summary.scalar(f"step/{key}", record[key])
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _record(self, step: int, logs: dict[str, Any] | None) -> dict[str, Any]:
        record: dict[str, Any] = {"epoch": self._epoch, "step": step}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            record["iteration"] = int(keras.ops.convert_to_numpy(optimizer.iterations))
        for key in ("words", *SHOWN):
            value = _number((logs or {}).get(key))
            if value is not None:
                record[key] = value
        return record

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._step = epoch_step(self.model, -1)

    def on_train_batch_end(self, batch, logs=None):
        previous = self._step
        self._step = epoch_step(self.model, batch)
        if self._step // self.every > previous // self.every:  # also with steps_per_execution > 1
            self._write(self._record(self._step, logs))

    def on_epoch_end(self, epoch, logs=None):
        record = self._record(self._step, logs)
        record["epoch_end"] = True
        if getattr(self.model, "stop_training", False):
            record["stopped"] = True
        self._write(record)
