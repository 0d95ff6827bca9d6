"""Reading corpora in bounded memory: huge lines are cut at whitespace, words are never split, chunks are
capped, and a corpus of ordinary lines gives the same example stream as reading it line by line."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import tensorflow as tf

from tfw2v import Vocabulary, data
from tfw2v.text import corpus

@pytest.fixture(scope="module")
def lee_vocab(lee_path) -> Vocabulary:
    return Vocabulary.build(str(lee_path), min_count=2)


WORDS = ["alpha", "beta", "gamma", "déjà", "vu", "naïve", "x", "longerword"]


def one_line_corpus(write_corpus, words: int, name: str = "one-line.txt"):
    rng = np.random.default_rng(0)
    tokens = [WORDS[i] for i in rng.integers(0, len(WORDS), size=words)]
    return write_corpus([" ".join(tokens)], name), tokens


@pytest.mark.parametrize("name", ["one-line.txt", "one-line.txt.gz"])
def test_a_huge_line_is_cut_at_whitespace_and_no_word_is_split(write_corpus, name):
    path, tokens = one_line_corpus(write_corpus, 5_000, name)
    pieces = list(corpus.read_lines(str(path), piece_bytes=64))
    assert len(pieces) > 100 and max(len(p) for p in pieces) <= 64
    assert [t for p in pieces for t in p.decode("utf-8").split()] == tokens


def test_line_ends_are_kept_and_match_tensorflow_reading(write_corpus):
    path = write_corpus([b"a b\r", b"", b"c  d", b"\xc3\xa9t\xc3\xa9"], final_newline=False)
    # "été" is longer than a piece and has no whitespace: the one case cut inside a word (between characters).
    assert list(corpus.read_lines(str(path), piece_bytes=4)) == [b"a b", b"", b"c ", b" d", "ét".encode(),
                                                                 "é".encode()]
    assert list(corpus.read_lines(str(path))) == list(tf.data.TextLineDataset(str(path)).as_numpy_iterator())


def test_a_piece_without_whitespace_is_cut_between_characters(write_corpus):
    path = write_corpus(["ééééé"])  # 10 bytes, no whitespace
    pieces = list(corpus.read_lines(str(path), piece_bytes=5))
    assert b"".join(pieces) == "ééééé".encode() and all(p.decode("utf-8") for p in pieces)


def test_a_word_split_across_two_reads_is_counted_once(write_corpus, monkeypatch):
    path, tokens = one_line_corpus(write_corpus, 20_000)
    monkeypatch.setattr(corpus, "PIECE_BYTES", 100)  # ~250 reads, each ending inside a word or at one
    vocab = Vocabulary.build(str(path), min_count=1)
    assert dict(zip(vocab.tokens, vocab.counts.tolist())) == collections.Counter(tokens)
    assert vocab.corpus_words == len(tokens)


def test_chunks_stay_bounded_on_a_huge_line(write_corpus, monkeypatch):
    path, tokens = one_line_corpus(write_corpus, 20_000)
    monkeypatch.setattr(corpus, "PIECE_BYTES", 1000)
    monkeypatch.setattr(corpus, "CHUNK_BYTES", 4000)
    chunks = [chunk for chunk in corpus.line_chunks(str(path), 256).as_numpy_iterator()]
    assert len(chunks) > 20
    assert max(sum(len(line) for line in chunk) for chunk in chunks) < 4000 + 1000
    assert [t for chunk in chunks for line in chunk for t in line.decode("utf-8").split()] == tokens


def test_chunks_of_ordinary_lines_run_across_files(write_corpus):
    first = write_corpus([f"line {i}" for i in range(300)], "a.txt")
    second = write_corpus([f"more {i}" for i in range(100)], "b.txt.gz")
    sizes = [len(chunk) for chunk in corpus.line_chunks([str(first), str(second)], 256).as_numpy_iterator()]
    assert sizes == [256, 144]


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_the_example_stream_of_a_multi_line_corpus_is_what_line_by_line_reading_gives(lee_path, lee_vocab,
                                                                                       architecture):
    """The chunked reader against TensorFlow's own line reader (a dataset source is batched as it is)."""
    make = data.skipgram_dataset if architecture == "skipgram" else data.cbow_dataset
    chunked = make(str(lee_path), lee_vocab, batch_size=4096, seed=5)
    by_line = make(tf.data.TextLineDataset(str(lee_path)), lee_vocab, batch_size=4096, seed=5)
    batches = 0
    for ours, theirs in zip(chunked.as_numpy_iterator(), by_line.as_numpy_iterator(), strict=True):
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key])
        batches += 1
    assert batches > 5
