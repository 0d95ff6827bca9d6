"""Tables sharded by a ParameterServerStrategy, without a cluster: a ShardedVariable built from local shards.

These pin what tfw2v.losses.tables promises: rows read in id order, SGD on the shards equal to SGD on the
whole table, each shard initialised to its rows of the whole table, and no table read outside read_rows.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfw2v.losses.tables import ShardedVariable, _rows_of_initial_value, read_rows, shards, table_values
from tfw2v.training.optimizer import Word2VecSGD

V, D = 11, 4


def sharded_table(values: np.ndarray, sizes=(6, 5)) -> keras.Variable:
    """A keras.Variable around a ShardedVariable of contiguous row blocks (PSS's "div" layout)."""
    parts, start = [], 0
    for size in sizes:
        parts.append(tf.Variable(values[start:start + size]))
        start += size
    variable = keras.Variable(initializer=np.zeros_like(values), name="table")
    variable._value = ShardedVariable(parts)  # what it holds when PSS's variable creator returns a ShardedVariable
    return variable


@pytest.fixture
def values() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(V, D)).astype(np.float32)


def test_tf_gather_groups_rows_by_shard_read_rows_keeps_the_order(values):
    table = sharded_table(values)
    ids = tf.constant([[10, 0, 6], [1, 7, 3]])
    grouped = tf.function(lambda: tf.gather(table.value, tf.reshape(ids, [-1])))().numpy()
    assert not np.array_equal(grouped, values[ids.numpy().ravel()])  # the trap read_rows avoids
    np.testing.assert_array_equal(tf.function(lambda: read_rows(table, ids))().numpy(), values[ids.numpy()])
    np.testing.assert_array_equal(table_values(table), values)


def test_sgd_on_the_shards_equals_sgd_on_the_whole_table(values):
    ids = tf.constant([[10, 0, 6, 0], [1, 7, 3, 10]])
    upstream = tf.constant(np.random.default_rng(1).normal(size=(2, 4, D)).astype(np.float32))
    whole = keras.Variable(values, name="whole")
    table = sharded_table(values)
    for variable in (whole, table):
        optimizer = Word2VecSGD(learning_rate=0.1)
        parts = shards(variable)
        optimizer.build(parts)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(read_rows(variable, ids) * upstream)
        gradients = tape.gradient(loss, parts)
        assert all(isinstance(g, tf.IndexedSlices) for g in gradients)
        optimizer.apply(gradients, parts)
    assert len(shards(table)) == 2 and len(shards(whole)) == 1
    assert table_values(table).tobytes() == table_values(whole).tobytes()


@pytest.mark.parametrize("start, rows", [(0, 6), (6, 5), (3, 1), (1, 9)])
def test_a_shard_of_the_partition_aware_initializer_is_a_slice_of_the_whole_table(start, rows):
    initializer = keras.initializers.RandomUniform(-0.5 / D, 0.5 / D, seed=7)
    whole = initializer((V, D), dtype="float32").numpy()
    part = _rows_of_initial_value(initializer, (V, D), tf.float32, (rows, D), start).numpy()
    assert part.tobytes() == whole[start:start + rows].tobytes()
    zeros = _rows_of_initial_value(keras.initializers.Zeros(), (V, D), tf.float32, (rows, D), start)
    assert zeros.shape == (rows, D) and not np.any(zeros.numpy())


TABLES = ("input_embeddings", "output_embeddings", "output_biases", "value")


def test_no_training_code_reads_a_table_with_tf_gather_except_read_rows():
    """``tf.gather`` on a sharded table returns the rows grouped by shard. Every table read of the training
    code (the losses and the model) goes through ``read_rows``, which alone gathers, and only unsharded."""
    import ast
    from pathlib import Path

    import tfw2v

    package = Path(tfw2v.__file__).parent
    offenders = []
    for path in [*sorted((package / "losses").glob("*.py")), package / "training" / "model.py"]:
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef) or function.name == "read_rows":
                continue
            for call in ast.walk(function):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in ("gather", "gather_nd") and call.args
                        and isinstance(call.args[0], ast.Attribute) and call.args[0].attr in TABLES):
                    offenders.append(f"{path.name}:{call.lineno} in {function.name}")
    assert not offenders, offenders
