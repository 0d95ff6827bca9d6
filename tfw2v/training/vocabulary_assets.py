"""A vocabulary as the assets of a ``.keras`` file: everything ``most_similar`` and the pipelines need again.

    vocab.txt          ``word count`` per line, most frequent first (word2vec.c's ``-save-vocab`` format)
    vocabulary.json    ``corpus_words`` (the unit of the schedule and of words/s) and the tokenizer's settings
    phrases.txt        the phrase table joined before counting (only when there is one)
"""

from __future__ import annotations

import json
import os

from tfw2v.text.phrases import Phrases
from tfw2v.text.tokenize import Tokenizer
from tfw2v.text.vocabulary import Vocabulary

VOCAB_FILE = "vocab.txt"
INFO_FILE = "vocabulary.json"
PHRASES_FILE = "phrases.txt"


def save_vocabulary(vocab: Vocabulary, directory: str | os.PathLike) -> None:
    """Write ``vocab`` into ``directory`` (which exists)."""
    vocab.save(os.path.join(directory, VOCAB_FILE))
    if vocab.phrases is not None:
        vocab.phrases.save(os.path.join(directory, PHRASES_FILE))
    info = {"corpus_words": vocab.corpus_words, "tokenizer": vocab.tokenizer.get_config()}
    with open(os.path.join(directory, INFO_FILE), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)


def load_vocabulary(directory: str | os.PathLike) -> Vocabulary:
    """The vocabulary :func:`save_vocabulary` wrote; ``ValueError`` naming the file that is missing or bad."""
    info_path = os.path.join(directory, INFO_FILE)
    try:
        with open(info_path, encoding="utf-8") as f:
            info = json.load(f)
        corpus_words = int(info["corpus_words"])
        tokenizer = Tokenizer.from_config(info["tokenizer"])
    except FileNotFoundError:
        raise ValueError(f"{info_path}: missing (not a tfw2v vocabulary asset)") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{info_path}: unreadable vocabulary settings ({e})") from None
    phrases_path = os.path.join(directory, PHRASES_FILE)
    phrases = Phrases.load(phrases_path) if os.path.exists(phrases_path) else None
    return Vocabulary.load(os.path.join(directory, VOCAB_FILE), corpus_words=corpus_words,
                           tokenizer=None if phrases is not None else tokenizer, phrases=phrases)
