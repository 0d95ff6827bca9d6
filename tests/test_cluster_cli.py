"""``tfw2v train --strategy multi_worker | parameter_server`` and ``tfw2v server``: real processes on loopback
ports, each role given its ``TF_CONFIG``, everything started stopped at the end (timeouts throughout)."""

import contextlib
import json
import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from conftest import free_ports
from test_cli import tfw2v_command

TIMEOUT_S = 300
# The Lee corpus (59,890 words), 2 epochs, no evaluation sets: what a cluster run must do, quickly.
OPTIONS = ["--epochs", "2", "--dim", "16", "--batch-size", "256", "--seed", "7", "--analogies", "none",
           "--similarity", "none", "--probe", "police", "--neighbors", "3", "--export", "word2vec,saved_model"]
CHANCE_LOSS = 6 * 0.6931  # ns with 5 negatives, all scores 0: (1 + 5) · ln 2 per pair


class Processes:
    """Processes of one cluster: started with their role's TF_CONFIG, all killed on exit."""

    def __init__(self, cluster: dict, tmp: Path):
        self.cluster = cluster
        self.tmp = tmp
        self.started: list[subprocess.Popen] = []

    def start(self, task_type: str, index: int, *args: str) -> subprocess.Popen:
        config = json.dumps({"cluster": self.cluster, "task": {"type": task_type, "index": index}})
        env = {**os.environ, "TF_CONFIG": config, "TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(self.tmp)}
        process = subprocess.Popen([*tfw2v_command(), *args], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.communicate()


@contextlib.contextmanager
def cluster_processes(cluster: dict, tmp: Path):
    processes = Processes(cluster, tmp)
    try:
        yield processes
    finally:
        processes.kill_all()


def finished(process: subprocess.Popen) -> tuple[str, str]:
    out, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, (out + err)[-4000:]
    return out, err


def assert_trained_and_exported(run: Path, strategy: str, words_lost: float = 0.0) -> dict:
    """The run is complete, exported, learnt, and read the corpus twice (less at most ``words_lost`` of it)."""
    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "complete" and status["fused_kernel"] is False
    assert 2 * 59_890 * (1 - words_lost) - 1 <= status["words_seen"] <= 2 * 59_890 + 1  # counted once, globally
    recipe = tomllib.loads((run / "recipe.toml").read_text())
    assert recipe["training"]["strategy"] == strategy
    assert (run / "export/vectors.txt").is_file() and list((run / "export/saved_model/1").glob("saved_model.pb"))
    assert (run / "model.keras").is_file()
    history = json.loads((run / "history.json").read_text())
    losses = [entry["loss"] for entry in history]
    # It learns: the loss falls epoch on epoch, well below the loss of untrained vectors.
    assert losses[1] < losses[0] and losses[1] < 0.75 * CHANCE_LOSS, losses
    return recipe


def test_multi_worker_cli_trains_resumes_after_the_workers_die_and_only_the_chief_writes(tmp_path, lee_path):
    run, scratch = tmp_path / "run", tmp_path / "tmp"
    scratch.mkdir()
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    command = ["train", str(lee_path), *OPTIONS, "--strategy", "multi_worker", "--checkpoint-every", "20",
               "--out", str(run)]
    with cluster_processes(cluster, scratch) as processes:
        workers = [processes.start("worker", index, *command) for index in range(2)]
        deadline = time.monotonic() + TIMEOUT_S
        while not list((run / "checkpoints").glob("ckpt-*.index")) and time.monotonic() < deadline:
            assert all(worker.poll() is None for worker in workers), "a worker ended before its first checkpoint"
            time.sleep(0.2)
        workers[1].send_signal(signal.SIGKILL)  # a worker dies; its peer cannot go on without it
        processes.kill_all()
        assert json.loads((run / "run.json").read_text())["status"] == "training"

        # The same commands on both workers resume from the chief's last checkpoint and finish.
        processes.tmp = rerun_scratch = tmp_path / "tmp-rerun"  # SIGKILL left the first scratch copy behind
        rerun_scratch.mkdir()
        workers = [processes.start("worker", index, *command) for index in range(2)]
        (chief_out, _), _ = finished(workers[0]), finished(workers[1])
    assert "restored ckpt-" in chief_out
    assert_trained_and_exported(run, "multi_worker")
    assert list(scratch.glob("tfw2v-worker-*")), "the first worker 1 trained in a scratch copy"
    assert not list(rerun_scratch.glob("tfw2v-worker-*")), "the other worker leaves nothing lasting"


def test_parameter_server_cli_trains_through_servers_and_survives_a_worker_death(tmp_path, lee_path):
    run, scratch = tmp_path / "run", tmp_path / "tmp"
    scratch.mkdir()
    ports = free_ports(5)
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"], "worker": [f"127.0.0.1:{p}" for p in ports[1:3]],
               "ps": [f"127.0.0.1:{p}" for p in ports[3:]]}
    with cluster_processes(cluster, scratch) as processes:
        servers = {(task, index): processes.start(task, index, "server") for task in ("ps", "worker")
                   for index in range(2)}
        chief = processes.start("chief", 0, "train", str(lee_path), *OPTIONS, "--strategy", "parameter_server",
                                "--steps-per-execution", "4", "--checkpoint-every", "20", "--out", str(run))
        deadline = time.monotonic() + TIMEOUT_S
        while not list((run / "checkpoints").glob("ckpt-*.index")) and time.monotonic() < deadline:
            assert chief.poll() is None, chief.communicate()[1][-3000:]
            time.sleep(0.2)
        servers[("worker", 1)].kill()  # the coordinator retries its steps on the other worker
        out, err = finished(chief)
        assert all(server.poll() is None for key, server in servers.items() if key != ("worker", 1))
    # The steps the dead worker was running are retried elsewhere; one whose batch the other worker had
    # already passed is dropped (and reported), never trained twice: a few batches of 470.
    recipe = assert_trained_and_exported(run, "parameter_server", words_lost=0.02)
    assert recipe["training"]["shards"] == 2
    assert "training on the generic TensorFlow path" in out


@pytest.mark.slow  # 2M-row tables: ~1 minute and 2.5 GB across the processes
def test_a_two_million_row_vocabulary_trains_with_each_parameter_server_holding_its_half(tmp_path):
    """2M rows × 100 in each of the two tables (763 MiB each), on 2 parameter servers: each server grows by
    about its own half of both tables (763 MiB), not by both (1,526 MiB); the coordinator by less than one."""
    from benchmarks.cluster import large_vocabulary

    result = large_vocabulary(2_000_000, 300_000, tmp_path)
    own_half = 2 * result["table_mib"] / 2
    assert result["words"] == 300_000 and [rows for rows, _ in result["shards"]] == [1_000_000, 1_000_000]
    for name in ("ps0", "ps1"):
        assert 0.9 * own_half < result["servers"][name]["growth_mib"] < 1.3 * own_half, result["servers"]
    assert result["chief_peak_rss_mib"] - result["chief_rss_before_model_mib"] < result["table_mib"], result


@pytest.mark.parametrize("args, tf_config, fragment", [
    (["train", "--strategy", "multi_worker"], None, "TF_CONFIG is not set"),
    (["train", "--strategy", "parameter_server"], {"cluster": {"worker": ["127.0.0.1:1"]},
                                                   "task": {"type": "worker", "index": 0}}, "runs on the chief"),
    (["server"], {"cluster": {"chief": ["127.0.0.1:1"]}, "task": {"type": "chief", "index": 0}},
     "runs a worker or ps task"),
    (["server"], {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}},
     "task worker:3 is not in the cluster"),
])
def test_a_cluster_command_without_its_role_in_tf_config_fails_in_one_line(tmp_path, args, tf_config, fragment):
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "run")]
    result = subprocess.run([*tfw2v_command(), *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                            env={**env, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 2 and fragment in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists(), "nothing is written before the cluster is checked"
