"""The cluster a process belongs to, read from ``TF_CONFIG``: its role, the strategy it trains under, and the
servers that ``tfw2v server`` runs.

``TF_CONFIG`` is TensorFlow's: ``{"cluster": {"chief": [...], "worker": [...], "ps": [...]}, "task": {"type":
..., "index": ...}}``. Under ``multi_worker`` every process is a worker that trains (worker 0, or the chief
when the cluster has one, writes the run directory). Under ``parameter_server`` the chief is the coordinator
that runs ``tfw2v train``; the workers and parameter servers run ``tfw2v server`` until they are stopped.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfw2v.names import STRATEGIES


class ClusterError(ValueError):
    """``TF_CONFIG`` is missing or does not describe the role the command needs."""


def tf_config() -> dict[str, Any]:
    """``TF_CONFIG`` parsed; :class:`ClusterError` naming it when it is missing or malformed."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        raise ClusterError("TF_CONFIG is not set: it names the cluster and this process's task, e.g. "
                           '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", '
                           '"index": 0}}')
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        task_type, index = task["type"], int(task["index"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ClusterError(f"TF_CONFIG: expected {{'cluster': {{...}}, 'task': {{'type': ..., 'index': ...}}}} "
                           f"({type(e).__name__}: {e})") from None
    if task_type not in cluster or not 0 <= index < len(cluster[task_type]):
        raise ClusterError(f"TF_CONFIG: task {task_type}:{index} is not in the cluster {sorted(cluster)}")
    return config


def is_chief(config: dict[str, Any]) -> bool:
    """Whether this task writes the run: the chief, or worker 0 of a cluster without one."""
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


def make_strategy(name: str, shards: int | None = None) -> Any:
    """The ``tf.distribute`` strategy ``[training] strategy`` names (``None`` for ``"none"``), from ``TF_CONFIG``.

    ``multi_worker``: ``MultiWorkerMirroredStrategy`` (create it before any other TensorFlow op, as TF
    requires). ``parameter_server``: ``ParameterServerStrategy`` with every table cut into ``shards`` row
    blocks (default: one per parameter server), which only the chief may create.
    """
    if name == "none":
        return None
    if name not in STRATEGIES:
        raise ClusterError(f"strategy={name!r}: expected one of {', '.join(STRATEGIES)}")
    config = tf_config()
    task_type = config["task"]["type"]
    import tensorflow as tf

    if name == "multi_worker":
        if task_type not in ("chief", "worker"):
            raise ClusterError(f"TF_CONFIG: task type {task_type!r} does not train under multi_worker (chief or "
                               "worker)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if task_type != "chief":
        raise ClusterError(f"TF_CONFIG: 'tfw2v train --strategy parameter_server' runs on the chief (the "
                           f"coordinator), not on a {task_type}; run 'tfw2v server' there")
    servers = len(config["cluster"].get("ps", []))
    if servers == 0 or not config["cluster"].get("worker"):
        raise ClusterError("TF_CONFIG: a parameter_server cluster needs 'ps' and 'worker' tasks")
    if shards is not None and shards < 1:
        raise ClusterError(f"shards={shards}: must be >= 1")
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    partitioner = tf.distribute.experimental.partitioners.FixedShardsPartitioner(shards or servers)
    return tf.distribute.ParameterServerStrategy(resolver, variable_partitioner=partitioner)


def serve() -> None:
    """Run this process's worker or ps task (``TF_CONFIG``) until the process is stopped.

    A worker runs the steps the coordinator schedules on it, including its copy of the input pipeline, so
    the tokenizer's ops are loaded first.
    """
    config = tf_config()
    task_type = config["task"]["type"]
    if task_type not in ("worker", "ps"):
        raise ClusterError(f"TF_CONFIG: 'tfw2v server' runs a worker or ps task, not {task_type!r} (the chief "
                           "runs 'tfw2v train --strategy parameter_server')")
    import tensorflow as tf
    import tensorflow_text  # noqa: F401 - registers the ops a tokenizer option may put into the input pipeline

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    server = tf.distribute.Server(resolver.cluster_spec(), job_name=task_type, task_index=resolver.task_id,
                                  protocol=resolver.rpc_layer or "grpc", start=True)
    server.join()
