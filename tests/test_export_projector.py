"""Embedding Projector export, read back by TensorBoard's own projector plugin; and the shared atomic helpers."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
from tensorboard.plugins import projector as tb_projector
from tensorboard.plugins.base_plugin import TBContext
from tensorboard.plugins.projector import projector_plugin
from werkzeug.test import Client

from tfw2v.export.atomic import atomic_directory, atomic_files
from tfw2v.export.projector import projector
from tfw2v.training.vectors import WordVectors

# Tokens with tabs, newlines or only whitespace are escaped so that each stays one non-blank metadata row.
TOKENS = ["the", "naïve", "日本語", "tab\there", "two\nlines", "cr\rx", " ", "\u3000\ufeff", "back\\slash", "z"]
LABELS = ["the", "naïve", "日本語", "tab\\there", "two\\nlines", "cr\\rx"]
LABELS += ["\\u0020", "\\u3000\\ufeff", "back\\slash", "z"]
DIM = 5


@pytest.fixture
def vectors() -> WordVectors:
    rng = np.random.default_rng(3)
    return WordVectors(TOKENS, rng.standard_normal((len(TOKENS), DIM)).astype(np.float32) / 3)


class Projector:
    """TensorBoard's projector plugin on ``logdir``, as ``tensorboard --logdir`` serves it to the browser."""

    def __init__(self, logdir: Path):
        multiplexer = EventMultiplexer()
        multiplexer.AddRunsFromDirectory(str(logdir))
        multiplexer.Reload()
        context = TBContext(
            logdir=str(logdir),
            data_provider=MultiplexerDataProvider(multiplexer, str(logdir)),
            multiplexer=multiplexer,
        )
        self.apps = projector_plugin.ProjectorPlugin(context).get_plugin_apps()

    def get(self, route: str, **query) -> bytes:
        response = Client(self.apps[route]).get(route, query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data()

    def runs(self) -> list[str]:
        return json.loads(self.get(projector_plugin.RUNS_ROUTE))

    def embedding(self, run: str = ".") -> tuple[dict, np.ndarray, list[str]]:
        """The run's config with its single embedding, that embedding's tensor and its metadata rows."""
        config = json.loads(self.get(projector_plugin.CONFIG_ROUTE, run=run))
        (info,) = config["embeddings"]
        name = info["tensorName"]
        tensor = np.frombuffer(self.get(projector_plugin.TENSOR_ROUTE, run=run, name=name), dtype=np.float32)
        metadata = self.get(projector_plugin.METADATA_ROUTE, run=run, name=name).decode("utf-8")
        return config, tensor.reshape([int(n) for n in info["tensorShape"]]), metadata.split("\n")[:-1]


def _training_logs(logdir: Path) -> Path:
    """Event files as Keras' TensorBoard callback leaves them (``logdir/train``)."""
    with tf.summary.create_file_writer(str(logdir / "train")).as_default():
        tf.summary.scalar("loss", 1.5, step=1)
    (events,) = (logdir / "train").iterdir()
    return events


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_tensorboard_projector_serves_our_embedding_beside_training_logs(tmp_path, vectors):
    events = _training_logs(tmp_path)
    logs_before = events.read_bytes()

    assert projector(vectors, tmp_path) == tmp_path

    board = Projector(tmp_path)
    assert board.runs() == ["."]  # the "train" run is not offered a copy of the embedding without labels
    config, tensor, rows = board.embedding(".")
    checkpoint = str(tmp_path.resolve() / "embeddings.ckpt-1")
    (key,) = [name for name, shape in tf.train.list_variables(checkpoint) if len(shape) == 2]
    assert config["modelCheckpointPath"] == checkpoint
    assert config["embeddings"][0]["tensorName"] == key == "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    assert config["embeddings"][0]["metadataPath"] == "metadata.tsv"
    assert tensor.shape == (len(TOKENS), DIM)
    np.testing.assert_array_equal(tensor, vectors.vectors)
    assert rows == LABELS  # one row per vector, in order, no header
    assert all(row.replace("\ufeff", "").strip() for row in rows)  # the projector's frontend skips blank rows
    assert events.read_bytes() == logs_before
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    assert "loss" in multiplexer.Runs()["train"]["tensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "embeddings.ckpt-1.data-00000-of-00001", "embeddings.ckpt-1.index",
        "metadata.tsv", "projector_config.pbtxt", "train", "vectors.tsv",
    ]


def test_top_keeps_the_most_frequent_words(tmp_path, vectors):
    projector(vectors, tmp_path, top=3)

    _, tensor, rows = Projector(tmp_path).embedding()
    np.testing.assert_array_equal(tensor, vectors.vectors[:3])
    assert rows == LABELS[:3]
    with pytest.raises(ValueError, match="top must be a positive integer"):
        projector(vectors, tmp_path, top=0)


def test_vectors_tsv_and_metadata_tsv_load_as_a_standalone_projector_config(tmp_path, vectors):
    # projector.tensorflow.org loads vectors.tsv + metadata.tsv; TensorBoard reads the same pair via tensor_path.
    projector(vectors, tmp_path / "export")
    standalone = tmp_path / "standalone"
    standalone.mkdir()
    for name in ("vectors.tsv", "metadata.tsv"):
        (standalone / name).write_bytes((tmp_path / "export" / name).read_bytes())
    config = tb_projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_path, embedding.metadata_path = "vectors.tsv", "metadata.tsv"
    tb_projector.visualize_embeddings(str(standalone), config)

    config, tensor, rows = Projector(standalone).embedding()
    assert config["embeddings"][0]["tensorName"] == "vectors.tsv"
    np.testing.assert_array_equal(tensor, vectors.vectors)
    assert rows == LABELS


def test_reexport_replaces_the_embedding(tmp_path, vectors):
    projector(vectors, tmp_path)
    smaller = WordVectors(["x", "y"], np.eye(2, DIM, dtype=np.float32))

    projector(smaller, tmp_path)

    _, tensor, rows = Projector(tmp_path).embedding()
    np.testing.assert_array_equal(tensor, smaller.vectors)
    assert rows == ["x", "y"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_training_checkpoints_in_the_logdir_are_left_alone(tmp_path, vectors):
    training = tf.train.Checkpoint(weights=tf.Variable(tf.ones([4, 3])))
    tf.train.CheckpointManager(training, str(tmp_path), max_to_keep=1).save()
    before = _snapshot(tmp_path)

    projector(vectors, tmp_path)

    assert {name: data for name, data in _snapshot(tmp_path).items() if name in before} == before
    config, tensor, rows = Projector(tmp_path).embedding()  # only our checkpoint's [V, D] variable is offered
    np.testing.assert_array_equal(tensor, vectors.vectors)
    assert rows == LABELS


def test_failure_midway_leaves_the_logdir_untouched(tmp_path, vectors):
    _training_logs(tmp_path)
    projector(vectors, tmp_path)
    before = _snapshot(tmp_path)
    broken = WordVectors(TOKENS[:-1] + ["bad\udcff"], vectors.vectors)  # lone surrogate: not encodable as UTF-8

    with pytest.raises(ValueError, match=r"token 'bad\\udcff' cannot be written to metadata.tsv"):
        projector(broken, tmp_path)  # fails after the checkpoint was written

    assert _snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == sorted({name.split("/")[0] for name in before})


# The shared atomic-write helpers (also used by the SavedModel exporter).


def test_atomic_files_publishes_only_after_success(tmp_path):
    (tmp_path / "keep.txt").write_text("unrelated")
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_files(tmp_path) as staging:
            (staging / "a.txt").write_text("new")
            raise RuntimeError("interrupted")
    assert _snapshot(tmp_path) == {"keep.txt": b"unrelated", "a.txt": b"old"}

    with atomic_files(tmp_path) as staging:
        (staging / "a.txt").write_text("new")
        (staging / "b.txt").write_text("b")
    assert _snapshot(tmp_path) == {"keep.txt": b"unrelated", "a.txt": b"new", "b.txt": b"b"}

    with pytest.raises(IsADirectoryError):
        with atomic_files(tmp_path) as staging:
            (staging / "sub").mkdir()
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt", "keep.txt"]


def test_atomic_directory_creates_renames_and_refuses_to_overwrite(tmp_path):
    final = tmp_path / "base" / "1"
    with atomic_directory(final) as staging:
        assert staging.parent == final.parent and not final.exists()
        (staging / "saved_model.pb").write_bytes(b"v1")
        (staging / "variables").mkdir()
    assert _snapshot(final) == {"saved_model.pb": b"v1"}
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(final.stat().st_mode) == 0o777 & ~umask  # readable by a server running as another user

    ran = False
    with pytest.raises(FileExistsError, match="overwrite=True") as error:
        with atomic_directory(final):
            ran = True
    assert error.value.filename == str(final) and not ran

    with pytest.raises(RuntimeError):
        with atomic_directory(final, overwrite=True) as staging:
            (staging / "saved_model.pb").write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert _snapshot(final) == {"saved_model.pb": b"v1"}

    with atomic_directory(final, overwrite=True) as staging:
        (staging / "saved_model.pb").write_bytes(b"v2")
    assert _snapshot(final) == {"saved_model.pb": b"v2"}  # replaced as a whole: nothing of v1 is left
    assert os.listdir(final.parent) == ["1"]

    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(FileExistsError, match="not a directory"):
        with atomic_directory(tmp_path / "file", overwrite=True):
            pass
    assert (tmp_path / "file").read_text() == "not a directory"
