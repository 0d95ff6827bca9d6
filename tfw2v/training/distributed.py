"""Training under a multi-worker strategy: one epoch as a loop around ``strategy.run(model.train_step)``.

Keras's ``fit`` cannot train tfw2v under ``MultiWorkerMirroredStrategy`` (TF 2.21, Keras 3): before training it
averages the first batch across workers with ``strategy.reduce("MEAN")``, which refuses a dict of per-replica
values and would turn int ids into float means, and it reduces every log along axis 0, which fails on scalar
logs (keras-team/keras#20585). Its workarounds (a packed single-tensor batch, ``[1]``-shaped logs) also leave
an extra step on empty batches at every epoch's end, which shifts the step counter and the noise seeds. The
loop here has neither problem: it traces ``strategy.run(model.train_step)`` once for the dataset's element
spec and runs it until every worker's input is exhausted, with the run's callbacks around it.

Input: a pipeline made by :func:`tfw2v.data.examples_dataset` is rebuilt on every worker as that worker's share
(:func:`tfw2v.data.worker_shard`: the same stream keeping every ``n``-th block, in batches of ``B / n``), so
the workers read different words and global step ``s`` trains batch ``s`` of every worker. Any other dataset
goes through ``strategy.experimental_distribute_dataset`` (each worker reads it all and keeps its part of each
batch). Words are counted once, globally: ``train_step`` all-reduces each batch's corpus words.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfw2v import data


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` spans several worker processes (then Keras's ``fit`` cannot train tfw2v)."""
    return bool(getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)())


def distribute(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset, skip: int = 0) -> Any:
    """``dataset`` as the strategy's distributed dataset, each worker's share ``skip`` batches on."""
    def worker_dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
        share = data.worker_shard(dataset, context.num_input_pipelines, context.input_pipeline_id)
        return share.skip(skip) if skip else share

    if data.can_shard(dataset):
        return strategy.distribute_datasets_from_function(worker_dataset)
    return strategy.experimental_distribute_dataset(dataset.skip(skip) if skip else dataset)


class EpochLoop:
    """One epoch at a time of ``strategy.run(model.train_step)``, with the run's callbacks around each step.

    The step is traced once, for the first epoch's element spec: a retrace on one worker only (its last batch
    is shorter, or empty) would desynchronise the collectives of the workers.
    """

    def __init__(self, model: Any):
        self.model = model
        self.strategy = model.distribute_strategy
        self._step = None
        self._distributed: tuple[Any, Any] = (None, None)

    def distributed(self, dataset: tf.data.Dataset, skip: int) -> Any:
        """The distributed form of ``dataset``, made once per dataset (each epoch is then a new iteration of
        it, with the pipeline's fresh subsampling, as in a single process); with ``skip``, made for this epoch."""
        if skip:
            return distribute(self.strategy, dataset, skip)
        if self._distributed[0] is not dataset:
            self._distributed = (dataset, distribute(self.strategy, dataset))
        return self._distributed[1]

    def run_epoch(self, dataset: tf.data.Dataset, callbacks: Any, epoch: int, skip: int = 0) -> dict[str, float]:
        """Train one epoch of ``dataset`` (its first ``skip`` batches already trained); return its last logs."""
        distributed = self.distributed(dataset, skip)
        if self._step is None:
            self._step = tf.function(lambda batch: self.strategy.run(self.model.train_step, args=(batch,)),
                                     input_signature=[distributed.element_spec])
        self.model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        logs: dict[str, float] = {}
        for index, batch in enumerate(distributed):  # ends when every worker's share is exhausted
            callbacks.on_train_batch_begin(index)
            logs = {key: self.strategy.experimental_local_results(value)[0]
                    for key, value in self._step(batch).items()}
            callbacks.on_train_batch_end(index, logs)
            if self.model.stop_training:
                break
        logs = {key: float(value) for key, value in logs.items()}
        callbacks.on_epoch_end(epoch, logs)
        return logs
