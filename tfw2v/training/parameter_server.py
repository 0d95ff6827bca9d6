"""Training under ``ParameterServerStrategy``: a ``ClusterCoordinator`` loop around the model's own ``train_step``.

Keras 3's ``fit`` does not support ``ParameterServerStrategy`` (TF 2.21); the supported route is
``tf.distribute.coordinator.ClusterCoordinator``. The coordinator (the process that calls ``Word2Vec.fit``)
schedules the epoch's steps as closures; whichever worker is free runs one, reading and updating the tables on
the parameter servers. Workers run asynchronously: a worker's step reads rows that another worker's step may
be updating (Hogwild between workers, as word2vec.c's threads are within one process). Only the coordinator's
joins are synchronous: every ``steps_per_execution`` steps (one window) it waits for the window's steps, then
calls the callbacks once for the window, as Keras does with ``steps_per_execution`` (so a checkpoint written
by a callback holds exactly the steps it says).

Input: every worker iterates its own copy of the epoch's dataset, numbered by ``Dataset.enumerate``. A closure
takes the next step number ``k`` from a queue on the first parameter server, skips its worker's batches
before ``k`` (other workers trained them) and trains batch ``k``. So every batch is trained once, by whichever
worker is free; a closure retried after its worker failed takes a fresh number (only a batch whose number the
dead worker had taken is lost, and counted); and with windows of one step the run equals a single-process run
step for step. The cost: every worker runs the whole input pipeline (tokenising and subsampling all batches,
training only its own).
"""

from __future__ import annotations

import warnings
from typing import Any

import tensorflow as tf

from tfw2v import data

#: The logs of ``Word2Vec.train_step`` (a closure's results have one structure, trained or not).
LOG_KEYS = ("loss", "learning_rate", "words")


def is_parameter_server(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` is a ``ParameterServerStrategy`` (then a ``ClusterCoordinator`` trains)."""
    return isinstance(strategy, tf.distribute.ParameterServerStrategy)


def coordinator_of(strategy: tf.distribute.ParameterServerStrategy) -> tf.distribute.coordinator.ClusterCoordinator:
    """The strategy's ``ClusterCoordinator`` (there is one per strategy: a second is refused)."""
    existing = getattr(strategy, "_cluster_coordinator", None)
    return existing if existing is not None else tf.distribute.coordinator.ClusterCoordinator(strategy)


class CoordinatorLoop:
    """One epoch at a time of scheduled ``train_step`` closures, in windows of ``steps_per_execution`` steps.

    The step numbers wait in a FIFO queue on the first parameter server, in order, a few more than a window
    ahead; each closure takes the next one there (an atomic dequeue) and trains that batch of its worker's
    input, so a worker's steps always increase and a closure retried on another worker takes a fresh number.
    """

    #: Step numbers queued beyond the window, for closures retried after a worker failed.
    SPARE_STEPS = 8

    def __init__(self, model: Any):
        self.model = model
        self.strategy = model.distribute_strategy
        self.coordinator = coordinator_of(self.strategy)
        self.window = max(1, int(getattr(model, "steps_per_execution", 1) or 1))
        with tf.device("/job:ps/replica:0/task:0/device:CPU:0"):
            self._numbers = tf.queue.FIFOQueue(capacity=self.window + 2 * self.SPARE_STEPS, dtypes=[tf.int64],
                                               shapes=[[]], name="tfw2v_steps")
        self._next_number = 0
        self._step = None
        #: Steps of the epochs so far that no closure reported trained: one a worker took and then died running
        #: (lost), or ran and died before its results were fetched (trained, unreported).
        self.dropped_steps = 0

    def _scheduled_step(self, iterator: Any) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        """On a worker: take the next step number, skip this worker's batches numbered below it (other workers
        train them), train that batch if the epoch has it. Return whether it had, the number, and the step's
        logs (zeros when it had not)."""
        step = self._numbers.dequeue()

        def before_step(element: tf.experimental.Optional) -> tf.Tensor:
            return tf.cond(element.has_value(), lambda: element.get_value()[0] < step, lambda: False)

        element = tf.while_loop(before_step, lambda _: (iterator.get_next_as_optional(),),
                                (iterator.get_next_as_optional(),))[0]

        def train() -> dict[str, tf.Tensor]:
            logs = self.strategy.run(self.model.train_step, args=(element.get_value()[1],))
            return {key: tf.cast(logs[key], tf.float64) for key in LOG_KEYS}

        logs = tf.cond(element.has_value(), train, lambda: {key: tf.constant(0.0, tf.float64) for key in LOG_KEYS})
        return element.has_value(), step, logs

    def _queue_numbers(self) -> None:
        """Top the queue up to a window and its spares of the next step numbers."""
        missing = self.window + self.SPARE_STEPS - int(self._numbers.size())
        if missing > 0:
            self._numbers.enqueue_many([tf.range(self._next_number, self._next_number + missing, dtype=tf.int64)])
            self._next_number += missing

    def run_epoch(self, dataset: tf.data.Dataset, callbacks: Any, epoch: int, skip: int = 0) -> dict[str, float]:
        """Train one epoch of ``dataset`` (its first ``skip`` batches already trained); return its last logs."""
        if not data.can_shard(dataset):
            raise ValueError("under a ParameterServerStrategy every worker builds the epoch's input itself: fit "
                             "takes a pipeline made by tfw2v.data (skipgram_dataset, cbow_dataset, "
                             "examples_dataset), not transformed since, or a function of the epoch giving one")
        # Built by each worker, from Python code that AutoGraph need not (and cannot: a generator) convert.
        per_worker = self.coordinator.create_per_worker_dataset(
            tf.autograph.experimental.do_not_convert(lambda: data.read_by_tensorflow(dataset).enumerate()))
        iterator = iter(per_worker)
        if self._step is None:
            self._step = tf.function(self._scheduled_step)
        size = int(self._numbers.size())
        if size:  # the last epoch's spare numbers
            self._numbers.dequeue_many(size)
        self._next_number = skip
        self.model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        logs: dict[str, float] = {}
        trained_steps: set[int] = set()
        index, exhausted, end = 0, False, None
        while not exhausted and not self.model.stop_training:
            self._queue_numbers()
            results = [self.coordinator.schedule(self._step, args=(iterator,)) for _ in range(self.window)]
            callbacks.on_train_batch_begin(index)
            self.coordinator.join()
            trained = 0
            for result in results:
                try:
                    had_batch, step, step_logs = result.fetch()
                except tf.errors.OpError:  # it ran, but its worker died before its results were fetched
                    continue
                if had_batch:
                    trained += 1
                    trained_steps.add(int(step))
                    logs = {key: float(value) for key, value in step_logs.items()}
                else:
                    exhausted, end = True, int(step) if end is None else min(end, int(step))
            if trained:
                index += trained
                callbacks.on_train_batch_end(index - 1, logs)
        if end is not None:
            dropped = (end - skip) - len(trained_steps)
            self.dropped_steps += dropped
            if dropped:
                warnings.warn(f"tfw2v: epoch {epoch + 1}: {dropped} batch(es) lost or unreported: a worker took "
                              "their steps and failed", RuntimeWarning, stacklevel=2)
        callbacks.on_epoch_end(epoch, logs)
        return logs
