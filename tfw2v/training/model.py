"""``Word2Vec``: a ``keras.Model`` that trains skip-gram or CBOW with ``model.fit`` on the pipeline's examples."""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Literal

import keras
import numpy as np
import tensorflow as tf

from tfw2v import losses
from tfw2v.losses.tables import add_table, any_sharded, read_rows, shards, table_values
from tfw2v.names import DEFAULT_ALPHA
from tfw2v.text.vocabulary import Vocabulary
from tfw2v import kernels
from tfw2v.training.counters import PairLoss, add_to
from tfw2v.training.distributed import EpochLoop, is_multi_worker
from tfw2v.training.parameter_server import CoordinatorLoop, is_parameter_server
from tfw2v.training.optimizer import Word2VecSGD, linear_decay
from tfw2v.training.run_callbacks import SingleRunCallbacks
from tfw2v.training.vectors import WordVectors
from tfw2v.training.vocabulary_assets import load_vocabulary, save_vocabulary

MIN_ALPHA_RATIO = 1e-4
#: Train steps per call into TensorFlow when ``compile`` is not told otherwise and no ``tf.distribute`` strategy
#: is in scope. A fused step of 1024 examples takes a few ms; Keras's per-call Python work (~1 ms) would
#: otherwise be a large part of it. Under a multi-device strategy the default stays 1: Keras 3.15's multi-step
#: loop there fails with "You must feed a value for placeholder tensor" (MirroredStrategy, 2 logical CPUs).
DEFAULT_STEPS_PER_EXECUTION = 32
#: ``compile`` arguments a ``.keras`` file records (the default optimizer is rebuilt, not serialized).
RECORDED_COMPILE_ARGUMENTS = ("steps_per_execution", "jit_compile", "run_eagerly")

#: What ``fit`` accepts as ``x`` besides Keras's own inputs: a function of the epoch index giving that epoch's
#: dataset.
EpochDatasets = Callable[[int], tf.data.Dataset]


@keras.saving.register_keras_serializable(package="tfw2v")
class Word2Vec(keras.Model):
    """Input embeddings → hidden vector → an objective from :mod:`tfw2v.losses`.

    CBOW: the hidden vector ``h = Σ_i input_weights_i · E[inputs_i]`` (mean or sum of the context rows) predicts
    the centre word; as in word2vec.c each context row receives ``∂L/∂h`` in full (:func:`combine_inputs`).
    Skip-gram: an example is a centre word ``c`` with context words ``y_t`` of weight ``w_t``; as in word2vec.c,
    each context word's row ``E[y_t]`` is the input of its pair and the centre the target,
    ``L_b = Σ_t w_bt ℓ(E[y_bt], c_b)``, with one example's ``K`` negatives shared by its pairs. Full softmax
    keeps the soft-target form ``L_b = Σ_t w_bt ℓ(E[c_b], y_bt)``: one softmax per centre word. (Scoring the
    centre's row against all contexts instead would give each input vector one K-sample term per *example*
    rather than per pair; on the 17M-word corpus that cost 5.4 analogy points against gensim.) Which form an
    objective gets is decided in one place, :meth:`scored_pairs`.

    Training follows word2vec.c: every (input, label) pair contributes its own loss, so the batch loss
    (:meth:`compute_loss`) is ``Σ_b m_b · L_b`` with ``m_b`` the number of pairs in example ``b`` (its labels for
    skip-gram, 1 for CBOW), and :meth:`compile` without an optimizer gives
    :class:`~tfw2v.training.optimizer.Word2VecSGD` with
    ``lr = alpha · max(1e-4, 1 − words_seen / (words_per_epoch · epochs))``. The reported ``loss`` is the mean
    loss per pair, accumulated in float64.

    A ``.keras`` file (``model.save("w2v.keras")``, then :meth:`load` or ``keras.models.load_model`` once
    ``tfw2v.Word2Vec`` is imported) holds the configuration, both tables, the optimizer's state and, as assets,
    the vocabulary (tokens, counts, tokenizer, phrases) and each objective's word counts.

    Args:
      vocab: the :class:`Vocabulary` (row ``i`` of every table is ``vocab.tokens[i]``).
      dim: embedding size.
      architecture: ``"skipgram"`` or ``"cbow"`` — must match the dataset it is fed.
      loss: one of :data:`tfw2v.losses.NAMES`.
      negatives: samples per example for the sampled objectives.
      alpha: initial learning rate; default 0.025 (skip-gram) or 0.05 (CBOW).
      words_per_epoch: corpus words in one epoch (default ``vocab.corpus_words``), the unit of the schedule.
      seed: initialisation and negative-sampling seed.
      init_scale: input rows start uniform in ``[-init_scale/dim, init_scale/dim)``, output rows at 0. The
        default 1.0 is gensim 4's range; word2vec.c's is 0.5, which scored 0.25–0.5 analogy points lower in
        every configuration measured (README, "Initialisation").
      fused: which training path :meth:`compile` picks, as ``keras.layers.LSTM`` picks cuDNN. ``"auto"`` uses
        the fused C++ kernel (:mod:`tfw2v.kernels`: word2vec.c's per-pair SGD in place, several times
        faster) when all its conditions hold — CPU tables, the default :class:`Word2VecSGD`, a loss in
        :data:`tfw2v.kernels.OBJECTIVES`, no ``jit_compile``, no ``tf.distribute`` strategy, a C++
        compiler to build it — and the generic ``GradientTape`` path otherwise (with one warning if only the
        build failed). ``True`` insists (``ValueError`` naming the condition that fails), ``False`` always takes
        the generic path. :attr:`uses_fused_kernel` tells which one trains.
      vocabulary_size: stands in for ``vocab`` only while a ``.keras`` file loads (``from_config`` builds the
        tables before the vocabulary asset is read); leave it out otherwise.
      **loss_options: passed to the objective (``noise``, ``noise_exponent``, ``share_negatives``, ...).
    """

    def __init__(
        self,
        vocab: Vocabulary | None,
        *,
        dim: int = 100,
        architecture: Literal["skipgram", "cbow"] = "skipgram",
        loss: str = "ns",
        negatives: int = 5,
        alpha: float | None = None,
        words_per_epoch: int | None = None,
        seed: int | None = None,
        init_scale: float = 1.0,
        fused: bool | Literal["auto"] = "auto",
        vocabulary_size: int | None = None,
        **loss_options: Any,
    ):
        super().__init__(name="word2vec")
        if fused not in ("auto", True, False):
            raise ValueError(f"fused={fused!r}: expected 'auto', True or False")
        if architecture not in DEFAULT_ALPHA:
            raise ValueError(f"architecture={architecture!r}: expected 'skipgram' or 'cbow'")
        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim={dim!r}: must be an integer >= 1")
        if alpha is not None and alpha <= 0:
            raise ValueError(f"alpha={alpha!r}: must be > 0")
        if not init_scale > 0:  # also rejects NaN
            raise ValueError(f"init_scale={init_scale!r}: must be > 0")
        if vocab is None and vocabulary_size is None:
            raise ValueError("vocab is required (vocabulary_size only stands in for it while a .keras file loads)")
        if vocab is not None and vocabulary_size not in (None, len(vocab)):
            raise ValueError(f"vocabulary_size={vocabulary_size} but the vocabulary has {len(vocab)} words")
        size = int(len(vocab) if vocab is not None else vocabulary_size)
        words_per_epoch = words_per_epoch or (vocab.corpus_words if vocab is not None else None)
        if words_per_epoch is None:
            raise ValueError("words_per_epoch is required when the model is built without its vocabulary")
        self._vocabulary = vocab
        self.architecture = architecture
        self.dim = int(dim)
        self.alpha = float(alpha if alpha is not None else DEFAULT_ALPHA[architecture])
        self.words_per_epoch = int(words_per_epoch)
        self.init_scale = float(init_scale)
        self.loss_name = loss
        self.fused = fused
        #: Whether the fused kernel trains this model; decided by :meth:`compile`.
        self.uses_fused_kernel = False
        #: Batches of the current epoch trained before the running ``fit`` call (a resumed epoch); see
        #: :func:`tfw2v.training.run_callbacks.epoch_step`.
        self.resumed_steps = 0
        self._keep_metric_sums = False
        self._compile_arguments: dict[str, Any] = {}
        self._default_optimizer = True
        self._kernel_options: dict[str, Any] | None = None
        self._config = dict(vocabulary_size=size, dim=self.dim, architecture=architecture, loss=loss,
                            negatives=negatives, alpha=self.alpha, words_per_epoch=self.words_per_epoch, seed=seed,
                            init_scale=self.init_scale, fused=fused, **loss_options)
        self.objective = losses.get(
            loss, vocab_size=size, dim=self.dim, counts=None if vocab is None else vocab.counts,
            negatives=negatives, seed=seed, **loss_options,
        )
        self.input_embeddings = add_table(
            self, "input_embeddings", (size, self.dim),
            keras.initializers.RandomUniform(-self.init_scale / self.dim, self.init_scale / self.dim, seed=seed),
        )
        self.words_seen = self.add_weight(
            shape=(), dtype="float64", initializer="zeros", trainable=False, aggregation="only_first_replica",
            name="words_seen",
        )
        self.total_words = self.add_weight(
            shape=(), dtype="float64", initializer="zeros", trainable=False, aggregation="only_first_replica",
            name="total_words",
        )
        self.pair_loss = PairLoss()
        self.built = True  # all variables exist now; fit() under a tf.distribute strategy needs no sample batch

    @property
    def vocabulary(self) -> Vocabulary:
        """The vocabulary; row ``i`` of every table is ``vocabulary.tokens[i]``."""
        if self._vocabulary is None:
            raise ValueError("this Word2Vec was built from a config without its vocabulary; load the whole "
                             "model with Word2Vec.load(path) or keras.models.load_model(path)")
        return self._vocabulary

    # ---- saving: config, vocabulary assets, compile config ------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Word2Vec":
        return cls(None, **config)

    def save_assets(self, dir_path: str) -> None:
        save_vocabulary(self.vocabulary, dir_path)

    def load_assets(self, dir_path: str | None) -> None:
        if dir_path is None:
            raise ValueError("the .keras file holds no vocabulary asset for this Word2Vec")
        vocab = load_vocabulary(dir_path)
        if len(vocab) != self.input_embeddings.shape[0]:
            raise ValueError(f"{dir_path}: the vocabulary has {len(vocab)} words but the tables "
                             f"{self.input_embeddings.shape[0]} rows")
        self._vocabulary = vocab

    def get_compile_config(self) -> dict[str, Any] | None:
        if not self.compiled:
            return None
        config = dict(self._compile_arguments)
        if not isinstance(self.optimizer, Word2VecSGD) or not self._default_optimizer:
            config["optimizer"] = keras.optimizers.serialize(self.optimizer)
        return config

    def compile_from_config(self, config: dict[str, Any]) -> None:
        config = dict(config)
        if "optimizer" in config:
            config["optimizer"] = keras.optimizers.deserialize(config["optimizer"])
        self.compile(**config)
        self.optimizer.build(self.trainable_variables)  # its saved state (the step count) loads into it

    def save(self, filepath: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        """``keras.Model.save``. A model whose tables a ``ParameterServerStrategy`` sharded is saved as its copy
        with whole tables (:meth:`unsharded`): a ``.keras`` file cannot hold a ``ShardedVariable``."""
        if not any_sharded(self.trainable_variables):
            return super().save(filepath, *args, **kwargs)
        return self.unsharded().save(filepath, *args, **kwargs)

    def unsharded(self) -> "Word2Vec":
        """This model, compiled as it is, with every variable's value, outside any ``tf.distribute`` strategy:
        its sharded tables become whole ones (built in this process's memory)."""
        if tf.distribute.has_strategy():
            raise ValueError("unsharded() builds a model outside any tf.distribute strategy: call it (or save) "
                             "outside strategy.scope()")
        copy = type(self)(self.vocabulary, **self.get_config())
        if self.compiled:
            copy.compile_from_config(self.get_compile_config())
            copy.optimizer.iterations.assign(self.optimizer.iterations.numpy())
        for source, target in zip(self.variables, copy.variables, strict=True):
            target.assign(table_values(source))
        return copy

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Word2Vec":
        """The model a ``.keras`` file holds, compiled as it was saved; ``ValueError`` if it is not a Word2Vec."""
        model = keras.models.load_model(path)
        if not isinstance(model, cls):
            raise ValueError(f"{path}: holds a {type(model).__name__}, not a tfw2v Word2Vec")
        return model

    # ---- training on: a larger vocabulary, or vectors from a file --------------------------------
    def grown(self, vocab: Vocabulary, **overrides: Any) -> "Word2Vec":
        """A new, uncompiled model on ``vocab`` (e.g. ``self.vocabulary.updated(new_corpus)``) with every old
        word's rows copied and new words initialised as word2vec does; see :func:`tfw2v.training.transfer.grown`."""
        from tfw2v.training import transfer

        return transfer.grown(self, vocab, **overrides)

    @classmethod
    def from_vectors(cls, path: str | os.PathLike, vocab: Vocabulary, **kwargs: Any) -> "Word2Vec":
        """A model on ``vocab`` whose input rows start from the word2vec-format vectors in ``path`` where the
        word is there; see :func:`tfw2v.training.transfer.from_vectors`."""
        from tfw2v.training import transfer

        return transfer.from_vectors(path, vocab, **kwargs)

    # ---- forward ------------------------------------------------------------------------------
    def call(self, inputs: dict[str, tf.Tensor] | tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Hidden vectors ``[B, D]`` from ``{"inputs": [B, I], "input_weights": [B, I]}`` (or ids ``[B, I]``,
        averaged)."""
        if isinstance(inputs, dict):
            ids, weights = inputs["inputs"], inputs["input_weights"]
        else:
            ids = tf.convert_to_tensor(inputs)
            weights = tf.fill(tf.shape(ids), 1.0 / tf.cast(tf.shape(ids)[-1], tf.float32))
        rows = read_rows(self.input_embeddings, ids)
        return combine_inputs(rows, tf.cast(weights, rows.dtype))

    def pair_counts(self, label_weights: tf.Tensor) -> tf.Tensor:
        """Pairs per example: labels with positive weight (skip-gram) or 1 (CBOW)."""
        if self.architecture == "skipgram":
            return tf.reduce_sum(tf.cast(label_weights > 0, tf.float32), axis=1)
        return tf.ones_like(label_weights[:, 0])

    def scored_pairs(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, ...]:
        """``(hidden [B, P, D], labels [B, T], pair_weights [B, P, T])``: the pairs the objective scores, in the one
        place that orients skip-gram.

        CBOW: the combined context row against the centre word (``P = T = 1``). Skip-gram, for an objective
        whose :attr:`~tfw2v.losses.Objective.skipgram_input` is ``"context"``: word2vec.c's orientation, the
        ``m`` context rows against the centre word (``P = m``, ``T = 1``); for ``"centre"`` (full softmax): the
        centre row against its ``m`` context words (``P = 1``, ``T = m``). Either way the weights are the
        pipeline's ``label_weights``.
        """
        if self.architecture == "skipgram" and self.objective.skipgram_input == "context":
            hidden = read_rows(self.input_embeddings, batch["labels"])  # [B, m, D]
            return hidden, batch["inputs"], batch["label_weights"][:, :, None]
        hidden = self(batch, training=training)[:, None, :]
        return hidden, batch["labels"], batch["label_weights"][:, None, :]

    def example_losses(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Per-example losses ``L_b`` ``[B]`` of :meth:`scored_pairs`, and the hidden vectors scored."""
        hidden, labels, pair_weights = self.scored_pairs(batch, training=training)
        return self.objective(hidden, labels, pair_weights, training=training), hidden

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training: bool = True) -> tf.Tensor:
        """The batch loss ``Σ_b m_b · L_b`` of the pipeline's batch ``x`` (``y`` and ``y_pred`` are unused: the
        targets are in the batch). This is what the generic path differentiates."""
        per_example, _ = self.example_losses(x, training=training)
        return self._pair_weighted(per_example, x)[0]

    def _pair_weighted(self, per_example: tf.Tensor, batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """``(Σ_b m_b · L_b, Σ_b m_b)``: the batch loss and the number of pairs it sums."""
        pairs = self.pair_counts(batch["label_weights"])
        return tf.reduce_sum(per_example * pairs), tf.reduce_sum(pairs)

    # ---- training -----------------------------------------------------------------------------
    def learning_rate(self) -> tf.Tensor:
        """The current word2vec learning rate (linear decay by corpus words read)."""
        return linear_decay(self.alpha, self.words_seen, self.total_words, MIN_ALPHA_RATIO)

    def compile(self, optimizer: keras.optimizers.Optimizer | str | None = None, **kwargs: Any) -> None:
        """Without ``optimizer``: word2vec's recipe (:class:`Word2VecSGD` on :meth:`learning_rate`);
        ``steps_per_execution`` defaults to :data:`DEFAULT_STEPS_PER_EXECUTION` on one replica, else 1.

        Also picks the training path (see ``fused`` in the class docstring) and sets :attr:`uses_fused_kernel`.
        """
        self._default_optimizer = optimizer is None
        if optimizer is None:
            optimizer = Word2VecSGD(learning_rate=self.learning_rate,
                                    dense_row_counts=bool(kwargs.get("jit_compile", False)))
        optimizer = keras.optimizers.get(optimizer)  # a name such as "adam" becomes the optimizer it names
        kwargs.setdefault("jit_compile", False)
        one_replica = self.distribute_strategy.num_replicas_in_sync == 1
        kwargs.setdefault("steps_per_execution", DEFAULT_STEPS_PER_EXECUTION if one_replica else 1)
        self._compile_arguments = {key: kwargs[key] for key in RECORDED_COMPILE_ARGUMENTS if key in kwargs}
        self.uses_fused_kernel = self._choose_fused_kernel(optimizer, kwargs["jit_compile"])
        self._kernel_options = None
        super().compile(optimizer=optimizer, **kwargs)
        if any_sharded(self.trainable_variables):
            # Sharded tables (ParameterServerStrategy): the optimizer updates their shards (PSS updates a
            # variable on its parameter server, and a ShardedVariable is not one variable), and is built here,
            # on the coordinator, rather than lazily inside a train step scheduled on a worker.
            with self.distribute_strategy.scope():
                self.optimizer.build(self.update_variables())

    def update_variables(self) -> list[Any]:
        """What the generic path differentiates and the optimizer updates: :attr:`trainable_variables`, each
        table that a ``ParameterServerStrategy`` sharded replaced by its shards (a ``ShardedVariable`` has no
        handle to differentiate against; each shard's gradient is an ``IndexedSlices`` of its own rows)."""
        return [part for variable in self.trainable_variables for part in shards(variable)]

    def _fused_kernel_obstacle(self, optimizer: Any, jit_compile: Any) -> str | None:
        """Which condition of the fused kernel this model and optimizer fail, or ``None`` when they meet all."""
        if self.loss_name not in kernels.OBJECTIVES:
            return f"loss={self.loss_name!r} has no fused kernel (it covers {', '.join(kernels.OBJECTIVES)})"
        if jit_compile:
            return f"jit_compile={jit_compile!r}: XLA compiles the generic path, not a custom op"
        if type(optimizer) is not Word2VecSGD:
            return f"the optimizer is {type(optimizer).__name__}, and the kernel applies word2vec's own SGD"
        if tf.distribute.has_strategy() or self.distribute_strategy is not tf.distribute.get_strategy():
            return "a tf.distribute strategy is in use, and the kernel is a single-replica path"
        device = self.input_embeddings.value.device
        if "CPU" not in device.upper():
            return f"the tables live on {device}, and the kernel runs on the CPU"
        return None

    def _choose_fused_kernel(self, optimizer: Any, jit_compile: Any) -> bool:
        """Whether the kernel trains: ``fused=False`` never; otherwise when every condition holds and the kernel
        can be built. A build failure warns under ``"auto"``; any failing condition raises under ``True``, and
        so does ``share_negatives="pair"`` (which only the kernel draws) whenever the kernel cannot train."""
        obstacle = "fused=False" if self.fused is False else self._fused_kernel_obstacle(optimizer, jit_compile)
        pairs_required = getattr(self.objective, "share_negatives", None) == "pair"
        if obstacle is None and (self.fused is True or pairs_required):
            try:
                kernels.library()
            except kernels.KernelUnavailable as e:
                obstacle = f"the kernel cannot be built here: {e}"
        elif obstacle is None and not kernels.available():  # warns, once per process
            obstacle = "the kernel cannot be built here"
        if obstacle is None:
            return True
        if pairs_required:
            raise ValueError(f"share_negatives='pair': only the fused kernel draws negatives per pair, and it "
                             f"cannot train this model ({obstacle}); use 'auto' or 'example'")
        if self.fused is True:
            raise ValueError(f"fused=True, but {obstacle}")
        return False

    def fused_kernel_options(self) -> dict[str, Any]:
        """The objective's constants the kernel needs: NCE's biases and ``log(k·Pn)``, HS's Huffman paths, the
        per-pair noise tables. Computed once, at the first fused step (a loading ``.keras`` file compiles before
        its word counts arrive)."""
        if self._kernel_options is not None:
            return self._kernel_options
        objective = self.objective
        options: dict[str, Any] = {"architecture": self.architecture, "objective": self.loss_name}
        with tf.init_scope():  # eager even while the train step is traced
            if self.loss_name == "nce":
                ids = tf.range(objective.vocab_size)
                options["output_bias"] = objective.output_biases
                options["logit_offset"] = np.asarray(objective.log_expected_count(ids, objective.negatives))
            if self.loss_name == "hs":
                objective.check_counts()
                options["huffman"] = (objective.tree.points, objective.tree.codes, objective.tree.lengths)
            elif objective.share_negatives in ("auto", "pair"):
                options["pair_noise"] = (objective.noise.threshold, objective.noise.alias, objective.negatives)
        self._kernel_options = options
        return options

    def fit(self, x: tf.data.Dataset | EpochDatasets | Any = None, y=None, *, epochs: int = 1,
            initial_epoch: int = 0, initial_step: int = 0, callbacks=None, verbose="auto",
            **kwargs: Any) -> keras.callbacks.History:
        """``keras.Model.fit``, with the schedule's horizon fixed at ``words_per_epoch · epochs``.

        The pipeline's epochs differ in length (subsampling is redrawn) and their length is unknown in
        advance; Keras would cut every later epoch to the first one's batch count. So a ``tf.data`` input of
        unknown cardinality is fitted one epoch per ``keras.Model.fit`` call, all sharing one set of
        callbacks that sees a single training run (:class:`~tfw2v.training.run_callbacks.SingleRunCallbacks`).

        Args:
          x: a ``tf.data.Dataset`` of the pipeline's batches, or a function ``epoch -> Dataset`` giving each
            epoch its own dataset (seeded by the epoch, so that a resumed run rebuilds the interrupted epoch
            exactly); anything else Keras takes.
          initial_epoch: epochs already trained (Keras's meaning); the learning rate continues from
            ``words_seen``.
          initial_step: batches of epoch ``initial_epoch`` already trained (a run resumed from a mid-epoch
            checkpoint): they are skipped, callbacks count steps on from there
            (:func:`~tfw2v.training.run_callbacks.epoch_step`), and the loss metric keeps the running sums the
            checkpoint restored instead of starting the epoch from zero.
        """
        self.total_words.assign(float(self.words_per_epoch) * epochs)
        kwargs.setdefault("shuffle", False)  # the pipeline's order is the corpus order, as in word2vec.c
        per_epoch = callable(x) and not isinstance(x, (tf.data.Dataset, keras.utils.PyDataset))
        unknown_length = per_epoch or (isinstance(x, tf.data.Dataset) and int(x.cardinality()) < 0)
        if initial_step and (not (per_epoch or isinstance(x, tf.data.Dataset)) or "steps_per_epoch" in kwargs):
            raise ValueError("initial_step needs a tf.data.Dataset (or a function of the epoch) without "
                             "steps_per_epoch")
        strategy = self.distribute_strategy
        loop_class = EpochLoop if is_multi_worker(strategy) else CoordinatorLoop if is_parameter_server(strategy) \
            else None
        if loop_class is not None:
            where = "a multi-worker" if loop_class is EpochLoop else "a parameter-server"
            if not (per_epoch or isinstance(x, tf.data.Dataset)) or y is not None:
                raise ValueError(f"under {where} strategy, fit takes a tf.data.Dataset of the pipeline's "
                                 "batches (or a function of the epoch giving one), and no y")
            if kwargs.get("steps_per_epoch") is not None:
                raise ValueError(f"steps_per_epoch is not supported under {where} strategy: an epoch ends "
                                 "when the input does")
        if not (unknown_length or initial_step or loop_class) or kwargs.get("steps_per_epoch") is not None:
            return super().fit(x, y, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                               verbose=verbose, **kwargs)
        if verbose == "auto":
            verbose = 1
        run = SingleRunCallbacks(callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose,
                                 epochs=epochs, model=self)
        loop = loop_class(self) if loop_class is not None else None
        try:
            for epoch in range(initial_epoch, epochs):
                skipped = int(initial_step) if epoch == initial_epoch else 0
                dataset = x(epoch) if per_epoch else x
                self.resumed_steps = skipped
                self._keep_metric_sums = skipped > 0
                run.last_epoch = epoch == epochs - 1
                if loop is not None:
                    if epoch == initial_epoch:
                        self.stop_training = False
                        run.on_train_begin()
                    loop.run_epoch(dataset, run, epoch, skip=skipped)
                    if run.last_epoch:
                        run.on_train_end()
                else:
                    with warnings.catch_warnings():  # the end of an epoch of unknown length is not an interruption
                        warnings.filterwarnings("ignore", message="Your input ran out of data")
                        super().fit(dataset.skip(skipped) if skipped else dataset, y, epochs=epoch + 1,
                                    initial_epoch=epoch, callbacks=run, verbose=verbose, **kwargs)
                if self.stop_training:
                    run.last_epoch = True
                    run.on_train_end()
                    break
        finally:
            self.resumed_steps = 0
            self._keep_metric_sums = False
        return self.history

    def reset_metrics(self) -> None:
        """Keras resets the metrics as every epoch begins; the first epoch of a resumed run keeps the loss sums
        its checkpoint restored."""
        if self._keep_metric_sums:
            self._keep_metric_sums = False
            return
        super().reset_metrics()

    def train_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """One step: the batch loss applied (by the fused kernel or by ``compute_loss`` + the optimizer), then
        the bookkeeping: the loss per pair and the corpus words read."""
        if self.uses_fused_kernel:
            batch_loss, pairs = self._pair_weighted(self._fused_step(batch), batch)
        else:
            batch_loss, pairs = self._gradient_step(batch)
        return self._record(batch, batch_loss, pairs, count_words=True)

    def _record(self, batch: dict[str, tf.Tensor], batch_loss: tf.Tensor, pairs: tf.Tensor, *,
                count_words: bool) -> dict[str, Any]:
        """Add the batch's loss and pairs to the loss metric (the mean per pair) and, in training, its corpus
        words to ``words_seen``; return the step's logs."""
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            # The loss of the global batch, so that every replica logs the same value (the metric's variables
            # are per replica); the table updates do not depend on it.
            batch_loss, pairs = replica.all_reduce("sum", [batch_loss, pairs])
        self.pair_loss.update_state(batch_loss, pairs)
        if not count_words:
            return {"loss": self.pair_loss.result()}
        words = tf.reduce_sum(tf.cast(batch["words"], tf.float64))
        # Every replica adds the global count; only the first replica's update is applied.
        add_to(self.words_seen, tf.distribute.get_replica_context().all_reduce("sum", words))
        return {"loss": self.pair_loss.result(), "learning_rate": self.optimizer.learning_rate,
                "words": self.words_seen}

    def _gradient_step(self, batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """The generic path: differentiate the batch loss (:meth:`compute_loss`'s, computed here as well so that
        the dense cap sees the hidden vectors) and apply it with the optimizer; return it and its pairs."""
        with tf.GradientTape() as tape:
            per_example, hidden = self.example_losses(batch, training=True)
            batch_loss, pairs = self._pair_weighted(per_example, batch)
        variables = self.update_variables()
        gradients = tape.gradient(batch_loss, variables)
        dense = any(g is not None and not isinstance(g, tf.IndexedSlices) for g in gradients)
        if dense and isinstance(self.optimizer, Word2VecSGD):  # decided while tracing: sparse steps skip the norm
            gradients = self.optimizer.cap_dense_gradients(gradients, tf.reduce_mean(tf.norm(hidden, axis=-1)))
        self.optimizer.apply(gradients, variables)
        return batch_loss, pairs

    def _fused_step(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """The fused path: the kernel applies the batch pair by pair, in place, at the optimizer's rate."""
        options = self.fused_kernel_options()
        size = tf.shape(batch["inputs"])[0]
        seed = None
        if "pair_noise" in options:
            negatives, seed = tf.zeros([size, 0], tf.int32), self.objective.seed_generator.next()
        elif isinstance(self.objective, losses.SampledObjective):
            negatives = self.objective.sample_negatives(size)
            if negatives.shape.rank == 1:  # share_negatives="batch": every example gets the batch's samples
                negatives = tf.broadcast_to(negatives[None, :], [size, self.objective.negatives])
        else:
            negatives = tf.zeros([size, 0], tf.int32)
        per_example = kernels.sgd_step(self.input_embeddings, self.objective.output_embeddings, batch, negatives,
                                       self.optimizer.learning_rate, seed=seed, **options)
        add_to(self.optimizer.iterations, 1)
        return per_example

    def test_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        per_example, _ = self.example_losses(batch, training=False)
        return self._record(batch, *self._pair_weighted(per_example, batch), count_words=False)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.pair_loss]

    # ---- results ------------------------------------------------------------------------------
    @property
    def embeddings(self) -> np.ndarray:
        """The input embeddings ``[V, D]`` as numpy; row ``i`` is ``vocabulary.tokens[i]``."""
        return table_values(self.input_embeddings)

    def word_vectors(self) -> WordVectors:
        vocab = self.vocabulary
        return WordVectors(vocab.tokens, self.embeddings, vocab.tokenizer, vocab.phrases)

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` nearest words by cosine, the query excluded, as ``(word, cosine)`` pairs."""
        return self.word_vectors().most_similar(word, k)


@tf.custom_gradient
def combine_inputs(rows: tf.Tensor, weights: tf.Tensor):
    """``h = Σ_i w_i · rows_i`` forward; backward, every input row with ``w_i > 0`` gets ``∂L/∂h`` in full.

    That is word2vec.c's CBOW update (``syn0[c] += neu1e`` for each context word ``c``, although ``h`` is their
    mean): ``m`` times the mean's true gradient. With the true gradient the context vectors learn ``m`` times
    slower; on the 17M-word corpus CBOW reached 5.4% analogy accuracy against gensim's 8.3%.
    """
    hidden = tf.reduce_sum(weights[:, :, None] * rows, axis=1)

    def gradient(upstream: tf.Tensor):
        return tf.cast(weights > 0, upstream.dtype)[:, :, None] * upstream[:, None, :], tf.zeros_like(weights)

    return hidden, gradient
