"""Vocabulary: counting against plain Python, sources, save/load, derived tables, errors."""

from __future__ import annotations

import gzip
import io
import os
import re
import warnings
import zipfile
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from tfw2v.text.corpus import CorpusError
from tfw2v.text.tokenize import Tokenizer
from tfw2v.text.vocabulary import Vocabulary

LEE_LINES = 300  # tests/data/README.md
LEE_TOKENS = 59_890


def python_counts(lines) -> Counter:
    counter = Counter()
    for line in lines:
        counter.update(line.split())
    return counter


def expected_order(counter: Counter, min_count: int = 1) -> list[tuple[str, int]]:
    """Descending count; ties by the token's UTF-8 bytes, ascending."""
    items = [(t, c) for t, c in counter.items() if c >= min_count]
    return sorted(items, key=lambda tc: (-tc[1], tc[0].encode("utf-8")))


def as_pairs(vocab: Vocabulary) -> list[tuple[str, int]]:
    return list(zip(vocab.tokens, vocab.counts.tolist()))


@pytest.fixture(scope="module")
def lee_counter(lee_lines) -> Counter:
    return python_counts(lee_lines)


@pytest.fixture(scope="module")
def lee_vocab(lee_path) -> Vocabulary:
    return Vocabulary.build(lee_path, min_count=1)


# ---- counting -----------------------------------------------------------------------------------------
def test_lee_corpus_shape(lee_lines, lee_counter):
    assert len(lee_lines) == LEE_LINES
    assert sum(lee_counter.values()) == LEE_TOKENS


def test_counts_equal_python_counter(lee_vocab, lee_counter):
    assert as_pairs(lee_vocab) == expected_order(lee_counter)
    assert lee_vocab.corpus_words == LEE_TOKENS
    assert lee_vocab.total == LEE_TOKENS
    # The corpus has many ties (most words occur once), so the tie-break is really exercised.
    assert sum(1 for c in lee_counter.values() if c == 1) > 1000


def test_min_count(lee_path, lee_counter):
    vocab = Vocabulary.build(lee_path, min_count=5)
    assert as_pairs(vocab) == expected_order(lee_counter, min_count=5)
    assert vocab.counts.min() >= 5
    assert vocab.corpus_words == LEE_TOKENS  # every corpus token, including the dropped rare ones
    assert vocab.total == sum(c for c in lee_counter.values() if c >= 5)
    assert vocab.total < vocab.corpus_words


def test_default_min_count_is_5(lee_path, lee_counter):
    assert as_pairs(Vocabulary.build(lee_path)) == expected_order(lee_counter, min_count=5)


def test_max_size(lee_path, lee_counter):
    vocab = Vocabulary.build(lee_path, min_count=5, max_size=100)
    assert as_pairs(vocab) == expected_order(lee_counter, min_count=5)[:100]
    assert vocab.corpus_words == LEE_TOKENS
    big = Vocabulary.build(lee_path, min_count=5, max_size=10**9)
    assert as_pairs(big) == expected_order(lee_counter, min_count=5)


def test_tie_break_by_utf8_bytes(write_corpus):
    path = write_corpus(["b a é z B the", "the", "ä"])
    vocab = Vocabulary.build(path, min_count=1)
    # Bytes order: 'B' (0x42) < 'a' < 'b' < 'z' < 'ä' (0xC3 0xA4) < 'é' (0xC3 0xA9).
    assert vocab.tokens == ["the", "B", "a", "b", "z", "ä", "é"]
    assert vocab.counts.tolist() == [2, 1, 1, 1, 1, 1, 1]


def test_build_is_deterministic(write_corpus):
    lines = [" ".join(f"w{(i * 7919 + j) % 97}" for j in range(40)) for i in range(50)]
    path = write_corpus(lines)
    first = Vocabulary.build(path, min_count=1)
    second = Vocabulary.build(path, min_count=1)
    assert as_pairs(first) == as_pairs(second) == expected_order(python_counts(lines))


def test_tokenizer_is_applied_and_kept(lee_path, lee_lines):
    tokenizer = Tokenizer(lowercase=True)
    vocab = Vocabulary.build(lee_path, min_count=3, tokenizer=tokenizer)
    assert as_pairs(vocab) == expected_order(python_counts(line.lower() for line in lee_lines), min_count=3)
    assert vocab.tokenizer == tokenizer


def test_lookups(lee_vocab):
    assert lee_vocab.tokens[0] == "the" and lee_vocab.id("the") == 0 and lee_vocab.token(0) == "the"
    assert "the" in lee_vocab and "zzz-not-a-word" not in lee_vocab
    with pytest.raises(KeyError, match="zzz-not-a-word"):
        lee_vocab.id("zzz-not-a-word")
    table = lee_vocab.table()
    ids = table.lookup(tf.constant(["the", "zzz-not-a-word", lee_vocab.tokens[-1]])).numpy()
    assert ids.tolist() == [0, -1, len(lee_vocab) - 1]


def test_table_first_made_in_one_function_serves_another():
    """A table first needed inside a function's graph (as each worker's dataset_fn under a
    ParameterServerStrategy) belongs to that graph: a second function gets one of its own, not the first's."""
    vocab = Vocabulary(["a", "b"], np.array([2, 1]))
    lookups = [tf.function(lambda words: vocab.table().lookup(words)) for _ in range(2)]
    assert [lookup(tf.constant(["b", "c"])).numpy().tolist() for lookup in lookups] == [[1, -1], [1, -1]]


# ---- sources ----------------------------------------------------------------------------------------------
def test_gzip_equals_plain(lee_path, lee_vocab, write_corpus):
    gz = write_corpus(lee_path.read_text(encoding="utf-8").splitlines(), "lee.txt.gz")
    vocab = Vocabulary.build(gz, min_count=1)
    assert as_pairs(vocab) == as_pairs(lee_vocab)
    assert vocab.corpus_words == LEE_TOKENS


def test_multiple_files_and_globs(lee_lines, lee_vocab, write_corpus, tmp_path):
    parts = [
        write_corpus(lee_lines[:100], "parts/a.txt"),
        write_corpus(lee_lines[100:250], "parts/b.txt.gz"),
        write_corpus(lee_lines[250:], "parts/c.txt", final_newline=False),
    ]
    from_list = Vocabulary.build(parts, min_count=1)
    from_strs = Vocabulary.build([str(p) for p in parts], min_count=1)
    from_glob = Vocabulary.build(str(tmp_path / "parts" / "*.txt*"), min_count=1)
    from_mixed = Vocabulary.build([parts[0], str(tmp_path / "parts" / "[bc].txt*")], min_count=1)
    for vocab in (from_list, from_strs, from_glob, from_mixed):
        assert as_pairs(vocab) == as_pairs(lee_vocab)
        assert vocab.corpus_words == LEE_TOKENS


def test_literal_name_with_glob_characters(write_corpus):
    path = write_corpus(["x y x"], "corpus[1].txt")
    assert as_pairs(Vocabulary.build(str(path), min_count=1)) == [("x", 2), ("y", 1)]


def test_dataset_source(lee_path, lee_lines, lee_vocab):
    from_lines = Vocabulary.build(tf.data.Dataset.from_tensor_slices(lee_lines), min_count=1)
    from_reader = Vocabulary.build(tf.data.TextLineDataset(str(lee_path)), min_count=1)
    for vocab in (from_lines, from_reader):
        assert as_pairs(vocab) == as_pairs(lee_vocab)
        assert vocab.corpus_words == LEE_TOKENS


def test_dataset_source_must_yield_scalar_strings():
    with pytest.raises(CorpusError, match="scalar tf.string"):
        Vocabulary.build(tf.data.Dataset.range(3), min_count=1)
    with pytest.raises(CorpusError, match="scalar tf.string"):
        Vocabulary.build(tf.data.Dataset.from_tensor_slices([["a b"], ["c"]]), min_count=1)


def test_invalid_utf8_lines_are_counted_and_warned(write_corpus):
    path = write_corpus([b"good words here", b"bad \xff\xfe byte", b"good again", b"\xc3"])
    with pytest.warns(UserWarning, match=re.escape(str(path)) + r": 2 line\(s\) had invalid UTF-8"):
        vocab = Vocabulary.build(path, min_count=1)
    assert vocab.invalid_utf8_lines == 2
    assert vocab.id("good") == 0 and vocab.counts[0] == 2
    for word in ("words", "here", "again", "bad", "byte"):
        assert word in vocab
    assert any("\ufffd" in t for t in vocab.tokens)
    assert vocab.corpus_words == 9  # 3 + 3 (bad, U+FFFD, byte) + 2 + 1 (a lone U+FFFD)


def test_valid_corpus_does_not_warn(write_corpus):
    path = write_corpus(["école 世界 ok"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vocab = Vocabulary.build(path, min_count=1)
    assert vocab.invalid_utf8_lines == 0


# ---- save / load (word2vec.c -save-vocab format) ----------------------------------------------------------------
def test_save_load_round_trip(lee_path, tmp_path):
    vocab = Vocabulary.build(lee_path, min_count=2)
    path = tmp_path / "vocab.txt"
    vocab.save(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == len(vocab) + 1
    assert lines[:3] == [f"{t} {c}" for t, c in as_pairs(vocab)[:3]]
    loaded = Vocabulary.load(path, corpus_words=vocab.corpus_words)
    assert as_pairs(loaded) == as_pairs(vocab)
    assert loaded.corpus_words == vocab.corpus_words
    assert Vocabulary.load(str(path)).corpus_words == vocab.total  # default: the in-vocabulary total
    tokenizer = Tokenizer(lowercase=True)
    assert Vocabulary.load(path, tokenizer=tokenizer).tokenizer == tokenizer


def test_save_load_unusual_tokens(write_corpus, tmp_path):
    # Tokens may hold non-ASCII spaces and line-separator-like characters that are not ASCII whitespace.
    odd = ["a\u00a0b", "x\u2028y", "p\x1cq", "\ufffd", "</s>", "世界"]
    vocab = Vocabulary.build(write_corpus([" ".join(odd)]), min_count=1)
    vocab.save(tmp_path / "v.txt")
    assert sorted(Vocabulary.load(tmp_path / "v.txt").tokens) == sorted(odd)


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("old 1\n")
    Vocabulary(["new", "words"], [3, 2]).save(path)
    assert path.read_text() == "new 3\nwords 2\n"
    assert sorted(os.listdir(tmp_path)) == ["vocab.txt"]  # no temporary left behind


def test_load_word2vec_c_file_with_sentence_end(tmp_path):
    # word2vec.c's SortVocab keeps "</s>" first whatever its count (0 when the corpus has no newline).
    path = tmp_path / "w2v.vocab"
    path.write_text("</s> 0\nthe 10\nof 7\ncat 7\n")
    assert as_pairs(Vocabulary.load(path)) == [("the", 10), ("of", 7), ("cat", 7)]
    path.write_text("</s> 3\nthe 10\nof 7\n")  # one line per paragraph: fewer newlines than "the"
    assert Vocabulary.load(path).tokens == ["the", "of"]
    path.write_text("</s> 12\nthe 10\n")  # in order: an ordinary token
    assert Vocabulary.load(path).tokens == ["</s>", "the"]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("the 10\nof\n", 2, "expected 'word count'"),
        ("the 10\nof x\n", 2, "expected 'word count'"),
        ("the 10\nof 5 extra\n", 2, "expected 'word count'"),
        ("the 10\n 5\n", 2, "expected 'word count'"),
        ("the 10\nof -5\n", 2, "expected 'word count'"),
        ("the 10\nof \u00b2\n", 2, "expected 'word count'"),
        ("the 10\nof 5\ncat 7\n", 3, "descending order"),
        ("the 10\nof 5\nthe 5\n", 3, "'the' occurs twice"),
        ("the 10\nof 0\n", 2, "must be positive"),
    ],
)
def test_load_errors_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.vocab"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{path}:{line}: ") + ".*" + re.escape(message)):
        Vocabulary.load(path)


def test_load_other_errors(tmp_path):
    with pytest.raises(CorpusError, match=re.escape(f"{tmp_path / 'missing.vocab'}: no such file")):
        Vocabulary.load(tmp_path / "missing.vocab")
    (tmp_path / "empty.vocab").write_text("")
    with pytest.raises(ValueError, match="empty.vocab: empty vocabulary file"):
        Vocabulary.load(tmp_path / "empty.vocab")
    (tmp_path / "latin1.vocab").write_bytes(b"caf\xe9 3\n")
    with pytest.raises(ValueError, match="latin1.vocab: not UTF-8"):
        Vocabulary.load(tmp_path / "latin1.vocab")
    with pytest.raises(CorpusError, match="is a directory"):
        Vocabulary.load(tmp_path)


def test_constructor_checks():
    with pytest.raises(ValueError, match="descending"):
        Vocabulary(["a", "b"], [1, 2])
    with pytest.raises(ValueError, match="unique"):
        Vocabulary(["a", "a"], [2, 1])
    with pytest.raises(ValueError, match="positive"):
        Vocabulary(["a"], [0])
    with pytest.raises(ValueError, match="at least one"):
        Vocabulary([], [])
    with pytest.raises(ValueError, match="2 tokens but 1 counts"):
        Vocabulary(["a", "b"], [1])


# ---- derived tables ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", [1e-3, 1e-4, 1e-5])
def test_keep_probabilities(lee_vocab, sample):
    keep = lee_vocab.keep_probabilities(sample)
    assert keep.dtype == np.float32 and keep.shape == (len(lee_vocab),)
    f = lee_vocab.counts / lee_vocab.counts.sum()
    expected = np.minimum(1.0, np.sqrt(sample / f) + sample / f)
    np.testing.assert_allclose(keep, expected, rtol=1e-6)
    assert keep[0] < 1.0 and keep[-1] == 1.0  # "the" is subsampled, hapaxes are always kept
    assert np.all(np.diff(keep) >= 0)  # rarer words are kept at least as often


def test_keep_probabilities_word2vec_c_expression(lee_vocab):
    # word2vec.c: ran = (sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn.
    sample, cn, train_words = 1e-3, lee_vocab.counts.astype(np.float64), lee_vocab.total
    ran = (np.sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn
    np.testing.assert_allclose(lee_vocab.keep_probabilities(sample), np.minimum(ran, 1.0), rtol=1e-6)


def test_keep_probabilities_off_and_invalid(lee_vocab):
    np.testing.assert_array_equal(lee_vocab.keep_probabilities(0), np.ones(len(lee_vocab)))
    with pytest.raises(ValueError, match="sample=-0.001"):
        lee_vocab.keep_probabilities(-1e-3)
    with pytest.raises(ValueError, match="sample=nan"):
        lee_vocab.keep_probabilities(float("nan"))


@pytest.mark.parametrize("exponent", [0.75, 1.0, 0.0, 0.5])
def test_noise_distribution(lee_vocab, exponent):
    noise = lee_vocab.noise_distribution(exponent)
    assert noise.dtype == np.float64 and noise.shape == (len(lee_vocab),)
    assert noise.sum() == pytest.approx(1.0, abs=1e-12)
    ratio = noise / lee_vocab.counts.astype(np.float64) ** exponent
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)  # ∝ count**exponent


def test_noise_distribution_default_exponent(lee_vocab):
    np.testing.assert_array_equal(lee_vocab.noise_distribution(), lee_vocab.noise_distribution(0.75))


# ---- errors that name the file or the parameter -------------------------------------------------------------------
def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + bytes(64)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("corpus.txt", "some text " * 10)
    return buffer.getvalue()


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(CorpusError, match=re.escape(f"{missing}: no such file")):
        Vocabulary.build(missing)


def test_one_missing_file_among_several(write_corpus, tmp_path):
    good = write_corpus(["a b c"])
    with pytest.raises(CorpusError, match="nope.txt: no such file"):
        Vocabulary.build([good, tmp_path / "nope.txt"], min_count=1)


def test_glob_matching_nothing(tmp_path):
    pattern = str(tmp_path / "*.txt")
    with pytest.raises(CorpusError, match=re.escape(pattern) + ": the pattern matches no file"):
        Vocabulary.build(pattern)


def test_no_files():
    with pytest.raises(CorpusError, match="no corpus files"):
        Vocabulary.build([])


def test_directory(tmp_path):
    with pytest.raises(CorpusError, match=re.escape(f"{tmp_path}: is a directory")):
        Vocabulary.build(tmp_path)


@pytest.mark.parametrize("lines", [[], [""], ["   ", "\t", ""]])
def test_empty_corpus(write_corpus, lines):
    path = write_corpus(lines)
    with pytest.raises(CorpusError, match=re.escape(f"{path}: the corpus is empty")):
        Vocabulary.build(path, min_count=1)


def test_empty_dataset_source():
    with pytest.raises(CorpusError, match="the given tf.data.Dataset: the corpus is empty"):
        Vocabulary.build(tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string)), min_count=1)


def test_no_word_reaches_min_count(write_corpus):
    path = write_corpus(["a b c a", "b d"])
    with pytest.raises(ValueError, match=re.escape(str(path)) + r": no word occurs min_count=3 times.*'a'.*2 times"):
        Vocabulary.build(path, min_count=3)


@pytest.mark.parametrize("kwargs, message", [({"min_count": 0}, "min_count=0"), ({"max_size": 0}, "max_size=0")])
def test_bad_parameters(write_corpus, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary.build(write_corpus(["a b"]), **kwargs)


@pytest.mark.parametrize(
    "name, content",
    [
        ("image.png", png_bytes()),
        ("archive.zip", zip_bytes()),
        ("utf16.txt", "text in UTF-16".encode("utf-16")),
        ("late_nul.txt", b"text " * 1000 + b"\x00" + b" more"),
    ],
)
def test_binary_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=re.escape(str(path)) + ": looks like binary data"):
        Vocabulary.build(path)


def test_gzip_of_binary(tmp_path):
    path = tmp_path / "image.png.gz"
    path.write_bytes(gzip.compress(png_bytes()))
    with pytest.raises(CorpusError, match=re.escape(str(path)) + ": looks like binary data"):
        Vocabulary.build(path)


def test_bad_gzip(tmp_path):
    not_gzip = tmp_path / "plain.txt.gz"
    not_gzip.write_text("plain text, misnamed\n")
    with pytest.raises(CorpusError, match=re.escape(str(not_gzip)) + ": not a valid gzip file"):
        Vocabulary.build(not_gzip)
    truncated = tmp_path / "truncated.txt.gz"
    truncated.write_bytes(gzip.compress(b"some words\n" * 50)[:-12])
    with pytest.raises(CorpusError, match=re.escape(str(truncated)) + ": not a valid gzip file"):
        Vocabulary.build(truncated)
