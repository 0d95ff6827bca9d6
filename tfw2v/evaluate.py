"""Intrinsic evaluation of word vectors, with gensim's semantics.

* :func:`analogies` — accuracy on word analogies ``a : b :: c : ?`` (3CosAdd or 3CosMul), default the
  Google ``questions-words.txt``;
* :func:`similarity` — Spearman / Pearson correlation with human word-pair scores (WordSim353, SimLex-999,
  MEN, ...);
* :func:`bundled` — paths of the evaluation sets shipped in ``tfw2v/resources`` (licences in its README);
* :class:`EvaluationCallback` — both, at epoch ends of ``model.fit``, written into the Keras logs.

Every function takes a :class:`~tfw2v.training.vectors.WordVectors` or a trained model with ``word_vectors()`` and
returns plain Python numbers (JSON-serialisable).
"""

from tfw2v.evaluation.analogies import analogies
from tfw2v.evaluation.callback import EvaluationCallback
from tfw2v.evaluation.common import bundled
from tfw2v.evaluation.similarity import similarity

__all__ = ["EvaluationCallback", "analogies", "bundled", "similarity"]
