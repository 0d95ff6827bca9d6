"""Shared fixtures: the committed Lee corpus and helpers that write small corpora under ``tmp_path``.

Unit tests never read /work/shared; everything they need is here or under ``tests/data``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Callable, Iterable

import pytest

from benchmarks.cluster import free_ports  # noqa: F401 - loopback ports for the cluster tests

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DATA_DIR = Path(__file__).parent / "data"
LEE_CORPUS = DATA_DIR / "lee_background.cor"
LEE_LINES = 300  # one news article per line (the file has no final newline)
LEE_TOKENS = 59_890  # whitespace tokens (sum of len(line.split()))


@pytest.fixture(scope="session")
def lee_path() -> Path:
    """tests/data/lee_background.cor: 300 news articles, one per line, 59,890 whitespace tokens, ASCII."""
    assert LEE_CORPUS.is_file(), f"missing test corpus {LEE_CORPUS}"
    return LEE_CORPUS


@pytest.fixture(scope="session")
def lee_lines(lee_path) -> list[str]:
    """The Lee corpus as a list of lines (sentences)."""
    with open(lee_path, encoding="utf-8") as f:
        return f.read().splitlines()


@pytest.fixture
def write_corpus(tmp_path) -> Callable[..., Path]:
    """``write_corpus(lines, name="corpus.txt")`` writes ``lines`` (str or bytes, one per line) under
    ``tmp_path`` and returns the path; a name ending in ``.gz`` is gzip-compressed."""

    def write(lines: Iterable[str | bytes], name: str = "corpus.txt", *, final_newline: bool = True) -> Path:
        encoded = [line.encode("utf-8") if isinstance(line, str) else line for line in lines]
        data = b"\n".join(encoded) + (b"\n" if final_newline and encoded else b"")
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".gz"):
            with gzip.open(path, "wb") as f:
                f.write(data)
        else:
            path.write_bytes(data)
        return path

    return write


def positional_sentences(lengths: Iterable[int]) -> list[list[str]]:
    """Sentences whose tokens name their sentence and position: ``s3p17`` is word 17 of sentence 3."""
    return [[f"s{s}p{p}" for p in range(n)] for s, n in enumerate(lengths)]


@pytest.fixture
def positional_corpus() -> Callable[[Iterable[int]], list[list[str]]]:
    """``positional_corpus(lengths)`` → sentences of self-describing tokens ``s{sentence}p{position}``."""
    return positional_sentences


BUNDLED_CORPUS = Path(__file__).resolve().parents[1] / "tfw2v" / "resources" / "enwiki-text8style-1.5M.txt.gz"


def bundled_slice(directory: Path, words: int) -> str:
    """The first ``words`` words of the bundled corpus (real Wikipedia text) as one line in ``directory``."""
    with gzip.open(BUNDLED_CORPUS, "rt", encoding="utf-8") as f:
        text = f.read(words * 8).split()[:words]  # ~6 characters a word: enough text, never the whole file
    path = directory / "slice.txt"
    path.write_text(" ".join(text) + "\n")
    return str(path)

