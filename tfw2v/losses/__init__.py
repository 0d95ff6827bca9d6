"""word2vec's objectives as Keras layers, one class per objective behind :class:`Objective`.

    layer = losses.get(name, vocab_size=V, dim=D, **options)
    per_example = layer(hidden, labels, pair_weights, training=True)   # [B, P, D], [B, T], [B, P, T] -> [B]

=================  ======================  ===========================================================
name               class                   ℓ(h, y) of one pair
=================  ======================  ===========================================================
softmax            Softmax                 -log softmax(h·U + b)_y (whole table, dense gradient)
sampled_softmax    SampledSoftmax          softmax over y and the distinct samples, -log Q corrected
ds                 DownsampledSoftmax      softmax over y and the K samples, uncorrected
nce                NCE                     logistic on s + b - log(k·Pn), per label and sample
ns                 NegativeSampling        logistic on s (k·Pn = 1): word2vec's default
hs                 HierarchicalSoftmax     logistic along y's Huffman path
=================  ======================  ===========================================================
"""

from __future__ import annotations

import inspect

import keras

from tfw2v.losses.base import Objective
from tfw2v.names import OBJECTIVES
from tfw2v.losses.hierarchical import HierarchicalSoftmax
from tfw2v.losses.logistic import NCE, NegativeSampling
from tfw2v.losses.sampled import DownsampledSoftmax, SampledSoftmax
from tfw2v.losses.sampling import SHARE_NEGATIVES, SampledObjective
from tfw2v.losses.softmax import Softmax

_CLASSES: dict[str, type[Objective]] = {
    "softmax": Softmax,
    "sampled_softmax": SampledSoftmax,
    "ds": DownsampledSoftmax,
    "nce": NCE,
    "ns": NegativeSampling,
    "hs": HierarchicalSoftmax,
}
NAMES = OBJECTIVES
for _class in _CLASSES.values():  # `keras.models.load_model` finds them as "tfw2v>ClassName"
    keras.saving.register_keras_serializable(package="tfw2v")(_class)
OPTIONS = ("counts", "negatives", "noise", "noise_exponent", "share_negatives", "seed")


def get(name: str, vocab_size: int, dim: int, **options) -> Objective:
    """The objective called ``name`` (one of :data:`NAMES`) with a ``[vocab_size, dim]`` output table.

    ``options`` are any of :data:`OPTIONS`; those the chosen objective does not use are ignored (a trainer can
    pass one set of options whatever the loss), names outside :data:`OPTIONS` raise ``ValueError``.
    """
    if name not in _CLASSES:
        raise ValueError(f"loss name={name!r}: expected one of {NAMES}")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown loss option(s) {unknown}: expected some of {OPTIONS}")
    cls = _CLASSES[name]
    accepted = inspect.signature(cls.__init__).parameters
    return cls(vocab_size, dim, **{key: value for key, value in options.items() if key in accepted})


__all__ = [
    "NAMES",
    "OPTIONS",
    "SHARE_NEGATIVES",
    "DownsampledSoftmax",
    "HierarchicalSoftmax",
    "NCE",
    "NegativeSampling",
    "Objective",
    "SampledObjective",
    "SampledSoftmax",
    "Softmax",
    "get",
]
