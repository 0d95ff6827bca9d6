"""``Word2Vec``: a ``keras.Model`` that trains skip-gram or CBOW with ``model.fit`` on the pipeline's examples."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import keras
import numpy as np
import tensorflow as tf

from tfw2v import losses
from tfw2v.names import DEFAULT_ALPHA
from tfw2v.training import kernels
from tfw2v.losses.base import read_rows
from tfw2v.training.optimizer import Word2VecSGD, linear_decay
from tfw2v.training.vectors import WordVectors
from tfw2v.text.vocabulary import Vocabulary

MIN_ALPHA_RATIO = 1e-4
#: Train steps per call into TensorFlow when ``compile`` is not told otherwise and no ``tf.distribute`` strategy
#: is in scope. A fused step of 1024 examples takes a few ms; Keras's per-call Python work (~1 ms) would
#: otherwise be a large part of it. Under a multi-device strategy the default stays 1: Keras 3.15's multi-step
#: loop there fails with "You must feed a value for placeholder tensor" (MirroredStrategy, 2 logical CPUs).
DEFAULT_STEPS_PER_EXECUTION = 32


class Word2Vec(keras.Model):
    """Input embeddings → hidden vector → an objective from :mod:`tfw2v.losses`.

    CBOW: the hidden vector ``h = Σ_i input_weights_i · E[inputs_i]`` (mean or sum of the context rows) predicts
    the centre word; as in word2vec.c each context row receives ``∂L/∂h`` in full (:func:`combine_inputs`). Skip-gram: an example is a centre word ``c`` with context words ``y_t`` of weight ``w_t``;
    as in word2vec.c, each context word's row ``E[y_t]`` is the input of its pair and the centre the target,
    ``L_b = Σ_t w_bt ℓ(E[y_bt], c_b)``, with one example's ``K`` negatives shared by its pairs. Full softmax
    keeps the soft-target form ``L_b = Σ_t w_bt ℓ(E[c_b], y_bt)``: one softmax per centre word. (Scoring the
    centre's row against all contexts instead would give each input vector one K-sample term per *example*
    rather than per pair; on the 17M-word corpus that cost 5.4 analogy points against gensim.)

    Training follows word2vec.c: every (input, label) pair contributes its own loss, so the batch loss is
    ``Σ_b m_b · L_b`` with ``m_b`` the number of pairs in example ``b`` (its labels for skip-gram, 1 for CBOW),
    and :meth:`compile` without an optimizer gives :class:`~tfw2v.training.optimizer.Word2VecSGD` with
    ``lr = alpha · max(1e-4, 1 − words_seen / (words_per_epoch · epochs))``. The reported ``loss`` is the mean
    loss per pair, accumulated in float64.

    Args:
      vocab: the :class:`Vocabulary` (row ``i`` of every table is ``vocab.tokens[i]``).
      dim: embedding size.
      architecture: ``"skipgram"`` or ``"cbow"`` — must match the dataset it is fed.
      loss: one of :data:`tfw2v.losses.NAMES`.
      negatives: samples per example for the sampled objectives.
      alpha: initial learning rate; default 0.025 (skip-gram) or 0.05 (CBOW).
      words_per_epoch: corpus words in one epoch (default ``vocab.corpus_words``), the unit of the schedule.
      seed: initialisation and negative-sampling seed.
      fused: which training path :meth:`compile` picks, as ``keras.layers.LSTM`` picks cuDNN. ``"auto"`` uses
        the fused C++ kernel (:mod:`tfw2v.training.kernels`: word2vec.c's per-pair SGD in place, several times faster)
        when all its conditions hold — CPU tables, the default :class:`Word2VecSGD`, a loss in
        :data:`tfw2v.training.kernels.OBJECTIVES`, no ``jit_compile``, no ``tf.distribute`` strategy, a C++ compiler
        to build it — and the generic ``GradientTape`` path otherwise (with one warning if only the build
        failed). ``True`` insists (``ValueError`` naming the condition that fails), ``False`` always takes the
        generic path. :attr:`uses_fused_kernel` tells which one trains.
      **loss_options: passed to the objective (``noise``, ``noise_exponent``, ``share_negatives``, ...).
    """

    def __init__(
        self,
        vocab: Vocabulary,
        *,
        dim: int = 100,
        architecture: Literal["skipgram", "cbow"] = "skipgram",
        loss: str = "ns",
        negatives: int = 5,
        alpha: float | None = None,
        words_per_epoch: int | None = None,
        seed: int | None = None,
        fused: bool | Literal["auto"] = "auto",
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
        self.vocabulary = vocab
        self.architecture = architecture
        self.dim = int(dim)
        self.alpha = float(alpha if alpha is not None else DEFAULT_ALPHA[architecture])
        self.words_per_epoch = int(words_per_epoch or vocab.corpus_words)
        self.loss_name = loss
        self.fused = fused
        #: Whether the fused kernel trains this model; decided by :meth:`compile`.
        self.uses_fused_kernel = False
        self._config = dict(dim=dim, architecture=architecture, loss=loss, negatives=negatives, alpha=alpha,
                            words_per_epoch=words_per_epoch, seed=seed, fused=fused, **loss_options)
        self.objective = losses.get(
            loss, vocab_size=len(vocab), dim=self.dim, counts=vocab.counts, negatives=negatives, seed=seed,
            **loss_options,
        )
        self.input_embeddings = self.add_weight(
            shape=(len(vocab), self.dim),
            initializer=keras.initializers.RandomUniform(-0.5 / self.dim, 0.5 / self.dim, seed=seed),
            name="input_embeddings",
        )
        self.words_seen = self.add_weight(
            shape=(), dtype="float64", initializer="zeros", trainable=False, aggregation="only_first_replica",
            name="words_seen",
        )
        self.total_words = self.add_weight(
            shape=(), dtype="float64", initializer="zeros", trainable=False, aggregation="only_first_replica",
            name="total_words",
        )
        self.pair_loss = keras.metrics.Mean(name="loss", dtype="float64")
        self.built = True  # all variables exist now; fit() under a tf.distribute strategy needs no sample batch

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

    def _pair_losses(self, batch: dict[str, tf.Tensor], training: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Per-example losses, pairs per example, and the hidden vectors scored (``[B, D]`` or ``[B, T, D]``)."""
        if self.architecture == "skipgram" and not self.objective.scores_soft_targets_at_once:
            # word2vec.c's orientation: each context word's vector is the input, the centre word the target.
            hidden = read_rows(self.input_embeddings, batch["labels"])  # [B, T, D]
            per_example = self.objective(hidden, batch["inputs"], batch["label_weights"], training=training)
        else:
            hidden = self(batch, training=training)
            per_example = self.objective(hidden, batch["labels"], batch["label_weights"], training=training)
        return per_example, self.pair_counts(batch["label_weights"]), hidden

    # ---- training -----------------------------------------------------------------------------
    def learning_rate(self) -> tf.Tensor:
        """The current word2vec learning rate (linear decay by corpus words read)."""
        return linear_decay(self.alpha, self.words_seen, self.total_words, MIN_ALPHA_RATIO)

    def compile(self, optimizer: keras.optimizers.Optimizer | str | None = None, **kwargs: Any) -> None:
        """Without ``optimizer``: word2vec's recipe (:class:`Word2VecSGD` on :meth:`learning_rate`);
        ``steps_per_execution`` defaults to :data:`DEFAULT_STEPS_PER_EXECUTION` on one replica, else 1.

        Also picks the training path (see ``fused`` in the class docstring) and sets :attr:`uses_fused_kernel`.
        """
        if optimizer is None:
            optimizer = Word2VecSGD(learning_rate=self.learning_rate,
                                    dense_row_counts=bool(kwargs.get("jit_compile", False)))
        optimizer = keras.optimizers.get(optimizer)  # a name such as "adam" becomes the optimizer it names
        kwargs.setdefault("jit_compile", False)
        one_replica = self.distribute_strategy.num_replicas_in_sync == 1
        kwargs.setdefault("steps_per_execution", DEFAULT_STEPS_PER_EXECUTION if one_replica else 1)
        self.uses_fused_kernel = self._choose_fused_kernel(optimizer, kwargs["jit_compile"])
        super().compile(optimizer=optimizer, **kwargs)

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
        if obstacle is None:
            try:
                kernels.library()
            except kernels.KernelUnavailable as e:
                obstacle = f"the kernel cannot be built here: {e}"
                if self.fused == "auto" and not pairs_required:
                    warnings.warn(f"tfw2v: {obstacle}; training on the generic TensorFlow path instead (several "
                                  "times slower). Install a C++ compiler (g++) or set CXX to use the fused kernel.",
                                  RuntimeWarning, stacklevel=3)
        if obstacle is None:
            self._kernel_options = self._fused_kernel_options()
            return True
        if pairs_required:
            raise ValueError(f"share_negatives='pair': only the fused kernel draws negatives per pair, and it "
                             f"cannot train this model ({obstacle}); use 'auto' or 'example'")
        if self.fused is True:
            raise ValueError(f"fused=True, but {obstacle}")
        return False

    def _fused_kernel_options(self) -> dict[str, Any]:
        """The objective's constants the kernel needs: NCE's biases and ``log(k·Pn)``, HS's Huffman paths."""
        objective = self.objective
        options: dict[str, Any] = {"architecture": self.architecture, "objective": self.loss_name}
        if self.loss_name == "nce":
            ids = tf.range(objective.vocab_size)
            options["output_bias"] = objective.output_biases
            options["logit_offset"] = objective.log_expected_count(ids, objective.negatives).numpy()
        if self.loss_name == "hs":
            options["huffman"] = (objective.tree.points, objective.tree.codes, objective.tree.lengths)
        elif objective.share_negatives in ("auto", "pair"):
            options["pair_noise"] = (objective.noise.threshold, objective.noise.alias, objective.negatives)
        return options

    def fit(self, x=None, y=None, *, epochs: int = 1, initial_epoch: int = 0, callbacks=None, verbose="auto",
            **kwargs: Any) -> keras.callbacks.History:
        """``keras.Model.fit``, with the schedule's horizon fixed at ``words_per_epoch · epochs``.

        The pipeline's epochs differ in length (subsampling is redrawn) and their length is unknown in
        advance; Keras would cut every later epoch to the first one's batch count. So a ``tf.data`` input of
        unknown cardinality is fitted one epoch per ``keras.Model.fit`` call, all sharing one set of
        callbacks that sees a single training run (one ``on_train_begin``, one ``on_train_end``).
        """
        self.total_words.assign(float(self.words_per_epoch) * epochs)
        kwargs.setdefault("shuffle", False)  # the pipeline's order is the corpus order, as in word2vec.c
        unknown_length = isinstance(x, tf.data.Dataset) and int(x.cardinality()) < 0
        if not unknown_length or kwargs.get("steps_per_epoch") is not None:
            return super().fit(x, y, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                               verbose=verbose, **kwargs)
        if verbose == "auto":
            verbose = 1
        run = _SingleRunCallbacks(callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose,
                                  epochs=epochs, model=self)
        for epoch in range(initial_epoch, epochs):
            run.last_epoch = epoch == epochs - 1
            with warnings.catch_warnings():  # the end of an epoch of unknown length is not an interruption
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                super().fit(x, y, epochs=epoch + 1, initial_epoch=epoch, callbacks=run, verbose=verbose, **kwargs)
            if self.stop_training:
                run.last_epoch = True
                run.on_train_end()
                break
        return self.history

    def train_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        step = self._fused_step if self.uses_fused_kernel else self._gradient_step
        per_example = step(batch)
        pairs = self.pair_counts(batch["label_weights"])
        words = tf.reduce_sum(tf.cast(batch["words"], tf.float64))
        # Every replica adds the global count; only the first replica's update is applied.
        self.words_seen.assign_add(tf.distribute.get_replica_context().all_reduce("sum", words))
        self.pair_loss.update_state(per_example, sample_weight=pairs)
        return {"loss": self.pair_loss.result(), "learning_rate": self.optimizer.learning_rate,
                "words": self.words_seen}

    def _gradient_step(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """The generic path: differentiate the batch loss and apply it with the optimizer."""
        with tf.GradientTape() as tape:
            per_example, pairs, hidden = self._pair_losses(batch, training=True)
            total = tf.reduce_sum(per_example * pairs)
        gradients = tape.gradient(total, self.trainable_variables)
        dense = any(g is not None and not isinstance(g, tf.IndexedSlices) for g in gradients)
        if dense and isinstance(self.optimizer, Word2VecSGD):  # decided while tracing: sparse steps skip the norm
            gradients = self.optimizer.cap_dense_gradients(gradients, tf.reduce_mean(tf.norm(hidden, axis=-1)))
        self.optimizer.apply(gradients, self.trainable_variables)
        return per_example

    def _fused_step(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """The fused path: the kernel applies the batch pair by pair, in place, at the optimizer's rate."""
        size = tf.shape(batch["inputs"])[0]
        seed = None
        if "pair_noise" in self._kernel_options:
            negatives, seed = tf.zeros([size, 0], tf.int32), self.objective.seed_generator.next()
        elif isinstance(self.objective, losses.SampledObjective):
            negatives = self.objective.sample_negatives(size)
            if negatives.shape.rank == 1:  # share_negatives="batch": every example gets the batch's samples
                negatives = tf.broadcast_to(negatives[None, :], [size, self.objective.negatives])
        else:
            negatives = tf.zeros([size, 0], tf.int32)
        per_example = kernels.sgd_step(self.input_embeddings, self.objective.output_embeddings, batch, negatives,
                                       self.optimizer.learning_rate, seed=seed, **self._kernel_options)
        self.optimizer.iterations.assign_add(1)
        return per_example

    def test_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        per_example, pairs, _ = self._pair_losses(batch, training=False)
        self.pair_loss.update_state(per_example, sample_weight=pairs)
        return {"loss": self.pair_loss.result()}

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.pair_loss]

    # ---- results ------------------------------------------------------------------------------
    @property
    def embeddings(self) -> np.ndarray:
        """The input embeddings ``[V, D]`` as numpy; row ``i`` is ``vocabulary.tokens[i]``."""
        return np.asarray(keras.ops.convert_to_numpy(self.input_embeddings))

    def word_vectors(self) -> WordVectors:
        vocab = self.vocabulary
        return WordVectors(vocab.tokens, self.embeddings, vocab.tokenizer, vocab.phrases)

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` nearest words by cosine, the query excluded, as ``(word, cosine)`` pairs."""
        return self.word_vectors().most_similar(word, k)

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)


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


class _SingleRunCallbacks(keras.callbacks.CallbackList):
    """Callbacks of one training run spread over several ``fit`` calls: begin once, end after the last."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.started = False
        self.ended = False
        self.last_epoch = False

    def on_train_begin(self, logs=None):
        if not self.started:
            self.started = True
            super().on_train_begin(logs)

    def on_train_end(self, logs=None):
        if self.last_epoch and not self.ended:
            self.ended = True
            super().on_train_end(logs)
