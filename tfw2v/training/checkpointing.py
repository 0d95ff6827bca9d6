"""Resumable training: checkpoints inside an epoch, clean stops on SIGINT/SIGTERM, and exact restarts.

A checkpoint (``tf.train.CheckpointManager``) holds every model variable (both embedding tables, biases, the
words-read counter that drives the learning rate, the negative sampler's seed state), the loss metric's running
sums, the optimizer's step counter, and :class:`TrainingState`: the epoch in progress and how many of its
batches were consumed.

A run resumes through ``Word2Vec.fit``: ``x`` is a function of the epoch giving a dataset seeded by
:func:`epoch_seed` ``(seed, e)``, so its subsampling and window draws do not depend on how many epochs this
process has run, and ``initial_epoch`` / ``initial_step`` are the checkpoint's position: the interrupted epoch's
dataset is rebuilt, the batches already consumed are skipped, and training continues. The resumed run
therefore sees the same examples and the same negatives in the same order as an uninterrupted one; only
floating-point summation order in multi-threaded kernels can differ. :class:`CheckpointCallback` writes the
checkpoints and turns SIGINT/SIGTERM (:class:`StopSignals`) into a saved, clean stop.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfw2v.losses.tables import any_sharded, sharded
from tfw2v.training.run_callbacks import epoch_step

CHECKPOINT_PREFIX = "ckpt"


class TrainingState(tf.Module):
    """Where training stands: ``epoch`` (the epoch in progress, = epochs finished) and ``step`` (batches of
    that epoch already trained on)."""

    def __init__(self):
        super().__init__(name="training_state")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    def get(self) -> tuple[int, int]:
        return int(self.epoch.numpy()), int(self.step.numpy())

    def set(self, epoch: int, step: int) -> None:
        self.epoch.assign(epoch)
        self.step.assign(step)


class CheckpointError(RuntimeError):
    """No checkpoint in the directory could be restored."""


def _named_variables(variables: Sequence[Any]) -> dict[str, Any]:
    """``{path: variable}`` with unique keys (``path#2`` for a repeated path)."""
    named: dict[str, Any] = {}
    for variable in variables:
        key = getattr(variable, "path", None) or getattr(variable, "name", "variable")
        unique, n = key, 1
        while unique in named:
            n += 1
            unique = f"{key}#{n}"
        named[unique] = _saved_object(variable)
    return named


def _saved_optimizer(model: keras.Model) -> Any:
    """What the checkpoint tracks as the optimizer: the optimizer itself, unless the model has sharded tables.

    Then the optimizer was built on the shards (``Word2Vec.update_variables``), and a checkpoint of it would
    hold them as its ``_trainable_variables``, which an unsharded model's optimizer cannot restore (nor the
    reverse). It is tracked instead as a stand-in with an unsharded optimizer's structure: its step counter,
    and the model's trainable variables (sharded tables as their ``ShardedVariable``). Only optimizers without
    per-variable state (such as ``Word2VecSGD``) can be checkpointed this way.
    """
    optimizer = model.optimizer
    if not any_sharded(model.trainable_variables):
        return optimizer
    own = [v for v in optimizer.variables if v is not optimizer.iterations]
    if own:
        raise NotImplementedError(f"{type(optimizer).__name__} keeps per-variable state ({own[0].path}, ...); "
                                  "checkpoints of sharded tables support only optimizers without it")
    stand_in = tf.Module(name=optimizer.name)
    stand_in._variables = [optimizer.iterations]
    stand_in._trainable_variables = [_saved_object(v) for v in model.trainable_variables]
    stand_in._iterations = optimizer.iterations
    return stand_in


def _saved_object(variable: Any) -> Any:
    """What the checkpoint tracks for ``variable``: a table that a ``ParameterServerStrategy`` sharded is
    tracked as its ``ShardedVariable`` (saved as slices of one ``[V, D]`` tensor under the same key, so it
    restores into an unsharded table and back); a ``keras.Variable`` around one cannot be saved
    (``'ShardedVariable' object has no attribute 'device'``)."""
    whole = sharded(variable)
    return variable if whole is None else whole


class Checkpointer:
    """Save and restore a compiled model's full training state under ``directory``.

    Args:
      model: a compiled ``keras.Model`` (its optimizer is built here so that it can be restored into).
      directory: where ``ckpt-<optimizer step>`` files and the ``checkpoint`` index go.
      max_to_keep: older checkpoints are deleted (a failed restore falls back to an older one).
    """

    def __init__(self, model: keras.Model, directory: str | Path, *, max_to_keep: int = 3):
        self.model = model
        self.directory = Path(directory)
        self.state = TrainingState()
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self.checkpoint = tf.train.Checkpoint(
            variables=_named_variables(model.variables),
            metrics=_named_variables(model.metrics_variables),
            optimizer=_saved_optimizer(model),
            state=self.state,
        )
        try:
            self.manager = tf.train.CheckpointManager(
                self.checkpoint, str(self.directory), max_to_keep=max_to_keep, checkpoint_name=CHECKPOINT_PREFIX
            )
        except Exception as e:  # noqa: BLE001 - a garbled 'checkpoint' index file (text_format.ParseError)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"{self.directory}/checkpoint: unreadable checkpoint index ({first[:200]})") from None
        self.restored: str | None = None

    def save(self, epoch: int, step: int) -> str:
        """Record ``(epoch, step)`` and write a checkpoint numbered by the optimizer's step; return its path."""
        self.state.set(epoch, step)
        number = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        return self.manager.save(checkpoint_number=number)

    def restore(self, warn: Callable[[str], None] | None = None) -> tuple[int, int] | None:
        """Restore the newest readable checkpoint; return its ``(epoch, step)``, or ``None`` when there is none.

        A checkpoint that cannot be read (truncated by a crash, for instance) is skipped for the next older one
        (and reported in one line through ``warn``); :class:`CheckpointError` when none can be restored. The
        loss metric's running sums come back too; ``Word2Vec.fit(..., initial_step=step)`` keeps them through
        the epoch start, where Keras would reset them.
        """
        candidates = list(reversed(self.manager.checkpoints))
        if not candidates:
            if any(self.directory.glob(f"{CHECKPOINT_PREFIX}-*.index")):
                raise CheckpointError(f"{self.directory}: checkpoint files without a readable 'checkpoint' index")
            return None
        errors = []
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except Exception as e:  # noqa: BLE001 - OpError, IndexError ("Read less bytes"), AssertionError…
                message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                errors.append(f"{Path(path).name}: {message[:200]}")
                continue
            if errors and warn is not None:
                warn(f"{self.directory}: newer checkpoint(s) could not be read ({'; '.join(errors)}); "
                     f"restored {Path(path).name} instead")
            self.restored = path
            return self.state.get()
        raise CheckpointError(f"{self.directory}: no checkpoint could be restored ({'; '.join(errors)[:400]})")


# ---------------------------------------------------------------------------------------------------------
class Interrupted(Exception):
    """Training stopped on a signal after saving a checkpoint."""

    def __init__(self, signal_name: str, epoch: int, step: int, checkpoint: str | None):
        super().__init__(f"{signal_name} in epoch {epoch + 1} at step {step}")
        self.signal_name = signal_name
        self.epoch = epoch
        self.step = step
        self.checkpoint = checkpoint

    @property
    def exit_code(self) -> int:
        number = getattr(signal, self.signal_name, signal.SIGINT)
        return 128 + int(number)


class StopSignals:
    """While active, SIGINT and SIGTERM ask training to stop at the next step end instead of killing it.

    Outside :meth:`during_training` a signal raises ``KeyboardInterrupt`` at once (nothing to save yet); a second
    signal while a stop is pending does too.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self):
        self.requested: str | None = None
        self._training = False
        self._previous: dict[int, Any] = {}

    def _handler(self, number: int, frame) -> None:
        name = signal.Signals(number).name
        if self._training and self.requested is None:
            self.requested = name
            return
        self.requested = self.requested or name
        raise KeyboardInterrupt(name)

    @contextlib.contextmanager
    def installed(self) -> Iterator["StopSignals"]:
        for name in self.SIGNALS:
            number = getattr(signal, name)
            self._previous[number] = signal.signal(number, self._handler)
        try:
            yield self
        finally:
            for number, previous in self._previous.items():
                signal.signal(number, previous)
            self._previous.clear()

    @contextlib.contextmanager
    def during_training(self) -> Iterator[None]:
        self._training = True
        try:
            yield
        finally:
            self._training = False


class CheckpointCallback(keras.callbacks.Callback):
    """Save every ``every`` steps (0: never within an epoch), at each epoch end, and when a stop is requested
    (then ``model.stop_training`` ends ``fit``, and :attr:`stopped` says where; raise it after ``fit``).

    Steps are counted within the epoch by :func:`~tfw2v.training.run_callbacks.epoch_step`, so a resumed epoch
    saves at the same steps as an uninterrupted one."""

    def __init__(self, checkpointer: Checkpointer, every: int, signals: StopSignals, *,
                 on_save: Callable[[str, int, int], None] | None = None):
        super().__init__()
        self.checkpointer = checkpointer
        self.every = every
        self.signals = signals
        self.on_save = on_save
        self.epoch = 0
        self.step = 0
        self.stopped: Interrupted | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.step = epoch_step(self.model, -1)

    def _save(self, epoch: int, step: int) -> str:
        path = self.checkpointer.save(epoch, step)
        if self.on_save is not None:
            self.on_save(path, epoch, step)
        return path

    def on_train_batch_end(self, batch, logs=None):
        previous, self.step = self.step, epoch_step(self.model, batch)
        if self.signals.requested is not None and self.stopped is None:
            path = self._save(self.epoch, self.step)
            self.stopped = Interrupted(self.signals.requested, self.epoch, self.step, path)
            self.model.stop_training = True
        elif self.every and self.step // self.every > previous // self.every:
            self._save(self.epoch, self.step)

    def on_epoch_end(self, epoch, logs=None):
        if self.stopped is None:
            self._save(epoch + 1, 0)


# ---------------------------------------------------------------------------------------------------------
def epoch_seed(seed: int, epoch: int) -> int:
    """The dataset seed of epoch ``epoch``: a function of ``(seed, epoch)`` only."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0] & 0x7FFFFFFF)
