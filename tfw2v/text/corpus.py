"""Corpus sources: file paths, globs (plain or gzip) or a ``tf.data.Dataset`` of lines.

A line is a sentence (word2vec.c's rule: a newline ends a sentence). Files are checked up front so that a
missing, empty-glob or binary file fails at once with its name, not deep inside a training step.

Files are read in bounded memory (:func:`line_chunks`): lines are grouped into chunks of at most
``lines_per_chunk`` lines and about :data:`CHUNK_BYTES` of text, and a line longer than :data:`PIECE_BYTES`
(the one 100 MB line of a text8-style corpus) is cut at whitespace into pieces of at most that size. Each
piece is then its own sentence: a window never reaches across a cut, which affects one word in about 170,000
(word2vec.c cuts sentences at 1,000 words, gensim's ``Text8Corpus`` at 10,000). A word is never split.
"""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np
import tensorflow as tf

Source = Union[str, os.PathLike]
Sources = Union[Source, Iterable[Source], tf.data.Dataset]

SNIFF_BYTES = 8192
#: A line longer than this is cut, at whitespace, into pieces of at most this many bytes.
PIECE_BYTES = 1 << 20
#: A chunk closes once its lines hold this many bytes, even before ``lines_per_chunk`` lines.
CHUNK_BYTES = 4 << 20
WHITESPACE = b" \t\n\r\v\f"


class CorpusError(ValueError):
    """A corpus source that cannot be read as text; the message names the file."""


def _sniff(path: str) -> bytes:
    """The first bytes of a (possibly gzip-compressed) file."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read(SNIFF_BYTES)
        with open(path, "rb") as f:
            return f.read(SNIFF_BYTES)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:  # EOFError: truncated; zlib.error: corrupt stream
        raise CorpusError(f"{path}: not a valid gzip file ({e})") from None
    except OSError as e:
        raise CorpusError(f"{path}: cannot read ({e.strerror or e})") from None


def check_text_file(path: str) -> None:
    """Raise :class:`CorpusError` naming ``path`` if it is missing, a directory, or binary (has NUL bytes)."""
    if not os.path.exists(path):
        raise CorpusError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CorpusError(f"{path}: is a directory, expected a text file")
    head = _sniff(path)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise CorpusError(f"{path}: looks like binary data (NUL byte at offset {nul}), expected UTF-8 text")


def resolve_files(sources: Source | Iterable[Source]) -> list[str]:
    """Expand paths and globs into a sorted-per-glob list of checked text files."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    files: list[str] = []
    for source in sources:
        name = os.fspath(source)
        if glob.has_magic(name) and not os.path.exists(name):  # a literal name such as "corpus[1].txt" wins
            matches = sorted(glob.glob(name))
            if not matches:
                raise CorpusError(f"{name}: the pattern matches no file")
            files.extend(matches)
        else:
            files.append(name)
    if not files:
        raise CorpusError("no corpus files given")
    for path in files:
        check_text_file(path)
    return files


def read_lines(path: str, piece_bytes: int | None = None) -> Iterator[bytes]:
    """The lines of one file without their ``\\n`` or ``\\r\\n`` (gzip decompressed on the fly when the name
    ends in ``.gz``), a line longer than ``piece_bytes`` (default :data:`PIECE_BYTES`) cut into pieces of at
    most that size.

    A cut falls just before the last whitespace of the piece, so a word that straddles two reads is carried
    into the next piece whole. Only a piece without any whitespace (one "word" of ``piece_bytes``) is cut
    inside it, at a UTF-8 character boundary.
    """
    piece_bytes = piece_bytes or PIECE_BYTES
    opener = gzip.open if path.endswith(".gz") else open
    carry = b""
    cut_line = False  # the line being read has been cut: its whitespace-only pieces are dropped
    with opener(path, "rb") as f:
        while True:
            text = carry + f.readline(piece_bytes - len(carry))
            carry = b""
            line_end = text.endswith(b"\n")
            if line_end or len(text) < piece_bytes:  # the end of a line, or of the file
                piece = (text[:-2] if text.endswith(b"\r\n") else text[:-1]) if line_end else text
                if (text and not cut_line) or piece.strip():
                    yield piece
                if not line_end:
                    return
                cut_line = False
            else:  # the line goes on: cut before its last whitespace and carry the rest
                cut = max(text.rfind(bytes([c])) for c in WHITESPACE)
                if cut <= 0:
                    cut = _last_character_end(text)
                piece, carry = text[:cut], text[cut:]
                if piece.strip():
                    yield piece
                cut_line = True


def _last_character_end(text: bytes) -> int:
    """The end of the last complete UTF-8 character of ``text`` (its length, unless it ends mid-character)."""
    start = len(text) - 1
    while start > 0 and text[start] & 0xC0 == 0x80:  # continuation bytes
        start -= 1
    lead = text[start]
    length = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return len(text) if start == 0 or len(text) - start >= length else start


def line_chunks(sources: Sources, lines_per_chunk: int) -> tf.data.Dataset:
    """All lines of all sources, in order, in chunks: a dataset of ``[n]`` strings, ``n ≤ lines_per_chunk``.

    Files are read by :func:`read_lines` and a chunk also closes once it holds :data:`CHUNK_BYTES`, so memory
    stays bounded however long the lines are; a corpus of ordinary lines gets exactly ``lines_per_chunk``
    lines per chunk (the last one fewer), across file boundaries, as ``lines.batch(lines_per_chunk)`` would.
    A ``tf.data.Dataset`` source of scalar strings is batched as it is.
    """
    if isinstance(sources, tf.data.Dataset):
        spec = sources.element_spec
        if not (isinstance(spec, tf.TensorSpec) and spec.dtype == tf.string and spec.shape.rank == 0):
            raise CorpusError(f"a dataset source must yield scalar tf.string lines, got {spec}")
        return sources.batch(lines_per_chunk)
    files = resolve_files(sources)

    def chunks() -> Iterator[np.ndarray]:
        lines: list[bytes] = []
        size = 0
        for path in files:
            for line in read_lines(path):
                lines.append(line)
                size += len(line)
                if len(lines) == lines_per_chunk or size >= CHUNK_BYTES:
                    yield np.array(lines, dtype=object)
                    lines, size = [], 0
        if lines:
            yield np.array(lines, dtype=object)

    return tf.data.Dataset.from_generator(chunks, output_signature=tf.TensorSpec([None], tf.string))


def text_lines(sources: Source | Iterable[Source]) -> tf.data.Dataset:
    """All lines of the files, in order, as scalar strings read by TensorFlow's ``TextLineDataset`` (gzip when
    the name ends in ``.gz``): a dataset of TensorFlow ops only, which a remote ``tf.distribute`` worker can run
    (:func:`line_chunks` reads in a Python generator, which runs only in the process that made it). Lines are
    read whole, without :func:`line_chunks`' cut into pieces, so a worker holds its longest line in memory.
    """
    datasets = [tf.data.TextLineDataset(path, compression_type="GZIP" if path.endswith(".gz") else "")
                for path in resolve_files(sources)]
    lines = datasets[0]
    for more in datasets[1:]:
        lines = lines.concatenate(more)
    return lines


def describe(sources: Sources) -> str:
    """A short human name for error messages."""
    if isinstance(sources, tf.data.Dataset):
        return "the given tf.data.Dataset"
    if isinstance(sources, (str, os.PathLike)):
        return os.fspath(sources)
    names = [os.fspath(s) for s in sources]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def as_path(path: Source) -> Path:
    return Path(os.fspath(path))
