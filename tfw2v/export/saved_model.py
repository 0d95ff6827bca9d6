"""Write word vectors as one versioned SavedModel that TF Serving serves and TF Hub / Keras load.

Layout (what TF Serving's file-system source watches)::

    <base_dir>/<version>/saved_model.pb
                        variables/
                        assets/vocabulary.txt        one token per line, line i = row i
                        assets.extra/README          what the artifact holds and how to load it
                        assets.extra/phrases.txt     the phrase table the graph joins (trained with phrases)

The signatures and the Hub interface are described in :mod:`tfw2v.export.serving_module` and in
``export/README.md`` at the repository root.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import tensorflow as tf

from tfw2v.export.atomic import atomic_directory
from tfw2v.export.serving_module import DEFAULT_K, EmbeddingModule, serving_signatures
from tfw2v.training.vectors import HasWordVectors, WordVectors, as_word_vectors

VOCABULARY_FILE = "vocabulary.txt"
PHRASES_FILE = "phrases.txt"
_VERSION = re.compile(r"[0-9]+")

TENSORFLOW_TEXT_NOTICE = (
    "this SavedModel's tokenizer uses tensorflow-text ops: every process that loads it must "
    "`import tensorflow_text` first, and TF Serving needs a build that bundles the same tensorflow-text ops"
)

SIGNATURES = f"""\
Signatures (TF Serving; inputs -> outputs):
  serving_default    sentences string[N] -> embeddings float32[N, dim]   sqrtn combiner: sum(v) / sqrt(n)
  token_vectors      tokens string[N] -> vectors float32[N, dim], in_vocabulary bool[N]
  nearest_neighbors  tokens string[N], k int32 (default {DEFAULT_K}) -> neighbors string[N, k], scores float32[N, k]
  similarity         left string[N], right string[N] -> similarity float32[N]
TF Hub: hub.load(path)(sentences) -> float32[N, dim]; hub.KerasLayer(path, trainable=True) fine-tunes the table.
"""


def saved_model(
    model_or_vectors: WordVectors | HasWordVectors,
    base_dir: str | os.PathLike,
    *,
    version: int | None = None,
    overwrite: bool = False,
    num_oov_buckets: int = 1,
) -> Path:
    """Export ``model_or_vectors`` to ``<base_dir>/<version>/`` atomically and return that directory.

    Args:
      model_or_vectors: :class:`~tfw2v.training.vectors.WordVectors` or a trained model exposing ``word_vectors()``;
        its tokenizer becomes the serving graph's tokenizer.
      base_dir: the model's base path (TF Serving's ``base_path``); created if missing.
      version: integer version directory; ``None`` takes one more than the largest existing numeric
        subdirectory (1 when there is none).
      overwrite: replace an existing version instead of raising ``FileExistsError``.
      num_oov_buckets: rows appended for out-of-vocabulary tokens (hashed into buckets, zeros initially).

    Raises ``FileExistsError`` naming ``<base_dir>/<version>`` if it exists and ``overwrite`` is false.
    Nothing appears at ``<base_dir>/<version>`` unless the whole export succeeds; an overwritten version is
    replaced as a whole. A tokenizer that needs tensorflow-text triggers a ``UserWarning``.
    """
    vectors = as_word_vectors(model_or_vectors)
    _check_tokens(vectors.tokens)
    base = Path(base_dir)
    target = base / str(next_version(base) if version is None else _check_version(version))
    with atomic_directory(target, overwrite=overwrite) as staging, tempfile.TemporaryDirectory() as scratch:
        vocabulary = Path(scratch) / VOCABULARY_FILE
        vocabulary.write_text("".join(f"{t}\n" for t in vectors.tokens), encoding="utf-8", newline="\n")
        module = EmbeddingModule(vectors, str(vocabulary), num_oov_buckets)
        tf.saved_model.save(module, str(staging), signatures=serving_signatures(module))
        readme = staging / "assets.extra" / "README"
        readme.parent.mkdir()
        readme.write_text(_readme(vectors, num_oov_buckets), encoding="utf-8", newline="\n")
        if vectors.phrases is not None:
            vectors.phrases.save(readme.parent / PHRASES_FILE)
    if vectors.tokenizer.uses_tensorflow_text:
        warnings.warn(f"{target}: {TENSORFLOW_TEXT_NOTICE}", UserWarning, stacklevel=2)
    return target


def next_version(base_dir: str | os.PathLike) -> int:
    """One more than the largest numeric subdirectory of ``base_dir`` (1 if there is none)."""
    base = Path(base_dir)
    if not base.is_dir():
        return 1
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and _VERSION.fullmatch(p.name)]
    return max(versions, default=0) + 1


def _check_version(version: int) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version must be a non-negative integer, got {version!r}")
    return version


def _check_tokens(tokens: Sequence[str]) -> None:
    """The vocabulary asset holds one token per line, so a token must be non-empty and on one line."""
    if not tokens:
        raise ValueError("the vocabulary is empty: there is nothing to export")
    for i, token in enumerate(tokens):
        if not token or "\n" in token or "\r" in token:
            raise ValueError(
                f"token {i} ({token!r}) cannot be exported: tokens must be non-empty and without line breaks"
            )


def _readme(vectors: WordVectors, num_oov_buckets: int) -> str:
    """The artifact's ``assets.extra/README``: shape, tokenizer, what loading needs, signatures."""
    tokenizer = vectors.tokenizer
    loading = TENSORFLOW_TEXT_NOTICE if tokenizer.uses_tensorflow_text else "core TensorFlow ops only"
    phrases = vectors.phrases
    joined = "none" if phrases is None else (
        f"{len(phrases)} in {len(phrases.passes)} pass(es), joined in the graph after tokenizing "
        f"(\"new york\" -> \"new{phrases.delimiter}york\"); the table is assets.extra/{PHRASES_FILE}"
    )
    return (
        "tfw2v word vectors: a TF Serving SavedModel and a TF Hub text-embedding module\n\n"
        f"vocabulary: {len(vectors)} tokens in assets/{VOCABULARY_FILE} (line i = row i)\n"
        f"dim: {vectors.dim}\nOOV buckets: {num_oov_buckets}\ntokenizer: {tokenizer.get_config()}\n"
        f"phrases: {joined}\nloading: {loading}\n\n{SIGNATURES}"
    )
