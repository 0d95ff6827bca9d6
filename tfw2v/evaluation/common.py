"""What analogy and similarity evaluation share: the bundled data sets, numbered lines, vocabulary lookup."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

from tfw2v.names import BUNDLED_EVALUATION

DATA_DIR = Path(__file__).resolve().parent.parent / "resources"


PathLike = str | os.PathLike[str]


def bundled(name: str) -> Path:
    """Path of an evaluation set shipped with the package (see ``tfw2v/resources/README.md`` for licences).

    ``name`` is one of ``"questions-words"`` (Google analogies), ``"wordsim353"``, ``"simlex999"``, ``"men"``.
    """
    try:
        return DATA_DIR / BUNDLED_EVALUATION[name]
    except KeyError:
        raise ValueError(f"unknown bundled evaluation set {name!r}; expected one of {sorted(BUNDLED_EVALUATION)}") from None


def numbered_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """``(line_number, line)`` pairs of a UTF-8 text file, numbered from 1, line endings removed.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming file and line for bad UTF-8.
    """
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                yield line_no, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{line_no}: not valid UTF-8 ({e.reason})") from None


def lookup_key(word: str, case_insensitive: bool) -> str:
    """The form a word is matched by: upper-cased when ``case_insensitive`` (gensim's convention)."""
    return word.upper() if case_insensitive else word


def word_lookup(tokens: Sequence[str], case_insensitive: bool) -> dict[str, int]:
    """Map each lookup key to the row of its first occurrence in ``tokens``.

    With ``case_insensitive`` the keys are upper-cased, so ``"Paris"`` and ``"paris"`` share one key and the
    more frequent variant (the earlier row) stands for both, as gensim's ``evaluate_word_*`` methods do.
    """
    lookup: dict[str, int] = {}
    for row, token in enumerate(tokens):
        lookup.setdefault(lookup_key(token, case_insensitive), row)
    return lookup
