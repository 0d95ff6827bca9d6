"""The names every layer of tfw2v agrees on, in one TensorFlow-free place.

The recipe (and with it ``tfw2v --help``) reads these without starting TensorFlow; the classes that implement
them import them from here, and ``tests/test_names.py`` ties each table to the classes behind it.
"""

ARCHITECTURES = ("skipgram", "cbow")
#: word2vec.c's initial learning rates (``-alpha``): 0.025 for skip-gram, 0.05 for CBOW.
DEFAULT_ALPHA = {"skipgram": 0.025, "cbow": 0.05}

#: The objectives of :mod:`tfw2v.losses`, by the name ``Word2Vec(loss=...)`` takes.
OBJECTIVES = ("softmax", "sampled_softmax", "ds", "nce", "ns", "hs")
#: The objectives that draw noise samples (``negatives``, ``noise``, ``noise_exponent``, ``share_negatives``).
SAMPLED_OBJECTIVES = ("sampled_softmax", "ds", "nce", "ns")
#: The objectives the fused C++ kernel trains (:mod:`tfw2v.kernels`).
FUSED_OBJECTIVES = ("ns", "nce", "ds", "hs")
#: ``[training] strategy``: one process, or a ``tf.distribute`` cluster described by ``TF_CONFIG``.
STRATEGIES = ("none", "multi_worker", "parameter_server")
#: Noise distributions of the sampled objectives (:mod:`tfw2v.losses.noise`).
NOISE_DISTRIBUTIONS = ("unigram", "log_uniform", "uniform")
#: How the sampled objectives share their negatives (:mod:`tfw2v.losses.sampling`).
SHARE_NEGATIVES = ("auto", "pair", "example", "batch")

#: Phrase scores (:mod:`tfw2v.text.phrases`) and the threshold each defaults to.
PHRASE_SCORINGS = ("word2vec", "npmi")
DEFAULT_PHRASE_THRESHOLD = {"word2vec": 100.0, "npmi": 0.5}

#: Evaluation sets shipped in ``tfw2v/resources`` (licences in its README), by name → file.
BUNDLED_EVALUATION = {
    "questions-words": "questions-words.txt",
    "wordsim353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
    "men": "MEN_dataset_natural_form_full",
}
