"""ParameterServerStrategy through Word2Vec.fit: a real in-process cluster of 2 workers and 2 parameter servers
on loopback gRPC ports, in a subprocess (a process whose eager context joined a cluster stays in it).

The script trains under the strategy with tables in two shards, then, in the same process, a single-process
reference on the same data, and writes what the tests below compare.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import bundled_slice

TIMEOUT_S = 300

SCRIPT = textwrap.dedent("""
    import json, os, socket, sys
    import keras
    import numpy as np
    import tensorflow as tf

    corpus, out = sys.argv[1], sys.argv[2]
    sockets = [socket.socket() for _ in range(4)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    spec = tf.train.ClusterSpec({"worker": ["127.0.0.1:%d" % p for p in ports[:2]],
                                 "ps": ["127.0.0.1:%d" % p for p in ports[2:]]})
    # Four servers share this process's inter-op pool: on 2 cores the default (2 threads) deadlocks.
    config = tf.compat.v1.ConfigProto(inter_op_parallelism_threads=8)
    servers = [tf.distribute.Server(spec, job_name=job, task_index=i, protocol="grpc", config=config)
               for job in ("worker", "ps") for i in range(2)]
    strategy = tf.distribute.ParameterServerStrategy(
        tf.distribute.cluster_resolver.SimpleClusterResolver(spec, rpc_layer="grpc"),
        variable_partitioner=tf.distribute.experimental.partitioners.FixedShardsPartitioner(2))

    from tfw2v import Vocabulary, Word2Vec, data
    from tfw2v.losses.tables import add_table, read_rows, shards
    from tfw2v.training.checkpointing import Checkpointer, epoch_seed
    from tfw2v.training.optimizer import Word2VecSGD
    from tfw2v.training.parameter_server import coordinator_of
    vocab = Vocabulary.build(corpus, min_count=5)
    results = {"vocab_size": len(vocab)}

    def dataset(epoch):
        return data.skipgram_dataset(corpus, vocab, batch_size=128, seed=epoch_seed(3, epoch))

    def train(name, loss, steps_per_execution, distributed, epochs=2):
        with strategy.scope() if distributed else tf.name_scope(name):
            model = Word2Vec(vocab, dim=16, loss=loss, seed=1, fused=False)
            model.compile(steps_per_execution=steps_per_execution)
        history = model.fit(dataset, epochs=epochs, verbose=0).history
        np.save(os.path.join(out, name + "_input.npy"), model.embeddings)
        np.save(os.path.join(out, name + "_output.npy"), model.objective.output_embeddings.numpy())
        results[name] = {"loss": history["loss"], "words": float(model.words_seen.numpy()),
                         "shards": [[getattr(v, "device", ""), list(v.shape)] for v in shards(model.input_embeddings)]}
        return model

    for loss, epochs in (("hs", 2), ("ns", 1)):
        # Joined one step at a time: the same steps in the same order as one process. (ns over one epoch:
        # Keras's single-process fit ends each epoch with one more call into the train step, which draws the
        # next negative-sampling seed on an empty batch, so later epochs draw shifted seeds.)
        train("joined_" + loss, loss, 1, True, epochs)
        train("reference_" + loss, loss, 1, False, epochs)
    train("reference_ns2", "ns", 1, False)

    # Asynchronous: windows of 16 steps, both workers training at once.
    model = train("async", "ns", 16, True)
    Checkpointer(model, os.path.join(out, "ckpt")).save(2, 0)
    with tf.name_scope("restored"):
        restored = Word2Vec(vocab, dim=16, loss="ns", seed=7, fused=False)
        restored.compile()
    position = Checkpointer(restored, os.path.join(out, "ckpt")).restore()
    results["restored"] = {"position": list(position), "words": float(restored.words_seen.numpy()),
                           "sharded": len(shards(restored.input_embeddings))}
    model.save(os.path.join(out, "async.keras"))
    loaded = Word2Vec.load(os.path.join(out, "async.keras"))
    np.save(os.path.join(out, "loaded_input.npy"), loaded.embeddings)
    np.save(os.path.join(out, "loaded_output.npy"), loaded.objective.output_embeddings.numpy())
    results["loaded"] = {"words": float(loaded.words_seen.numpy())}
    np.save(os.path.join(out, "restored_input.npy"), restored.embeddings)
    np.save(os.path.join(out, "restored_output.npy"), restored.objective.output_embeddings.numpy())

    # A linear loss, L = sum of the rows read: each occurrence of row r moves it by exactly -lr per element.
    class Linear(keras.Model):
        def __init__(self):
            super().__init__()
            self.table = add_table(self, "table", (1000, 4), keras.initializers.Zeros())

        def train_step(self, ids):
            variables = shards(self.table)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(read_rows(self.table, ids))
            self.optimizer.apply(tape.gradient(loss, variables), variables)
            return loss

    with strategy.scope():
        linear = Linear()
        linear.compile(optimizer=Word2VecSGD(learning_rate=1.0))
        linear.optimizer.build(shards(linear.table))
    rng = np.random.default_rng(0)
    # Row 0 in every example: both workers update it at once, all the time.
    batches = [np.concatenate([rng.integers(0, 1000, (16, 2)), np.zeros((16, 1), int)], axis=1).astype("int32")
               for _ in range(300)]
    coordinator = coordinator_of(strategy)
    step = tf.function(lambda ids: strategy.run(linear.train_step, args=(ids,)))
    for ids in batches:
        coordinator.schedule(step, args=(tf.constant(ids),))
    coordinator.join()
    counts = np.bincount(np.concatenate([b.ravel() for b in batches]), minlength=1000)
    table = np.concatenate([part.numpy() for part in shards(linear.table)])
    repeats = max(np.bincount(b.ravel(), minlength=1000).max() for b in batches)
    results["linear"] = {"lost": float(np.abs(table + counts[:, None]).max()), "max_repeats": int(repeats),
                         "shards": len(shards(linear.table))}
    json.dump(results, open(os.path.join(out, "results.json"), "w"))
""")


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pss")
    corpus = bundled_slice(out, 20_000)
    script = out / "script.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script), corpus, str(out)], capture_output=True, text=True,
                            timeout=TIMEOUT_S, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-4000:]
    results = json.load(open(out / "results.json"))
    tables = {name: {table: np.load(out / f"{name}_{table}.npy") for table in ("input", "output")}
              for name in results if (out / f"{name}_input.npy").exists()}
    return results, tables


@pytest.mark.parametrize("loss", ["hs", "ns"])
def test_steps_joined_one_by_one_equal_a_single_process_run(cluster_run, loss):
    results, tables = cluster_run
    joined, reference = f"joined_{loss}", f"reference_{loss}"
    for table in ("input", "output"):
        assert tables[joined][table].tobytes() == tables[reference][table].tobytes()
    assert results[joined]["loss"] == results[reference]["loss"]
    assert results[joined]["words"] == results[reference]["words"]


def test_tables_are_sharded_across_both_parameter_servers(cluster_run):
    results, _ = cluster_run
    devices = [device for device, _ in results["joined_ns"]["shards"]]
    assert sorted(device.split("/device:")[0] for device in devices) == ["/job:ps/replica:0/task:0",
                                                                          "/job:ps/replica:0/task:1"]
    rows = [shape[0] for _, shape in results["joined_ns"]["shards"]]
    assert sum(rows) == results["vocab_size"] and abs(rows[0] - rows[1]) <= 1


def test_asynchronous_workers_read_every_word_once_and_learn(cluster_run):
    results, _ = cluster_run
    assert results["async"]["words"] == pytest.approx(results["reference_ns2"]["words"], rel=1e-9)
    # Hogwild between workers changes the order of updates, not how far training gets: within 5% of the
    # single-process loss after 2 epochs, and lower than after 1.
    final, reference = results["async"]["loss"][-1], results["reference_ns2"]["loss"][-1]
    assert results["async"]["loss"][1] < results["async"]["loss"][0]
    assert abs(final - reference) < 0.05 * reference


def test_a_sharded_checkpoint_restores_into_an_unsharded_model(cluster_run):
    results, tables = cluster_run
    assert results["restored"]["sharded"] == 1 and results["restored"]["position"] == [2, 0]
    assert results["restored"]["words"] == results["async"]["words"]
    for table in ("input", "output"):
        assert tables["restored"][table].tobytes() == tables["async"][table].tobytes()


def test_a_sharded_model_saves_a_keras_file_with_whole_tables(cluster_run):
    results, tables = cluster_run
    assert results["loaded"]["words"] == results["async"]["words"]
    for table in ("input", "output"):
        assert tables["loaded"][table].tobytes() == tables["async"][table].tobytes()


def test_with_a_linear_loss_every_sparse_update_lands_exactly_once(cluster_run):
    """300 steps scheduled at once on 2 workers, each adding -1 to the rows it reads (no row more often in a
    batch than Word2VecSGD's repeat cap, so no averaging): the table is exactly minus the read counts."""
    results, _ = cluster_run
    assert results["linear"]["shards"] == 2 and results["linear"]["max_repeats"] <= 32
    assert results["linear"]["lost"] == 0.0
