"""One training run made of several ``keras.Model.fit`` calls, and where in it a batch stands.

``Word2Vec.fit`` trains a streaming dataset one epoch per Keras ``fit`` call (the epochs differ in length), and a
resumed run starts inside an epoch. Two things keep that invisible to callbacks:

* :class:`SingleRunCallbacks` makes the calls one run: ``on_train_begin`` once, ``on_train_end`` after the
  last epoch, and ``params["epochs"]`` the run's epoch count in every call;
* :func:`epoch_step` is the one place that turns Keras's batch index into the step of the epoch:
  ``model.resumed_steps`` (batches of this epoch trained before this ``fit`` call) ``+ batch + 1``.
"""

from __future__ import annotations

from typing import Any

import keras


def epoch_step(model: Any, batch: int) -> int:
    """Batches of the current epoch done once Keras's batch ``batch`` of this ``fit`` call has trained
    (``batch=-1``: before its first batch, i.e. the steps a resumed epoch had already trained)."""
    return int(getattr(model, "resumed_steps", 0)) + int(batch) + 1


class SingleRunCallbacks(keras.callbacks.CallbackList):
    """Callbacks of one training run spread over several ``fit`` calls: begin once, end after the last.

    Args (besides ``CallbackList``'s):
      epochs: the run's epoch count, given to every callback as ``params["epochs"]`` (each ``fit`` call would
        say ``epoch + 1``).
    """

    def __init__(self, *args: Any, epochs: int, **kwargs: Any):
        self.run_epochs = int(epochs)  # before CallbackList.__init__, which calls set_params
        super().__init__(*args, epochs=epochs, **kwargs)
        self.started = False
        self.ended = False
        self.last_epoch = False

    def set_params(self, params):
        super().set_params({**(params or {}), "epochs": self.run_epochs})

    def on_train_begin(self, logs=None):
        if not self.started:
            self.started = True
            super().on_train_begin(logs)

    def on_train_end(self, logs=None):
        if self.last_epoch and not self.ended:
            self.ended = True
            super().on_train_end(logs)
