"""Ship trained vectors: a SavedModel for TF Serving and TF Hub, Embedding Projector files, word2vec.c format.

Every exporter takes a trained :class:`~tfw2v.training.model.Word2Vec` or plain :class:`~tfw2v.training.vectors.WordVectors`
and writes atomically: a failure leaves no half-written output and nothing existing is overwritten unless
asked.
"""

from tfw2v.export.projector import projector
from tfw2v.export.saved_model import saved_model
from tfw2v.export.word2vec_format import read_word2vec_format, word2vec_format

__all__ = ["projector", "read_word2vec_format", "saved_model", "word2vec_format"]
