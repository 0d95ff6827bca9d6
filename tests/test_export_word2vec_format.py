"""word2vec.c text/binary export and reader, checked against gensim's ``KeyedVectors`` (the real consumer)."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from tfw2v.export.atomic import atomic_file
from tfw2v.export.word2vec_format import read_word2vec_format, word2vec_format
from tfw2v.training.vectors import WordVectors

TOKENS = ["the", "naïve", "日本語", "émoji😀", "non\xa0breaking", "Ωmega", "a-b_c.d", "</s>"]


@pytest.fixture
def vectors() -> WordVectors:
    rng = np.random.default_rng(7)
    scale = np.float32(10.0) ** rng.integers(-20, 20, size=(len(TOKENS), 1))
    values = (rng.standard_normal((len(TOKENS), 16)) * scale).astype(np.float32)
    values[0, :3] = [0.0, -0.0, np.finfo(np.float32).tiny]
    return WordVectors(TOKENS, values)


def _hidden_leftovers(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(".")]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_gensim_reads_our_files_exactly(tmp_path, vectors, binary):
    path = word2vec_format(vectors, tmp_path / "vectors.w2v", binary=binary)

    loaded = KeyedVectors.load_word2vec_format(str(path), binary=binary)

    assert path == tmp_path / "vectors.w2v"
    assert loaded.index_to_key == TOKENS
    assert loaded.vectors.dtype == np.float32
    # Binary is bit-exact by construction; text prints 9 significant digits, which also round-trips float32.
    np.testing.assert_array_equal(loaded.vectors, vectors.vectors)


def test_file_layout_is_word2vec_c(tmp_path, vectors):
    text = word2vec_format(vectors, tmp_path / "v.txt").read_bytes()
    binary = word2vec_format(vectors, tmp_path / "v.bin", binary=True).read_bytes()

    lines = text.decode("utf-8").split("\n")
    assert lines[0] == f"{len(TOKENS)} 16" and lines[-1] == ""
    assert [line.split(" ")[0] for line in lines[1:-1]] == TOKENS
    assert all(len(line.split(" ")) == 17 for line in lines[1:-1])
    record = "naïve".encode() + b" " + struct.pack("<16f", *vectors["naïve"]) + b"\n"
    assert binary.startswith(f"{len(TOKENS)} 16\n".encode()) and record in binary


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_we_read_gensims_files_exactly(tmp_path, vectors, binary):
    keyed = KeyedVectors(vector_size=vectors.dim)
    keyed.add_vectors(vectors.tokens, vectors.vectors)
    keyed.save_word2vec_format(str(tmp_path / "gensim.w2v"), binary=binary)

    for detect in (binary, None):
        loaded = read_word2vec_format(tmp_path / "gensim.w2v", binary=detect)
        assert loaded.tokens == keyed.index_to_key
        np.testing.assert_array_equal(loaded.vectors, keyed.vectors)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_round_trip_and_limit(tmp_path, vectors, binary):
    full = read_word2vec_format(word2vec_format(vectors, tmp_path / "all", binary=binary))
    assert full.tokens == TOKENS
    np.testing.assert_array_equal(full.vectors, vectors.vectors)

    head = word2vec_format(vectors, tmp_path / "head", binary=binary, limit=3)
    assert KeyedVectors.load_word2vec_format(str(head), binary=binary).index_to_key == TOKENS[:3]
    assert read_word2vec_format(tmp_path / "all", limit=3).tokens == TOKENS[:3]
    np.testing.assert_array_equal(read_word2vec_format(head).vectors, vectors.vectors[:3])


def test_binary_detection_survives_newline_and_digit_bytes_in_vectors(tmp_path):
    # The first vector's raw bytes begin with "5\n" and "\n": line 2 of such a binary file looks short and textual.
    awkward = np.frombuffer(b"5\n\x80?" + b"\n\x00\x80?", dtype="<f4").reshape(1, 2)
    vectors = WordVectors(["w"], awkward)
    loaded = read_word2vec_format(word2vec_format(vectors, tmp_path / "v.bin", binary=True))
    np.testing.assert_array_equal(loaded.vectors, awkward)


@pytest.mark.parametrize("bad", ["two words", "tab\there", "new\nline", "cr\r", "", "\x0b"])
def test_whitespace_token_fails_and_leaves_existing_file_untouched(tmp_path, vectors, bad):
    path = word2vec_format(vectors, tmp_path / "vectors.txt")
    before = path.read_bytes()
    tokens = TOKENS[:-1] + [bad]  # the bad token comes last: the write fails midway

    with pytest.raises(ValueError, match="cannot be written in word2vec format") as error:
        word2vec_format(WordVectors(tokens, vectors.vectors), path, binary=True)

    assert repr(bad) in str(error.value)
    assert path.read_bytes() == before
    assert _hidden_leftovers(tmp_path) == []


def test_failed_write_creates_nothing(tmp_path, vectors):
    with pytest.raises(ValueError, match="'a b'"):
        word2vec_format(WordVectors(["ok", "a b"], vectors.vectors[:2]), tmp_path / "new.txt")
    assert os.listdir(tmp_path) == []


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.w2v"
    path.write_bytes(data)
    return path


VEC = struct.pack("<2f", 1.0, 2.0)


@pytest.mark.parametrize(
    "data, binary, message",
    [
        (b"", None, r"bad\.w2v: empty file"),
        (b"3\nx 1 2\n", None, r"bad\.w2v:1: bad header b'3\\n'"),
        (b"two 2\nx 1 2\n", None, r"bad\.w2v:1: bad header"),
        (b"1 0\nx\n", None, r"bad\.w2v:1: bad header"),
        (b"2 2\nx 1 2\ny 1 2 3\n", None, r"bad\.w2v:3: expected a word and 2 values, got 4 fields"),
        (b"2 2\nx 1 2\ny 1 oops\n", None, r"bad\.w2v:3: could not convert string to float: b'oops'"),
        (b"3 2\nx 1 2\ny 1 2\n", None, r"bad\.w2v:4: file ends after 2 of the 3 words"),
        (b"1 2\nx 1 2\n\ny 1 2\n", None, r"bad\.w2v:4: more lines than the 1 words announced"),
        (b"2 2\nx 1 2\nx 3 4\n", None, r"bad\.w2v:3: duplicate word 'x' \(first at .*bad\.w2v:2\)"),
        (b"2 2\nx " + VEC + b"\ny " + VEC[:5], None, r"record 2 of 2 \(byte 14\): truncated, word b'y' needs 8"),
        (b"2 2\nx " + VEC + b"\n", True, r"bad\.w2v: record 2 of 2 \(byte 14\): truncated, the file ends"),
        (b"1 2\nx " + VEC + b"\nmore", True, r"bad\.w2v: byte 15: data after the 1 words"),
        (b"2 3\nx " + VEC + b"\ny " + VEC + b"\nz " + VEC, True, r"record 2 of 2 .*header's dimension 3 right"),
        (b"1 2\n\xffx 1 2\n", None, r"bad\.w2v:2: word b'\\xffx' is not valid UTF-8 \(invalid start byte at"),
        (b"2 2\nx " + VEC + b"\nx " + VEC, None, r"bad\.w2v: record 2: duplicate word 'x' \(first at .*record 1\)"),
        (b"1 2\nab\xc3 " + VEC + b"\n", True, r"record 1 of 1 \(byte 4\): word b'ab\\xc3' is not valid UTF-8"),
    ],
    ids=[
        "empty", "short-header", "word-header", "zero-dim", "too-many-values", "bad-number", "truncated-text",
        "extra-lines", "duplicate", "truncated-vector", "missing-record", "binary-trailing-data", "wrong-dim",
        "binary-duplicate",
        "non-utf8-text", "non-utf8-binary",
    ],
)
def test_bad_files_give_clear_errors(tmp_path, data, binary, message):
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=message) as error:
        read_word2vec_format(path, binary=binary)
    assert str(path) in str(error.value)


def test_auto_detection_explains_a_malformed_text_file(tmp_path):
    path = _write(tmp_path, b"1 3\nx 1 2\n")
    with pytest.raises(ValueError, match="if the file is text, pass binary=False") as error:
        read_word2vec_format(path)
    with pytest.raises(ValueError, match=r"bad\.w2v:2: expected a word and 3 values, got 3 fields"):
        read_word2vec_format(path, binary=False)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_unicode_errors_loads_words_cut_mid_character_like_gensim(tmp_path, binary):
    # word2vec.c truncates words at a byte limit, which can cut a multi-byte character in half.
    vectors = WordVectors(["日本", "x"], np.arange(4, dtype=np.float32).reshape(2, 2))
    written = word2vec_format(vectors, tmp_path / "v", binary=binary).read_bytes()
    data = written.replace("日本".encode(), "日本".encode()[:-1])
    path = _write(tmp_path, data)

    with pytest.raises(ValueError, match="is not valid UTF-8"):
        read_word2vec_format(path)
    ours = read_word2vec_format(path, unicode_errors="replace")
    theirs = KeyedVectors.load_word2vec_format(str(path), binary=binary, unicode_errors="replace")
    assert ours.tokens == theirs.index_to_key == ["日\ufffd", "x"]
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)


def test_text_without_final_newline_is_detected_as_text(tmp_path):
    loaded = read_word2vec_format(_write(tmp_path, b"1 2\nx 1 2"))
    assert loaded.tokens == ["x"]
    np.testing.assert_array_equal(loaded.vectors, [[1, 2]])


def test_windows_line_ends_and_word2vec_c_trailing_space_are_read(tmp_path):
    path = _write(tmp_path, b"2 2\r\nx 1 2 \r\ny 3 4 \r\n")
    loaded = read_word2vec_format(path)
    assert loaded.tokens == ["x", "y"]
    np.testing.assert_array_equal(loaded.vectors, [[1, 2], [3, 4]])


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_bad_limit(tmp_path, vectors, limit):
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        word2vec_format(vectors, tmp_path / "v", limit=limit)


def test_atomic_file_replaces_on_success_and_keeps_old_content_on_error(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_file(path) as file:
        file.write("first\n")
    with pytest.raises(RuntimeError):
        with atomic_file(path, "wb") as file:
            file.write(b"half")
            assert path.read_text() == "first\n"  # nothing visible while writing
            raise RuntimeError("interrupted")

    assert path.read_text() == "first\n"
    assert _hidden_leftovers(tmp_path) == []
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not tempfile's private 0o600
    with pytest.raises(ValueError, match="mode"):
        with atomic_file(path, "a"):
            pass
