"""Export word vectors for TensorBoard's Embedding Projector and for projector.tensorflow.org.

``projector(vectors, logdir)`` adds to ``logdir`` (typically the run's TensorBoard logdir; nothing else in it is
touched):

* ``embeddings.ckpt-1.index`` / ``.data-00000-of-00001``: a ``tf.train.Checkpoint`` holding the ``[V, D]``
  embedding variable (Keras 3's ``.weights.h5`` files are not readable by the projector);
* ``projector_config.pbtxt``: names that checkpoint by absolute path (``model_checkpoint_path``; TensorBoard
  resolves a relative one against its own working directory, so re-export after moving the logdir), the
  checkpoint key of the variable as ``tensor_name``, and ``metadata.tsv``. No ``checkpoint`` state file is
  written: TensorBoard would also attach such a checkpoint, without labels, to every run directly below
  ``logdir`` (Keras' ``train``/``validation``) and open the first of them;
* ``metadata.tsv``: one token per line, in row order, no header (TensorBoard reads a single column without
  one). Tabs, newlines and carriage returns inside tokens are written as ``\\t``, ``\\n``, ``\\r``, and a token
  that is empty or only whitespace is shown as its escaped code points, because a line that is blank after
  trimming would be skipped by the projector and shift every label after it;
* ``vectors.tsv``: the same rows as tab-separated values; load it with ``metadata.tsv`` on
  projector.tensorflow.org.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from tfw2v.export.atomic import PathLike, atomic_files
from tfw2v.training.vectors import HasWordVectors, WordVectors, as_word_vectors

CHECKPOINT_PREFIX = "embeddings.ckpt-1"
METADATA_FILE = "metadata.tsv"
VECTORS_FILE = "vectors.tsv"
_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})
# What JavaScript's String.prototype.trim() removes, beyond Python's str.strip(): the projector drops such lines.
_JS_WHITESPACE = "\ufeff"


def projector(model_or_vectors: WordVectors | HasWordVectors, logdir: PathLike, *, top: int | None = None) -> Path:
    """Write the Embedding Projector files for the first ``top`` (most frequent) words into ``logdir``.

    All files are written to a staging directory first and each then replaces its namesake atomically, so a
    failure leaves ``logdir`` as it was. Returns ``logdir``; open it with ``tensorboard --logdir``.
    """
    try:
        from tensorboard.plugins import projector as tb_projector
    except ImportError as e:
        raise ImportError("projector export needs TensorBoard: pip install 'tfw2v[projector]'") from e
    vectors = as_word_vectors(model_or_vectors)
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ValueError(f"top must be a positive integer or None, got {top!r}")
    rows = vectors.vectors[:top]
    logdir = Path(logdir)
    with atomic_files(logdir) as staging:
        tensor_name = _write_checkpoint(rows, staging / CHECKPOINT_PREFIX)
        config = tb_projector.ProjectorConfig(model_checkpoint_path=str(logdir.resolve() / CHECKPOINT_PREFIX))
        embedding = config.embeddings.add()
        embedding.tensor_name = tensor_name
        embedding.metadata_path = METADATA_FILE
        _write_metadata(vectors.tokens[: len(rows)], staging / METADATA_FILE)
        np.savetxt(staging / VECTORS_FILE, rows, fmt="%.9g", delimiter="\t")
        tb_projector.visualize_embeddings(str(staging), config)
    return logdir


def _write_checkpoint(rows: np.ndarray, prefix: Path) -> str:
    """Save ``rows`` as a checkpointed variable; return its checkpoint key (the projector's tensor name)."""
    tf.train.Checkpoint(embedding=tf.Variable(rows)).write(str(prefix))
    keys = [name for name, shape in tf.train.list_variables(str(prefix)) if shape == list(rows.shape)]
    if len(keys) != 1:
        raise RuntimeError(f"expected one {list(rows.shape)} variable in checkpoint {prefix}, found {keys}")
    return keys[0]


def _write_metadata(tokens: list[str], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        for token in tokens:
            file.write(_metadata_label(token) + "\n")


def _metadata_label(token: str) -> str:
    """The token as one non-blank TSV cell."""
    label = token.translate(_ESCAPES)
    if not label.replace(_JS_WHITESPACE, "").strip():
        label = "".join(f"\\u{ord(c):04x}" for c in token) or '""'
    try:
        label.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"token {token!r} cannot be written to {METADATA_FILE}: {e.reason}") from None
    return label
