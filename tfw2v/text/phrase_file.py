"""The phrase table's file: plain UTF-8 text that a person can read and edit.

::

    # tfw2v phrases
    format = 1
    scoring = word2vec
    threshold = 100.0
    min_count = 5
    delimiter = _
    tokenizer = {"lowercase": false, "normalization": null, "case_fold": false, "unicode_script": false}

    [pass 1]
    corpus_words = 16943202
    pruned_below = 0
    # a b count(ab) count(a) count(b) score
    los angeles 1110 1218 1161 13182.77...

Settings are ``key = value`` lines, then one ``[pass N]`` section per pass, numbered from 1, with one line per
phrase: the two words, the three counts and the score, highest score first. ``#`` starts a comment line.
Scores are written with Python's ``repr``, so a table reads back exactly.
"""

from __future__ import annotations

import json
import os
import re

from tfw2v.text import corpus
from tfw2v.text.phrases import COLUMNS, FILE_FORMAT, FILE_HEADER, Phrase, PhrasePass, Phrases, PhrasesError
from tfw2v.text.tokenize import Tokenizer

_SECTION = re.compile(r"\[pass ([0-9]+)\]")
_SETTINGS = ("format", "scoring", "threshold", "min_count", "delimiter", "tokenizer")
_PASS_SETTINGS = ("corpus_words", "pruned_below")


def write(phrases: Phrases, path: corpus.Source) -> None:
    """Write ``phrases`` to ``path`` atomically (an existing file is replaced only when the write succeeds)."""
    from tfw2v.export.atomic import atomic_file

    lines = [FILE_HEADER, f"format = {FILE_FORMAT}", f"scoring = {phrases.scoring}",
             f"threshold = {phrases.threshold!r}", f"min_count = {phrases.min_count}",
             f"delimiter = {phrases.delimiter}", f"tokenizer = {json.dumps(phrases.tokenizer.get_config())}"]
    for number, found in enumerate(phrases.passes, 1):
        lines += ["", f"[pass {number}]", f"corpus_words = {found.corpus_words}",
                  f"pruned_below = {found.pruned_below}", COLUMNS]
        lines += [f"{p.left} {p.right} {p.count} {p.left_count} {p.right_count} {p.score!r}" for p in found.phrases]
    with atomic_file(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def read(path: corpus.Source) -> Phrases:
    """Read a phrase table; :class:`PhrasesError` names the file (and line) of a missing or malformed one."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise PhrasesError(f"{path}: no such phrases file") from None
    except IsADirectoryError:
        raise PhrasesError(f"{path}: is a directory, expected a phrases file") from None
    except UnicodeDecodeError as e:
        raise PhrasesError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise PhrasesError(f"{path}: cannot read ({e.strerror or e})") from None
    return _parse(text.splitlines(), path)


def _parse(lines: list[str], path: str) -> Phrases:
    if not lines or lines[0].strip() != FILE_HEADER:
        raise PhrasesError(f"{path}:1: not a tfw2v phrases file (the first line must be {FILE_HEADER!r})")
    settings: dict[str, str] = {}
    passes: list[dict] = []
    for lineno, line in enumerate(lines[1:], 2):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{lineno}"
        section = _SECTION.fullmatch(line)
        if section:
            if int(section.group(1)) != len(passes) + 1:
                raise PhrasesError(f"{where}: expected [pass {len(passes) + 1}], got {line!r}")
            passes.append({"settings": {}, "phrases": []})
            continue
        known = _PASS_SETTINGS if passes else _SETTINGS
        key, equals, value = (part.strip() for part in line.partition("="))
        if equals and key in known:
            (passes[-1]["settings"] if passes else settings)[key] = (value, where)
        elif passes:
            passes[-1]["phrases"].append(_phrase(line, where))
        else:
            raise PhrasesError(f"{where}: expected one of {', '.join(known)} as 'key = value', got {line[:80]!r}")
    for key in _SETTINGS:
        if key not in settings:
            raise PhrasesError(f"{path}: the setting '{key}' is missing")
    if _integer(*settings["format"], "format") != FILE_FORMAT:
        raise PhrasesError(f"{settings['format'][1]}: format {settings['format'][0]} is not supported "
                           f"(this tfw2v reads format {FILE_FORMAT})")
    if not passes:
        raise PhrasesError(f"{path}: no [pass 1] section")
    try:
        tokenizer = Tokenizer.from_config(json.loads(settings["tokenizer"][0]))
    except (ValueError, TypeError, AttributeError) as e:
        raise PhrasesError(f"{settings['tokenizer'][1]}: bad tokenizer setting ({e})") from None
    found = []
    for number, section in enumerate(passes, 1):
        values = section["settings"]
        for key in _PASS_SETTINGS:
            if key not in values:
                raise PhrasesError(f"{path}: [pass {number}] lacks '{key} = ...'")
        found.append(PhrasePass(_integer(*values["corpus_words"], "corpus_words", minimum=1),
                                tuple(section["phrases"]), _integer(*values["pruned_below"], "pruned_below")))
    try:
        return Phrases(found, scoring=settings["scoring"][0], threshold=_number(*settings["threshold"], "threshold"),
                       min_count=_integer(*settings["min_count"], "min_count"), tokenizer=tokenizer,
                       delimiter=settings["delimiter"][0])
    except PhrasesError as e:
        raise PhrasesError(f"{path}: {e}") from None


def _phrase(line: str, where: str) -> Phrase:
    fields = line.split()
    if len(fields) != 6:
        raise PhrasesError(f"{where}: expected 'a b count(ab) count(a) count(b) score', got {line[:80]!r}")
    a, b, count, left, right, score = fields
    return Phrase(a, b, _integer(count, where, "count(ab)", minimum=1), _integer(left, where, "count(a)", minimum=1),
                  _integer(right, where, "count(b)", minimum=1), _number(score, where, "score"))


def _integer(text: str, where: str, name: str, *, minimum: int = 0) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise PhrasesError(f"{where}: {name} must be an integer >= {minimum}, got {text!r}")
    return int(text)


def _number(text: str, where: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise PhrasesError(f"{where}: {name} must be a number, got {text!r}") from None
