"""The word tables (embeddings and per-word biases) wherever they live: read, updated, created, as numpy.

Under a ``ParameterServerStrategy`` with a ``variable_partitioner`` a table is a ``ShardedVariable`` of row
blocks on the parameter servers. Everything that touches a table row by row goes through here, so that the
same code trains with or without shards: rows are read with :func:`read_rows` (never ``tf.gather`` on a sharded
table, which returns the rows grouped by shard), gradients are taken for :func:`shards`, and each shard is
initialised on its own server (:func:`add_table`).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

ShardedVariable = tf.__internal__.distribute.ShardedVariable


def read_rows(table: keras.Variable, ids: tf.Tensor) -> tf.Tensor:
    """``table[ids]`` read sparsely: a ``ResourceGather`` of just those rows, never a read of the whole table.

    ``tf.gather`` on a Keras variable first converts it to a dense tensor (a read of all ``V`` rows); while
    that read is alive, the step's sparse update must copy the whole table. Gathering through the underlying
    ``tf.Variable`` reads only the rows, so a step's cost does not grow with the vocabulary.

    A table sharded by a ``ParameterServerStrategy`` (a ``ShardedVariable``) is read with
    ``tf.nn.embedding_lookup`` on the flattened ids: ``tf.gather`` on it returns the rows grouped by shard
    (``ShardedVariable.sparse_read``), not in the order of ``ids``, and refuses ids of rank > 1. The lookup
    reads each shard's rows on its parameter server (``"div"`` partitioning, as the shards are laid out).
    """
    value = table.value
    if isinstance(value, ShardedVariable):
        flat = tf.nn.embedding_lookup(value, tf.reshape(ids, [-1]))
        rows = tf.reshape(flat, tf.concat([tf.shape(ids), tf.shape(flat)[1:]], axis=0))
        rows.set_shape(ids.shape.concatenate(value.shape[1:]))
        return rows
    return tf.gather(value, ids)


def sharded(variable: Any) -> ShardedVariable | None:
    """The ``ShardedVariable`` behind ``variable`` (a ``keras.Variable`` or a TF variable) if a
    ``ParameterServerStrategy`` sharded it, else ``None``."""
    value = variable.value if isinstance(variable, keras.Variable) else variable
    return value if isinstance(value, ShardedVariable) else None


def shards(variable: Any) -> list[Any]:
    """The variables that hold ``variable``: its shards if a ``ParameterServerStrategy`` sharded it, else
    ``[variable]``."""
    whole = sharded(variable)
    return [variable] if whole is None else list(whole.variables)


def any_sharded(variables: list[Any]) -> bool:
    """Whether a ``ParameterServerStrategy`` sharded any of ``variables``."""
    return any(sharded(variable) is not None for variable in variables)


def table_values(table: keras.Variable) -> np.ndarray:
    """A table as numpy, its shards concatenated if it is sharded (``keras.ops.convert_to_numpy`` fails on a
    ``ShardedVariable``)."""
    parts = shards(table)
    if len(parts) == 1:
        return np.asarray(keras.ops.convert_to_numpy(table))
    return np.concatenate([part.numpy() for part in parts])


def add_table(layer: keras.layers.Layer, name: str, shape: tuple[int, ...],
              initializer: keras.initializers.Initializer) -> keras.Variable:
    """``layer.add_weight`` for an embedding table or a per-word bias (rows = words).

    Under a ``ParameterServerStrategy`` whose ``variable_partitioner`` shards the table, each shard is
    initialised on its own (PSS passes ``partition_shape`` / ``partition_offset`` to a callable initial
    value) to the same values as rows ``[offset, offset + rows)`` of the unsharded table. ``add_weight``
    alone hands PSS a Keras lambda of no arguments with no shape, so PSS builds the whole ``[V, D]`` table on
    the coordinator and slices it. Anywhere else this is ``add_weight``.
    """
    if not isinstance(tf.distribute.get_strategy(), tf.distribute.ParameterServerStrategy):
        return layer.add_weight(shape=shape, initializer=initializer, name=name)

    def partition_aware_creator(next_creator, **kwargs):
        dtype = tf.as_dtype(kwargs.get("dtype") or keras.backend.floatx())

        def initial_value(partition_shape=None, partition_offset=None):
            if partition_shape is None:
                return initializer(shape, dtype=dtype)
            return _rows_of_initial_value(initializer, shape, dtype, partition_shape, partition_offset[0])

        kwargs.update(initial_value=initial_value, shape=shape, dtype=dtype)
        return next_creator(**kwargs)

    with tf.variable_creator_scope(partition_aware_creator):
        return layer.add_weight(shape=shape, initializer=initializer, name=name)


def _rows_of_initial_value(initializer, shape, dtype, partition_shape, start: int) -> tf.Tensor:
    """Rows ``[start, start + partition_shape[0])`` of ``initializer(shape)``, computed without the other rows
    for the initializers tfw2v uses (zeros; ``RandomUniform`` with an integer seed); any other is built whole
    and sliced."""
    partition_shape = tuple(int(d) for d in partition_shape)
    if isinstance(initializer, (keras.initializers.Zeros, keras.initializers.Constant)):
        return initializer(partition_shape, dtype=dtype)
    if isinstance(initializer, keras.initializers.RandomUniform) and isinstance(initializer.seed, int):
        first = start * int(np.prod(shape[1:], dtype=np.int64))
        size = int(np.prod(partition_shape, dtype=np.int64))
        return _uniform_slice(initializer.seed, first, size, partition_shape, float(initializer.minval),
                              float(initializer.maxval), dtype)
    return initializer(shape, dtype=dtype)[start:start + partition_shape[0]]


@tf.function
def _uniform_slice(seed: int, first: int, size: int, partition_shape, minval: float, maxval: float,
                   dtype) -> tf.Tensor:
    """Elements ``[first, first + size)`` of ``keras.random.uniform`` with ``seed``, as ``partition_shape``.

    ``keras.random.uniform(shape, seed=s)`` is ``tf.random.stateless_uniform(seed=[s, 0])`` (Keras's seed
    cast): one Philox stream over the row-major elements, 4 per counter step, so a slice of rows is the same
    stream started ``first // 4`` counter steps on. Traced as a graph so that the scaling reuses the random
    buffer (eager ops would each hold a copy of the shard: 2.2× its size at the peak on a parameter server).
    """
    seed = tf.cast(tf.math.floormod(tf.constant([seed, 0], tf.int64), 2**31 - 2), tf.int32)
    key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
    counter += tf.constant([first // 4, 0], tf.uint64)
    skip = first % 4
    uniform = tf.raw_ops.StatelessRandomUniformV2(shape=[size + skip], key=key, counter=counter,
                                                  alg=tf.raw_ops.StatelessRandomGetAlg(), dtype=dtype)
    if skip:
        uniform = uniform[skip:]
    return tf.reshape(uniform * (maxval - minval) + minval, partition_shape)
