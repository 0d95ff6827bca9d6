"""word2vec.c's vector file formats, as gensim's ``KeyedVectors.load_word2vec_format`` reads them.

Both formats start with the header line ``"<V> <D>\\n"``; then, per word, in vocabulary (frequency) order:

* text: ``word v1 … vD\\n``, values separated by single spaces (written with 9 significant digits, which
  reproduce every float32 exactly);
* binary (word2vec.c ``-binary 1``): the UTF-8 word, one space, ``D`` little-endian float32, ``\\n``.

Words are split from their vectors at ASCII whitespace, so a token containing any cannot be written.
"""

from __future__ import annotations

import itertools
import mmap
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from tfw2v.export.atomic import PathLike, atomic_file
from tfw2v.training.vectors import HasWordVectors, WordVectors, as_word_vectors

_ASCII_WHITESPACE = frozenset(" \t\n\r\v\f")
_NON_BLANK = re.compile(rb"\S")
_FLOAT32 = np.dtype("<f4")
# 9 significant digits print every float32 exactly: text files round-trip bit for bit.
_VALUE_FORMAT = "%.9g"


def word2vec_format(
    model_or_vectors: WordVectors | HasWordVectors,
    path: PathLike,
    *,
    binary: bool = False,
    limit: int | None = None,
) -> Path:
    """Write word vectors to ``path`` in word2vec.c text (default) or binary format; return the path.

    ``limit`` keeps only the first (most frequent) ``limit`` words. The file is replaced atomically: on any
    error (e.g. a token containing whitespace, which raises ``ValueError`` naming it) an existing file at
    ``path`` is left untouched.
    """
    vectors = as_word_vectors(model_or_vectors)
    count = _limited(len(vectors), limit)
    rows = vectors.vectors[:count].astype(_FLOAT32, copy=False)
    row_format = " ".join([_VALUE_FORMAT] * vectors.dim)
    path = Path(path)
    with atomic_file(path, "wb") as file:
        file.write(f"{count} {vectors.dim}\n".encode("ascii"))
        for token, row in zip(itertools.islice(vectors.tokens, count), rows):
            values = row.tobytes() if binary else (row_format % tuple(row.tolist())).encode("ascii")
            file.write(_encode_token(token) + b" " + values + b"\n")
    return path


def read_word2vec_format(
    path: PathLike,
    *,
    binary: bool | None = None,
    limit: int | None = None,
    unicode_errors: str = "strict",
) -> WordVectors:
    """Read a word2vec.c text or binary file (``binary=None`` detects which) into :class:`WordVectors`.

    ``limit`` reads only the first ``limit`` words. Words that are not valid UTF-8 raise ``ValueError``
    showing their bytes; ``unicode_errors`` (``"replace"``, ``"backslashreplace"``, ``"ignore"``, as in
    gensim and :meth:`bytes.decode`) loads them anyway — word2vec.c cuts long words at a byte limit, which can
    split a character. Every format error names the file and the line (text) or record and byte offset
    (binary): a bad header, a wrong number of values, a truncated file, data beyond the announced ``V``
    words, a duplicate word.
    """
    path = Path(path)
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            raise ValueError(f"{path}: empty file, expected a header line '<V> <D>'")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _Reader(path, data, limit, unicode_errors).read(binary)


def _limited(available: int, limit: int | None) -> int:
    if limit is None:
        return available
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    return min(available, limit)


def _encode_token(token: str) -> bytes:
    if not token or not _ASCII_WHITESPACE.isdisjoint(token):
        raise ValueError(
            f"token {token!r} cannot be written in word2vec format: words are separated from their vectors "
            "by whitespace, so they must be non-empty and contain none"
        )
    try:
        return token.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"token {token!r} cannot be written in word2vec format: {e.reason}") from None


class _Reader:
    """Parses one memory-mapped word2vec file; every error message names ``path``."""

    def __init__(self, path: Path, data: mmap.mmap, limit: int | None, unicode_errors: str):
        self.path = path
        self.data = data
        self.unicode_errors = unicode_errors
        self.count, self.dim = self._header()
        self.vectors = np.empty((_limited(self.count, limit), self.dim), dtype=np.float32)
        self.tokens: list[str] = []

    def read(self, binary: bool | None) -> WordVectors:
        """Parse the records after the header, as text, binary, or whichever line 2 looks like."""
        if binary is True:
            self._binary()
        elif binary is False or self._starts_like_text():
            self._text()
        else:
            try:
                self._binary()
            except ValueError as e:
                raise ValueError(
                    f"{e}\n(format detected as binary because line 2 is not a word and {self.dim} numbers; "
                    "if the file is text, pass binary=False to see what is wrong with that line)"
                ) from None
        return WordVectors(self.tokens, self.vectors)

    def _header(self) -> tuple[int, int]:
        line = self.data.readline()
        fields = line.split()
        if len(fields) != 2 or not all(f.isdigit() for f in fields) or int(fields[1]) < 1:
            raise ValueError(
                f"{self.path}:1: bad header {line[:80]!r}: expected '<V> <D>', the number of words and the "
                "(positive) dimension; files without this header are not supported"
            )
        return int(fields[0]), int(fields[1])

    def _starts_like_text(self) -> bool:
        """True if line 2 is a word and ``dim`` numbers (a binary record never is, except by absurd chance)."""
        start = self.data.tell()
        stop = start + 64 * self.dim + 4096
        end = self.data.find(b"\n", start, stop)
        fields = self.data[start : end if end >= 0 else stop].split()
        if len(fields) != self.dim + 1:
            return False
        try:
            np.array(fields[1:], dtype=np.float32)
        except ValueError:
            return False
        return True

    def _text(self) -> None:
        for i in range(len(self.vectors)):
            where = f"{self.path}:{i + 2}"
            line = self.data.readline()
            if not line:
                raise ValueError(f"{where}: file ends after {i} of the {self.count} words announced in the header")
            fields = line.split()
            if len(fields) != self.dim + 1:
                raise ValueError(
                    f"{where}: expected a word and {self.dim} values, got {len(fields)} fields: {line[:80]!r}"
                )
            try:
                self.vectors[i] = np.array(fields[1:], dtype=np.float32)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            self._add_word(fields[0], where)
        self._check_unique(lambda i: f"{self.path}:{i + 2}")
        extra = self._extra_data()
        if extra is not None:
            line = self.count + 2 + self.data[self.data.tell() : extra].count(b"\n")
            raise ValueError(f"{self.path}:{line}: more lines than the {self.count} words announced in the header")

    def _binary(self) -> None:
        size = self.dim * _FLOAT32.itemsize
        start = self.data.tell()
        for i in range(len(self.vectors)):
            where = f"{self.path}: record {i + 1} of {self.count} (byte {start})"
            space = self.data.find(b" ", start)
            if space < 0:
                raise ValueError(f"{where}: truncated, the file ends before the next word")
            word = self.data[start:space].lstrip(b"\n")
            if not word or b"\n" in word or b"\0" in word:
                raise ValueError(
                    f"{where}: expected a word followed by a space, found {word[:40]!r} "
                    f"(is the header's dimension {self.dim} right?)"
                )
            end = space + 1 + size
            if end > len(self.data):
                raise ValueError(
                    f"{where}: truncated, word {word[:80]!r} needs {size} bytes of vector, "
                    f"the file has {len(self.data) - space - 1}"
                )
            self.vectors[i] = np.frombuffer(self.data[space + 1 : end], dtype=_FLOAT32)
            self._add_word(word, where)
            start = end
        self._check_unique(lambda i: f"{self.path}: record {i + 1}")
        self.data.seek(start)
        extra = self._extra_data()
        if extra is not None:
            raise ValueError(f"{self.path}: byte {extra}: data after the {self.count} words the header announces")

    def _add_word(self, raw: bytes, where: str) -> None:
        try:
            word = raw.decode("utf-8", errors=self.unicode_errors)
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{where}: word {raw[:80]!r} is not valid UTF-8 ({e.reason} at byte {e.start}); "
                "pass unicode_errors='replace' or 'backslashreplace' to load it anyway"
            ) from None
        self.tokens.append(word)

    def _check_unique(self, location: Callable[[int], str]) -> None:
        """Name the first repeated word and where it occurs (``location`` of a word's index)."""
        if len(set(self.tokens)) == len(self.tokens):
            return
        first: dict[str, int] = {}
        for i, word in enumerate(self.tokens):
            if first.setdefault(word, i) != i:
                raise ValueError(f"{location(i)}: duplicate word {word!r} (first at {location(first[word])})")

    def _extra_data(self) -> int | None:
        """Offset of the first non-whitespace byte after the records, if all ``V`` were read and one exists."""
        if len(self.vectors) < self.count:
            return None
        match = _NON_BLANK.search(self.data, self.data.tell())
        return match.start() if match else None
