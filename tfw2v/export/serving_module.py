"""The exported object: one ``tf.train.Checkpoint`` that is a TF Hub text-embedding module and carries the
TF Serving signatures.

Every computation reads the single embedding table ``embeddings [V + B, D]`` (``V`` vocabulary rows in the
order of the vocabulary asset, then ``B`` out-of-vocabulary buckets that start at zero), so fine-tuning the
table through the Hub interface moves every signature with it. Tokens are looked up with a
``tf.lookup.StaticVocabularyTable`` fed from the vocabulary asset file; a token that is not in the vocabulary
goes to row ``V + fingerprint64(token) mod B`` (``StringToHashBucketFast``).

When the vectors were trained with phrases, the graph joins them (``new york`` → ``new_york``, core ops, see
:mod:`tfw2v.text.phrase_join`) after tokenizing and before the lookup, in every signature.

Sentence vectors use the ``sqrtn`` combiner over the sentence's tokens ``t_1 … t_n`` (OOV tokens included)::

    s = (v(t_1) + … + v(t_n)) / sqrt(n),        s = 0 when n = 0.

Cosines are ``cos(a, b) = a·b / (|a| |b|)``, taken as 0 when either vector is zero.

Only core ``tf.strings``/``tf.lookup``/math ops appear in the graph unless the tokenizer itself needs
tensorflow-text.
"""

from __future__ import annotations

import tensorflow as tf

from tfw2v.text.tokenize import Tokenizer
from tfw2v.training.vectors import WordVectors

DEFAULT_K = 10
"""Number of neighbours ``nearest_neighbors`` returns when the request leaves ``k`` out."""


class EmbeddingModule(tf.train.Checkpoint):
    """TF2 SavedModel root: ``__call__(sentences [N]) -> [N, D]`` plus what ``hub.KerasLayer`` expects.

    Attributes ``variables``/``trainable_variables`` hold the embedding table and ``regularization_losses``
    is empty, as the TF Hub reusable-SavedModel interface asks. ``vocabulary_file`` holds ``vectors.tokens``
    one per line; saving the module copies it into the SavedModel's ``assets/``.
    """

    def __init__(self, vectors: WordVectors, vocabulary_file: str, num_oov_buckets: int):
        super().__init__()
        if num_oov_buckets < 1:
            raise ValueError(f"num_oov_buckets must be >= 1, got {num_oov_buckets}")
        self._tokenizer: Tokenizer = vectors.tokenizer
        self._phrases = None if vectors.phrases is None else vectors.phrases.joiner()
        self._vocabulary_size = len(vectors)
        self._ids = tf.lookup.StaticVocabularyTable(
            tf.lookup.TextFileInitializer(
                vocabulary_file,
                key_dtype=tf.string,
                key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                value_dtype=tf.int64,
                value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
                vocab_size=len(vectors),
            ),
            num_oov_buckets=num_oov_buckets,
        )
        self._tokens = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                vocabulary_file,
                key_dtype=tf.int64,
                key_index=tf.lookup.TextFileIndex.LINE_NUMBER,
                value_dtype=tf.string,
                value_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                vocab_size=len(vectors),
            ),
            default_value="",
        )
        buckets = tf.zeros([num_oov_buckets, vectors.dim], tf.float32)
        self.embeddings = tf.Variable(tf.concat([vectors.vectors, buckets], 0), name="embeddings")
        self.variables = [self.embeddings]
        self.trainable_variables = [self.embeddings]
        self.regularization_losses = []

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, sentences: tf.Tensor) -> tf.Tensor:
        """Sentence vectors ``[N, D]`` of a 1-D string tensor of sentences (sqrtn combiner)."""
        return self.sentence_vectors(sentences)

    def sentence_vectors(self, sentences: tf.Tensor) -> tf.Tensor:
        """``s = Σ_i v(t_i) / sqrt(n)`` over the ``n`` tokens of each sentence; zeros for an empty one."""
        ids = tf.ragged.map_flat_values(self._ids.lookup, self._tokens_of(sentences))
        sums = tf.reduce_sum(tf.gather(self.embeddings, ids), axis=1)
        n = tf.cast(ids.row_lengths(), tf.float32)
        return tf.ensure_shape(sums * tf.math.rsqrt(tf.maximum(n, 1.0))[:, tf.newaxis], [None, self.dim])

    def _tokens_of(self, sentences: tf.Tensor) -> tf.RaggedTensor:
        """Tokens ``[N, (t)]`` of sentences: tokenized, then phrases joined."""
        tokens = self._tokenizer(sentences)
        return tokens if self._phrases is None else self._phrases(tokens)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def token_ids(self, tokens: tf.Tensor) -> tf.Tensor:
        """Row ids of single tokens (``>= V`` for an OOV bucket).

        Tokens get the tokenizer's character normalization (UTF-8 repair, case and Unicode options), as
        training text does, but are not split. With phrases, a query of several words names the token they
        join to: ``"new york"`` → ``new_york``.
        """
        if self._phrases is not None:
            words = self._tokens_of(tokens)
            return self._ids.lookup(tf.strings.reduce_join(words, axis=1, separator=self._phrases.delimiter))
        clean, _ = self._tokenizer.clean(tokens)
        return self._ids.lookup(self._tokenizer.normalize(clean))

    def token_vectors(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        """``vectors [n, D]`` (an OOV token gets its bucket's vector) and ``in_vocabulary [n]``."""
        ids = self.token_ids(tokens)
        return {"vectors": tf.gather(self.embeddings, ids), "in_vocabulary": ids < self._vocabulary_size}

    def nearest_neighbors(self, tokens: tf.Tensor, k: tf.Tensor) -> dict[str, tf.Tensor]:
        """Top-``k`` vocabulary tokens by cosine to each query token, the query itself excluded.

        ``k`` is clipped to ``V - 1``. An out-of-vocabulary query gets ``k`` empty strings with score 0.
        """
        non_negative = tf.debugging.assert_non_negative(k, message="nearest_neighbors: k must be >= 0")
        with tf.control_dependencies([non_negative]):  # report a bad k before top_k trips over it
            k = tf.minimum(k, self._vocabulary_size - 1)
        ids = self.token_ids(tokens)
        known = ids < self._vocabulary_size
        unit = tf.math.l2_normalize(self.embeddings[: self._vocabulary_size], axis=1)
        queries = tf.gather(unit, tf.where(known, ids, 0))
        scores = tf.matmul(queries, unit, transpose_b=True)
        itself = tf.one_hot(tf.where(known, ids, -1), self._vocabulary_size, on_value=True, off_value=False)
        top = tf.math.top_k(tf.where(itself, float("-inf"), scores), k=k)
        neighbors = self._tokens.lookup(tf.cast(top.indices, tf.int64))
        known = known[:, tf.newaxis]
        return {"neighbors": tf.where(known, neighbors, ""), "scores": tf.where(known, top.values, 0.0)}

    def similarity(self, left: tf.Tensor, right: tf.Tensor) -> dict[str, tf.Tensor]:
        """``cos(s(left_i), s(right_i))`` of the sqrtn sentence vectors of two equally long string tensors."""
        same_length = tf.debugging.assert_equal(
            tf.size(left), tf.size(right), message="similarity: left and right must have the same length"
        )
        with tf.control_dependencies([same_length]):  # report the mismatch before any op trips over it
            left, right = tf.identity(left), tf.identity(right)
        a = tf.math.l2_normalize(self.sentence_vectors(left), axis=1)
        b = tf.math.l2_normalize(self.sentence_vectors(right), axis=1)
        return {"similarity": tf.reduce_sum(a * b, axis=1)}


def _strings(name: str) -> tf.TensorSpec:
    return tf.TensorSpec([None], tf.string, name=name)


def serving_signatures(module: EmbeddingModule) -> dict[str, tf.types.experimental.PolymorphicFunction]:
    """The TF Serving signatures of ``module``, keyed by signature name; they return named tensors.

    ``nearest_neighbors`` declares ``k = DEFAULT_K`` as a SignatureDef default, so requests may omit it.
    """

    @tf.function(input_signature=[_strings("sentences")])
    def serving_default(sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"embeddings": module(sentences)}

    @tf.function(input_signature=[_strings("tokens")])
    def token_vectors(tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        return module.token_vectors(tokens)

    @tf.function(input_signature=[_strings("tokens"), tf.TensorSpec([], tf.int32, name="k")])
    def nearest_neighbors(tokens: tf.Tensor, k: tf.Tensor = tf.constant(DEFAULT_K)) -> dict[str, tf.Tensor]:
        return module.nearest_neighbors(tokens, k)

    @tf.function(input_signature=[_strings("left"), _strings("right")])
    def similarity(left: tf.Tensor, right: tf.Tensor) -> dict[str, tf.Tensor]:
        return module.similarity(left, right)

    return {
        "serving_default": serving_default,
        "token_vectors": token_vectors,
        "nearest_neighbors": nearest_neighbors,
        "similarity": similarity,
    }
