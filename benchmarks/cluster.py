"""Training on a loopback cluster, against one process on the same machine; and a 2M-row vocabulary under
ParameterServerStrategy, with every process's peak RSS.

    python -m benchmarks.cluster --words 1500000          # words/s and bytes per step (about 3 minutes)
    python -m benchmarks.cluster --large-vocabulary       # 2M x 100 tables on 2 parameter servers

Words/s: one epoch of skip-gram NS (dim 100, batch 1024, the bundled corpus unless --corpus) in one process
(the generic path and the fused kernel), as 2 MultiWorkerMirroredStrategy workers, and as a
ParameterServerStrategy cluster (chief + 2 workers + 2 ps). Every process runs on the same 2 cores, so this
measures overhead, not scaling. Bytes per step are measured on the loopback interface (``/proc/net/dev``, both
directions, everything the run sent) and divided by the steps.

Run it alone: it saturates the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "tfw2v" / "resources" / "enwiki-text8style-1.5M.txt.gz"

TRAIN = r'''
import json, resource, sys, time
strategy_name, corpus, out, fused = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
from tfw2v.training.cluster import make_strategy
strategy = make_strategy(strategy_name)
import tensorflow as tf
from tfw2v import Vocabulary, Word2Vec, data
vocab = Vocabulary.build(corpus, min_count=5)
with strategy.scope() if strategy is not None else tf.name_scope("single"):
    model = Word2Vec(vocab, dim=100, loss="ns", seed=1, fused="auto" if fused else False)
    model.compile(steps_per_execution=32 if strategy_name == "parameter_server" else 1)
dataset = data.skipgram_dataset(corpus, vocab, batch_size=1024, seed=1)
started = time.perf_counter()
model.fit(dataset, epochs=1, verbose=0)
elapsed = time.perf_counter() - started
json.dump({"seconds": elapsed, "words": float(model.words_seen.numpy()), "fused": model.uses_fused_kernel,
           "steps": int(model.optimizer.iterations.numpy()), "vocab": len(vocab),
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, open(out, "w"))
'''

LARGE = r'''
import json, resource, sys, time
import numpy as np
corpus, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
from tfw2v.training.cluster import make_strategy
strategy = make_strategy("parameter_server", 2)
from tfw2v import Vocabulary, Word2Vec, data
from tfw2v.losses.tables import shards
tokens = ["w%d" % i for i in range(rows)]
vocab = Vocabulary(tokens, np.arange(rows, 0, -1) + 5)  # distinct counts: the order is the ids' order
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = rss()
with strategy.scope():
    model = Word2Vec(vocab, dim=100, loss="ns", seed=1)
    model.compile(steps_per_execution=8)
built = rss()
started = time.perf_counter()
model.fit(data.skipgram_dataset(corpus, vocab, batch_size=1024, seed=1, sample=0), epochs=1, verbose=0)
json.dump({"seconds": time.perf_counter() - started, "words": float(model.words_seen.numpy()),
           "shards": [list(v.shape) for v in shards(model.input_embeddings)],
           "chief_rss_before_model_mib": before, "chief_rss_after_model_mib": built,
           "chief_peak_rss_mib": rss()}, open(out, "w"))
'''


def free_ports(n: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def loopback_bytes() -> int:
    """Bytes received plus sent on ``lo`` so far."""
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            fields = counters.split()
            return int(fields[0]) + int(fields[8])
    raise RuntimeError("no loopback interface in /proc/net/dev")


def memory_mib(pid: int, field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def environment(cluster: dict | None, task: str | None = None, index: int = 0) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    if cluster is not None:
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": task, "index": index}})
    return env


def start_servers(cluster: dict) -> list[tuple[str, subprocess.Popen]]:
    servers = []
    for task in ("ps", "worker"):
        for index in range(len(cluster.get(task, []))):
            servers.append((f"{task}{index}", subprocess.Popen(
                [sys.executable, "-m", "tfw2v.cli", "server"], env=environment(cluster, task, index),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    time.sleep(8)  # TensorFlow's import and the servers' start
    return servers


def stop(servers) -> None:
    for _, process in servers:
        process.kill()
        process.wait()


def run_script(script: str, args: list[str], env: dict, out: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                            timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(out.read_text())


def throughput(corpus: str, scratch: Path) -> dict:
    rows = {}
    for name, fused in (("one process, generic path", False), ("one process, fused kernel", True)):
        out = scratch / "single.json"
        traffic = loopback_bytes()
        rows[name] = run_script(TRAIN, ["none", corpus, str(out), "1" if fused else "0"], environment(None), out)
        rows[name]["loopback_bytes"] = loopback_bytes() - traffic

    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    outs = [scratch / f"worker{i}.json" for i in range(2)]
    traffic = loopback_bytes()
    workers = [subprocess.Popen([sys.executable, "-c", TRAIN, "multi_worker", corpus, str(outs[i]), "0"],
                                env=environment(cluster, "worker", i), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for i in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=3600)
        if worker.returncode != 0:
            raise RuntimeError(err[-3000:])
    rows["2 MWMS workers"] = json.loads(outs[0].read_text())
    rows["2 MWMS workers"]["loopback_bytes"] = loopback_bytes() - traffic

    ports = free_ports(5)
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"], "worker": [f"127.0.0.1:{p}" for p in ports[1:3]],
               "ps": [f"127.0.0.1:{p}" for p in ports[3:]]}
    servers = start_servers(cluster)
    try:
        out = scratch / "chief.json"
        traffic = loopback_bytes()
        rows["PSS: 2 workers, 2 ps"] = run_script(TRAIN, ["parameter_server", corpus, str(out), "0"],
                                                  environment(cluster, "chief"), out)
        rows["PSS: 2 workers, 2 ps"]["loopback_bytes"] = loopback_bytes() - traffic
    finally:
        stop(servers)
    for row in rows.values():
        row["words_per_sec"] = row["words"] / row["seconds"]
        row["loopback_bytes_per_step"] = row["loopback_bytes"] / max(row["steps"], 1)
    return rows


def large_vocabulary(rows: int, words: int, scratch: Path) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    ids = np.minimum(rng.zipf(1.1, size=words) - 1, rows - 1)
    corpus = scratch / "large.txt"
    with open(corpus, "w") as f:
        for start in range(0, words, 1000):
            f.write(" ".join(f"w{i}" for i in ids[start:start + 1000]) + "\n")
    ports = free_ports(4)
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"], "worker": [f"127.0.0.1:{ports[1]}"],
               "ps": [f"127.0.0.1:{p}" for p in ports[2:]]}
    servers = start_servers(cluster)
    try:
        baseline = {name: memory_mib(process.pid, "VmRSS") for name, process in servers}
        out = scratch / "large.json"
        result = run_script(LARGE, [str(corpus), str(out), str(rows)], environment(cluster, "chief"), out)
        peaks = {name: memory_mib(process.pid, "VmHWM") for name, process in servers}
    finally:
        stop(servers)
    result["table_mib"] = rows * 100 * 4 / 2**20
    result["servers"] = {name: {"rss_at_start_mib": baseline[name], "peak_rss_mib": peaks[name],
                                "growth_mib": peaks[name] - baseline[name]} for name in baseline}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(BUNDLED))
    parser.add_argument("--large-vocabulary", action="store_true")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--large-words", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.large_vocabulary:
            result = large_vocabulary(args.rows, args.large_words, Path(tmp))
            name = "cluster_large_vocabulary.json"
        else:
            result = throughput(args.corpus, Path(tmp))
            name = "cluster_throughput.json"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
