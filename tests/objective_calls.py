"""Calling an objective with one input vector per example, the soft-target use of its one signature.

``objective(hidden [B, P, D], labels [B, T], pair_weights [B, P, T])`` with ``P = 1``: ``hidden [B, D]`` scored
against each example's ``T`` labels with weights ``[B, T]``. Most loss tests state their formulas in this form.
"""

import tensorflow as tf


def one_input(objective, hidden: tf.Tensor, labels: tf.Tensor, weights: tf.Tensor, **kwargs) -> tf.Tensor:
    """``objective(hidden[:, None], labels, weights[:, None], **kwargs)``: the ``[B]`` losses
    ``L_b = Σ_t w_bt · ℓ(h_b, y_bt)``."""
    return objective(hidden[:, None, :], labels, tf.convert_to_tensor(weights)[:, None, :], **kwargs)
