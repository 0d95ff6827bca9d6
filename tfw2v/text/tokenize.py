"""Text → tokens, the one definition shared by training and by exported serving graphs.

The default path uses only core ``tf.strings`` ops (``UnicodeTranscode``, ``StringLower``, ``StringSplitV2``)
so that an exported SavedModel runs on a stock TF Serving, whose bundled tensorflow-text may be older than
ours. The options marked *tensorflow-text* need ``import tensorflow_text`` wherever the graph is loaded.

Sentences are lines: reading a file line by line is what makes "a newline ends a sentence" true, so a
tokenizer only ever sees single lines and splits them on ASCII whitespace, like word2vec.c.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf

REPLACEMENT_CHARACTER = 0xFFFD
NORMALIZATIONS = ("NFC", "NFKC", "NFD", "NFKD")
ASCII = r"[\x00-\x7f]*"


@dataclasses.dataclass(frozen=True)
class Tokenizer:
    """How lines become tokens.

    Attributes:
      lowercase: lower-case with core ``tf.strings.lower(encoding="utf-8")`` (Unicode-aware).
      normalization: ``None`` or one of NFC/NFKC/NFD/NFKD (*tensorflow-text* ``normalize_utf8``).
      case_fold: full Unicode case folding (*tensorflow-text* ``case_fold_utf8``, which also applies NFKC).
      unicode_script: split on whitespace *and* at Unicode script changes (*tensorflow-text*
        ``UnicodeScriptTokenizer``), for text that mixes scripts without spaces.

    Invalid UTF-8 never raises: each bad byte sequence becomes U+FFFD and the line is kept.
    """

    lowercase: bool = False
    normalization: str | None = None
    case_fold: bool = False
    unicode_script: bool = False

    def __post_init__(self) -> None:
        if self.normalization is not None and self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"Tokenizer normalization={self.normalization!r}: expected one of {NORMALIZATIONS} or None"
            )

    @property
    def uses_tensorflow_text(self) -> bool:
        """True when the graph needs ``import tensorflow_text`` to load."""
        return bool(self.normalization or self.case_fold or self.unicode_script)

    def clean(self, lines: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Replace invalid UTF-8 with U+FFFD; return ``(clean_lines, number_of_lines_repaired)``.

        ASCII lines are valid UTF-8 as they are, so only the other lines are transcoded: on English text this
        skips nearly all of the transcoding, which otherwise costs as much as splitting the text.
        """
        ascii_lines = tf.strings.regex_full_match(lines, ASCII)
        others = tf.where(tf.logical_not(ascii_lines))
        text = tf.gather_nd(lines, others)
        repaired = tf.strings.unicode_transcode(
            text,
            input_encoding="UTF-8",
            output_encoding="UTF-8",
            errors="replace",
            replacement_char=REPLACEMENT_CHARACTER,
            replace_control_characters=False,
        )
        changed = tf.reduce_sum(tf.cast(tf.not_equal(repaired, text), tf.int64))
        return tf.tensor_scatter_nd_update(lines, others, repaired), changed

    def normalize(self, lines: tf.Tensor) -> tf.Tensor:
        """Apply the character-level options (normalization, case folding, lower-casing) to valid UTF-8."""
        if self.uses_tensorflow_text:
            import tensorflow_text as tf_text

            if self.normalization:
                lines = tf_text.normalize_utf8(lines, self.normalization)
            if self.case_fold:
                lines = tf_text.case_fold_utf8(lines)
        if self.lowercase:
            lines = tf.strings.lower(lines, encoding="utf-8")
        return lines

    def split(self, lines: tf.Tensor) -> tf.RaggedTensor:
        """Split normalized lines ``[N]`` into tokens ``[N, (tokens)]``."""
        if self.unicode_script:
            import tensorflow_text as tf_text

            return tf_text.UnicodeScriptTokenizer().tokenize(lines)
        return tf.strings.split(lines)

    def __call__(self, lines: tf.Tensor) -> tf.RaggedTensor:
        """Tokenize a 1-D string tensor of lines into a ragged ``[N, (tokens)]`` string tensor."""
        lines = tf.convert_to_tensor(lines, dtype=tf.string)
        clean, _ = self.clean(lines)
        return self.split(self.normalize(clean))

    def tokenize_with_repairs(self, lines: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
        """Like ``__call__`` but also return how many lines had invalid UTF-8 replaced."""
        clean, repaired = self.clean(tf.convert_to_tensor(lines, dtype=tf.string))
        return self.split(self.normalize(clean)), repaired

    def tokenize_python(self, text: str) -> list[str]:
        """Tokenize one Python string (a query word or a line) with exactly the graph's rules."""
        return [t.decode("utf-8") for t in self(tf.constant([text])).to_list()[0]]

    def get_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Tokenizer":
        unknown = set(config) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Tokenizer config: unknown keys {sorted(unknown)}")
        return cls(**config)
