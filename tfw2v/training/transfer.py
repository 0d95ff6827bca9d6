"""Training on: a trained model grown onto a larger vocabulary, or a new model warm-started from vector files.

    vocab = model.vocabulary.updated("more.txt")        # old words + the new corpus's frequent new words
    model = transfer.grown(model, vocab)                 # old rows moved to their new ids, new rows fresh
    model.compile(); model.fit(data.skipgram_dataset("more.txt", vocab), epochs=5)

    model = transfer.from_vectors("pretrained.bin", vocab, loss="ns")   # input rows from a word2vec file

These are gensim's ``build_vocab(sentences, update=True)`` and ``intersect_word2vec_format``. Both return a
new, uncompiled :class:`~tfw2v.training.model.Word2Vec` whose learning-rate schedule starts afresh (``words_seen``
0, from ``alpha``), as gensim's ``train`` after an update does.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from tfw2v.export.atomic import PathLike
from tfw2v.export.word2vec_format import read_word2vec_format
from tfw2v.losses.hierarchical import HierarchicalSoftmax
from tfw2v.text.vocabulary import Vocabulary
from tfw2v.training.model import Word2Vec

logger = logging.getLogger(__name__)

#: Configuration entries that describe the tables' shape or meaning, which :func:`grown` cannot change.
_FIXED_BY_THE_TABLES = ("dim", "loss")


def grown(model: Word2Vec, vocab: Vocabulary, **overrides: Any) -> Word2Vec:
    """A new ``Word2Vec`` with ``model``'s configuration on ``vocab``, carrying ``model``'s trained rows.

    ``vocab`` must hold every token of ``model.vocabulary`` (as :meth:`Vocabulary.updated` makes it); ids may
    differ. Each old token's input row is copied to its new id, and so are its output row and bias for the
    objectives whose output rows are words (every loss but ``"hs"``). New tokens start as a fresh model starts a
    word: an input row uniform in [-s/D, s/D) (``s``: the model's ``init_scale``), zero output row and bias. Their input rows are drawn from a
    stream of their own (``seed`` and the old vocabulary's size), not the one the old rows were drawn from:
    with the same ``seed``, the model's own initialiser would give new id ``i`` the starting values of the old
    model's row ``i``.

    ``"hs"``: the output rows are the inner nodes of the Huffman tree, and the tree is rebuilt from ``vocab``'s
    counts, so an old row has no node of the new tree to go to; the output table starts at zero, as a fresh
    tree does in word2vec.c. (gensim keeps the old ``syn1`` rows at their old indices, now other nodes.) The
    trained input rows still carry what was learnt; they receive no gradient until the new tree's nodes move
    off zero, so the new corpus's first updates train the tree before they move the word vectors.

    The objective's noise distribution and Huffman tree, like the pipelines' subsampling, follow ``vocab``'s
    counts (for :meth:`Vocabulary.updated`, old and new corpus merged, as gensim's noise table does).
    ``words_per_epoch`` is ``vocab.corpus_words`` (the new corpus) unless ``overrides`` say otherwise; other
    ``overrides`` (``alpha``, ``seed``, ``fused``, ``negatives``, ...) replace ``model``'s configuration, except
    ``dim`` and ``loss``, which the copied tables fix (``ValueError``).
    """
    missing = [token for token in model.vocabulary.tokens if token not in vocab]
    if missing:
        raise ValueError(
            f"the new vocabulary lacks {len(missing)} of the model's {len(model.vocabulary)} tokens (e.g. "
            f"{', '.join(map(repr, missing[:5]))}); grow it with model.vocabulary.updated(sources), or "
            "start a model on this vocabulary with from_vectors"
        )
    config = model.get_config()
    for key in _FIXED_BY_THE_TABLES:
        if key in overrides and overrides[key] != config[key]:
            raise ValueError(f"{key}={overrides[key]!r}: a grown model keeps the {key} of its tables "
                             f"({config[key]!r})")
    config.pop("vocabulary_size", None)  # the new vocabulary's size
    config["words_per_epoch"] = None  # the new corpus's words
    config.update(overrides)
    new = Word2Vec(vocab, **config)
    new_ids = np.array([vocab.id(token) for token in model.vocabulary.tokens], dtype=np.int64)
    table = np.empty(tuple(new.input_embeddings.shape), np.float32)
    table[new_ids] = model.input_embeddings.numpy()
    added = np.setdiff1d(np.arange(len(vocab)), new_ids)
    table[added] = _fresh_rows(len(added), new.dim, new.init_scale, config.get("seed"), len(model.vocabulary))
    new.input_embeddings.assign(table)
    if not isinstance(model.objective, HierarchicalSoftmax):
        _copy_rows(model.objective.output_embeddings, new.objective.output_embeddings, new_ids)
        if hasattr(model.objective, "output_biases"):
            _copy_rows(model.objective.output_biases, new.objective.output_biases, new_ids)
    logger.info("grown model: %d of %d rows carried over, %d new", len(new_ids), len(vocab), len(added))
    return new


def from_vectors(
    path: PathLike,
    vocab: Vocabulary,
    *,
    binary: bool | None = None,
    unicode_errors: str = "strict",
    **word2vec_kwargs: Any,
) -> Word2Vec:
    """A new ``Word2Vec(vocab, **word2vec_kwargs)`` whose input rows start from a word2vec.c vector file.

    The file (text or binary; ``binary=None`` detects which, see
    :func:`~tfw2v.export.word2vec_format.read_word2vec_format`, which also takes ``unicode_errors``) is read
    whole. Each vocabulary token that the file holds, spelt exactly the same, gets the file's vector as its
    input row; every other token keeps word2vec's fresh initialisation, and the output side (which a vector
    file does not hold) starts at zero. File words outside ``vocab`` are ignored. ``dim`` defaults to the
    file's dimension; a different ``dim`` raises ``ValueError`` naming the file and both dimensions.

    The model's ``warm_started_rows`` attribute is the number of rows copied from the file (also logged at
    INFO). Unlike gensim's ``intersect_word2vec_format`` (``lockf=0.0``), the copied rows are not locked:
    training updates them like every other row.
    """
    vectors = read_word2vec_format(path, binary=binary, unicode_errors=unicode_errors)
    dim = word2vec_kwargs.setdefault("dim", vectors.dim)
    if dim != vectors.dim:
        raise ValueError(f"{path}: the file's vectors have dimension {vectors.dim}, but dim={dim} was asked for; "
                         f"pass dim={vectors.dim} (or leave dim out) to start from this file")
    model = Word2Vec(vocab, **word2vec_kwargs)
    file_ids, vocab_ids = [], []
    for file_id, token in enumerate(vectors.tokens):
        if token in vocab:
            file_ids.append(file_id)
            vocab_ids.append(vocab.id(token))
    if vocab_ids:
        table = np.array(model.input_embeddings.numpy())
        table[vocab_ids] = vectors.vectors[file_ids]
        model.input_embeddings.assign(table)
    model.warm_started_rows = len(vocab_ids)
    logger.info("%s: %d of the vocabulary's %d words found (the file has %d); the other rows start fresh",
                path, len(vocab_ids), len(vocab), len(vectors))
    return model


def _fresh_rows(count: int, dim: int, scale: float, seed: int | None, stream: int) -> np.ndarray:
    """``[count, dim]`` float32 rows uniform in ``[-scale/dim, scale/dim)``, from the stream ``(seed, stream)``
    (fresh entropy when ``seed`` is None)."""
    rng = np.random.default_rng(None if seed is None else [int(seed), int(stream)])
    return rng.uniform(-scale / dim, scale / dim, (count, dim)).astype(np.float32)


def _copy_rows(source, target, target_ids: np.ndarray) -> None:
    """Row ``i`` of the Keras variable ``source`` into row ``target_ids[i]`` of ``target`` (through numpy)."""
    values = np.array(target.numpy())
    values[target_ids] = source.numpy()
    target.assign(values)
