"""Counters that several workers add to at once: the words read, the loss sums, the kernel's step count.

Keras's ``Variable.assign_add`` reads the variable, adds and assigns (``self.assign(self + value)``). Under a
``ParameterServerStrategy`` two workers' steps run at the same time against the same variable on its
parameter server, and one of two concurrent adds is then lost: 200 closures of 20 adds each on two workers
left a Keras variable at 2,221 instead of 4,000, and the ``tf.Variable`` behind it at 4,000. So these counters
are added to with one ``AssignAddVariableOp`` on the variable behind the Keras variable, which the parameter
server applies under the variable's lock. (The optimizer's own step counter stays Keras's: under that strategy
it may count fewer steps than were trained; nothing but checkpoint numbers reads it.)
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


def add_to(variable: Any, delta: tf.Tensor) -> Any:
    """``variable += delta`` as one atomic add on the variable behind ``variable`` (a ``keras.Variable`` or a TF
    variable, mirrored or not)."""
    target = variable.value if isinstance(variable, keras.Variable) else variable
    return target.assign_add(tf.cast(delta, target.dtype))


class PairLoss(keras.metrics.Mean):
    """The mean loss per pair, ``Σ batch losses / Σ pairs`` (a ``Mean`` named ``loss``, in float64), its two
    sums kept with :func:`add_to`."""

    def __init__(self):
        super().__init__(name="loss", dtype="float64")

    def update_state(self, batch_loss: tf.Tensor, pairs: tf.Tensor) -> None:
        add_to(self.total, batch_loss)
        add_to(self.count, pairs)
