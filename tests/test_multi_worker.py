"""MultiWorkerMirroredStrategy through Word2Vec.fit: two real worker processes on loopback ports.

Every worker runs the same user code (model built under ``strategy.scope()``, ``model.fit`` given the pipeline's
dataset); tfw2v gives each worker its own share of the stream. The single-process reference trains, with the
ordinary ``Word2Vec.fit``, on the global batches the two workers train together: batch ``s`` of worker 0's
share followed by batch ``s`` of worker 1's.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import bundled_slice, free_ports

TIMEOUT_S = 300
GLOBAL_BATCH = 256

COMMON = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    from tfw2v import Vocabulary, Word2Vec, data
    corpus, out, loss = sys.argv[1], sys.argv[2], sys.argv[3]
    vocab = Vocabulary.build(corpus, min_count=5)

    def build(**options):
        model = Word2Vec(vocab, dim=16, loss=loss, seed=1, **options)
        model.compile()
        return model

    def dataset():
        return data.skipgram_dataset(corpus, vocab, batch_size=%d, seed=3)

    def save(name, model, history):
        np.save(os.path.join(out, name + "_input.npy"), model.embeddings)
        np.save(os.path.join(out, name + "_output.npy"), model.objective.output_embeddings.numpy())
        json.dump({"loss": history["loss"], "words": float(model.words_seen.numpy()),
                   "steps": int(model.optimizer.iterations.numpy()), "fused": model.uses_fused_kernel},
                  open(os.path.join(out, name + ".json"), "w"))
""" % GLOBAL_BATCH)

WORKER = textwrap.dedent("""
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other TensorFlow op, as TF requires
""") + COMMON + textwrap.dedent("""
    with strategy.scope():
        model = build()
    history = model.fit(dataset(), epochs=2, verbose=0).history
    save("worker%d" % json.loads(os.environ["TF_CONFIG"])["task"]["index"], model, history)
""")

REFERENCE = COMMON + textwrap.dedent("""
    pipeline = dataset()
    shares = [data.worker_shard(pipeline, 2, worker) for worker in range(2)]

    def global_batches(epoch):  # each epoch a new iteration of the same shares, as each worker's epochs are
        iterators = [share.as_numpy_iterator() for share in shares]
        while True:
            parts = [batch for batch in (next(it, None) for it in iterators) if batch is not None]
            if not parts:
                return
            yield {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    spec = pipeline.element_spec
    model = build(fused=False)  # the path the workers train on
    history = model.fit(lambda epoch: tf.data.Dataset.from_generator(lambda: global_batches(epoch),
                                                                     output_signature=spec),
                        epochs=2, verbose=0).history
    save("reference", model, history)
""")


def run_workers(script, corpus, out, loss):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(subprocess.Popen([sys.executable, str(script), corpus, str(out), loss],
                                        env={**env, "TF_CONFIG": config}, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    try:
        results = [worker.communicate(timeout=TIMEOUT_S) for worker in workers]
    finally:
        for worker in workers:  # a worker whose peer failed waits for it: never leave one behind
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (_, stderr) in zip(workers, results):
        assert worker.returncode == 0, stderr[-3000:]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return bundled_slice(tmp_path_factory.mktemp("corpus"), 30_000)


@pytest.mark.parametrize("loss", ["hs", "ns"])
def test_two_workers_end_bitwise_equal_and_equal_to_one_process_on_the_same_global_batches(corpus, tmp_path, loss):
    """hs draws no noise: the two workers' tables equal the single-process run bit for bit. ns draws each
    worker's negatives from its own seed (no process can draw both), so there the workers equal each other
    and the run trains as far as one process does."""
    worker_script, reference_script = tmp_path / "worker.py", tmp_path / "reference.py"
    worker_script.write_text(WORKER)
    reference_script.write_text(REFERENCE)
    run_workers(worker_script, corpus, tmp_path, loss)
    reference = subprocess.run([sys.executable, str(reference_script), corpus, str(tmp_path), loss],
                               capture_output=True, text=True, timeout=TIMEOUT_S,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert reference.returncode == 0, reference.stderr[-3000:]

    logs = {name: json.load(open(tmp_path / f"{name}.json")) for name in ("worker0", "worker1", "reference")}
    tables = {(name, table): np.load(tmp_path / f"{name}_{table}.npy")
              for name in logs for table in ("input", "output")}
    assert not logs["worker0"]["fused"] and logs["reference"]["steps"] == logs["worker0"]["steps"]
    for table in ("input", "output"):
        assert tables[("worker0", table)].tobytes() == tables[("worker1", table)].tobytes()
    assert logs["worker0"]["loss"] == logs["worker1"]["loss"]
    # words are counted once, globally: both workers saw the corpus twice between them
    assert logs["worker0"]["words"] == pytest.approx(logs["reference"]["words"], rel=1e-6)
    if loss == "hs":
        for table in ("input", "output"):
            assert tables[("worker0", table)].tobytes() == tables[("reference", table)].tobytes()
        np.testing.assert_allclose(logs["worker0"]["loss"], logs["reference"]["loss"], rtol=1e-5)
    else:
        final = np.array([logs["worker0"]["loss"][-1], logs["reference"]["loss"][-1]])
        assert logs["worker0"]["loss"][1] < logs["worker0"]["loss"][0]
        assert abs(final[0] - final[1]) < 0.05 * final[1]
