"""tfw2v: word2vec (skip-gram and CBOW) in TensorFlow and Keras.

    vocab = tfw2v.Vocabulary.build("corpus.txt")
    model = tfw2v.Word2Vec(vocab, architecture="skipgram", loss="ns")
    model.compile()
    model.fit(tfw2v.data.skipgram_dataset("corpus.txt", vocab), epochs=5)
    tfw2v.export.saved_model(model, "serving/tfw2v")

Names load on first use (PEP 562), so ``import tfw2v`` — and the ``tfw2v`` command's ``--help`` — does not
start TensorFlow until something needs it.
"""

import importlib

_SUBMODULES = ("data", "evaluate", "export", "losses")
_CLASSES = {
    "Phrases": "tfw2v.text.phrases",
    "Tokenizer": "tfw2v.text.tokenize",
    "Vocabulary": "tfw2v.text.vocabulary",
    "Word2Vec": "tfw2v.training.model",
    "WordVectors": "tfw2v.training.vectors",
}

__all__ = [*_CLASSES, *_SUBMODULES]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"tfw2v.{name}")
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module 'tfw2v' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
