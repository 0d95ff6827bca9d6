"""Training recipes: one TOML file holds everything a training run needs, and nothing else.

A recipe has the sections below; every key is optional and falls back to its default. Options given on the
command line override the recipe, the recipe overrides the defaults. A run directory keeps the fully resolved
recipe (``recipe.toml``: every key written out, paths made absolute, ``alpha`` filled in), so
``tfw2v train --recipe RUN/recipe.toml`` trains the same model again::

    [corpus]      paths, min_count, max_size
    [tokenizer]   lowercase, normalization, case_fold, unicode_script
    [phrases]     passes, threshold, min_count, scoring, max_entries, file
    [model]       architecture, dim, loss, negatives, noise, noise_exponent, share_negatives, cbow_mean
    [training]    epochs, window, sample, batch_size, alpha, seed, steps_per_execution, jit_compile, fused,
                  strategy, shards, checkpoint_every, log_every
    [evaluation]  analogies, similarity, restrict_vocab, probes, neighbors, every
    [export]      formats, projector_top

Relative paths in a recipe are relative to the recipe file; ``bundled:NAME`` names a file shipped in
``tfw2v/resources`` (``bundled:enwiki-text8style-1.5M.txt.gz`` is the default corpus, ``bundled:questions-words``
and friends the evaluation sets). Unknown sections or keys, wrong types and values outside their choices raise
:class:`RecipeError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

from tfw2v.names import (
    ARCHITECTURES,
    BUNDLED_EVALUATION,
    DEFAULT_ALPHA,
    DEFAULT_PHRASE_THRESHOLD,
    FUSED_OBJECTIVES,
    NOISE_DISTRIBUTIONS,
    OBJECTIVES,
    PHRASE_SCORINGS,
    SHARE_NEGATIVES,
    STRATEGIES,
)

BUNDLED_PREFIX = "bundled:"
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEFAULT_CORPUS = "bundled:enwiki-text8style-1.5M.txt.gz"
EXPORT_FORMATS = ("saved_model", "word2vec", "word2vec-binary", "projector")
FUSED_CHOICES = {"auto": "auto", "on": True, "off": False}  # training.fused → Word2Vec(fused=...)


class RecipeError(ValueError):
    """A recipe (file or option) that cannot be used; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class Option:
    """One recipe key: its type, default, allowed values and command-line help."""

    section: str
    key: str
    kind: str  # "int", "float", "str", "bool", "paths", "strs"
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    minimum: float | None = None
    path: bool = False  # a file path (or list of paths): resolved against the recipe's directory
    # Keys that do not change the trained vectors: a resumed run may take new values for them.
    resumable: bool = False

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    # [corpus]
    Option("corpus", "paths", "paths", [DEFAULT_CORPUS], "corpus files or globs (.gz ok); a line is a sentence",
           path=True),
    Option("corpus", "min_count", "int", 5, "drop words seen fewer times", minimum=1),
    Option("corpus", "max_size", "int", None, "keep only the most frequent words", nullable=True, minimum=1),
    # [tokenizer]
    Option("tokenizer", "lowercase", "bool", False, "lower-case (Unicode-aware)"),
    Option("tokenizer", "normalization", "str", None, "Unicode normalization (needs tensorflow-text)",
           choices=("NFC", "NFKC", "NFD", "NFKD"), nullable=True),
    Option("tokenizer", "case_fold", "bool", False, "full Unicode case folding (needs tensorflow-text)"),
    Option("tokenizer", "unicode_script", "bool", False, "also split at Unicode script changes (tensorflow-text)"),
    # [phrases]
    Option("phrases", "passes", "int", 0, "word2phrase passes that join collocations (new york -> new_york) before "
           "counting words; 0: no phrases, 2: phrases of up to 4 words", minimum=0),
    Option("phrases", "threshold", "float", None, "a pair joins when its score exceeds this (default 100 for "
           "word2vec scoring, 0.5 for npmi)", nullable=True, minimum=0),
    Option("phrases", "min_count", "int", 5, "words and pairs seen fewer times never join", minimum=1),
    Option("phrases", "scoring", "str", "word2vec", "phrase score: word2phrase's or normalized PMI",
           choices=PHRASE_SCORINGS),
    Option("phrases", "max_entries", "int", 20_000_000, "counting bound: rare entries are pruned beyond it",
           minimum=1),
    Option("phrases", "file", "str", None, "a phrase table from 'tfw2v phrases' to join instead of detecting",
           nullable=True, path=True),
    # [model]
    Option("model", "architecture", "str", "skipgram", "skip-gram or CBOW", choices=ARCHITECTURES),
    Option("model", "dim", "int", 100, "embedding size", minimum=1),
    Option("model", "loss", "str", "ns", "training objective", choices=OBJECTIVES),
    Option("model", "negatives", "int", 5, "noise samples per example (sampled objectives)", minimum=1),
    Option("model", "noise", "str", "unigram", "noise distribution", choices=NOISE_DISTRIBUTIONS),
    Option("model", "noise_exponent", "float", 0.75, "exponent of the unigram noise"),
    Option("model", "share_negatives", "str", "auto",
           "fresh negatives per pair (the fused kernel), per example or per batch; auto: pair on the kernel, "
           "example on the generic path", choices=SHARE_NEGATIVES),
    Option("model", "cbow_mean", "bool", True, "CBOW: mean of the context vectors (false: their sum)"),
    Option("model", "init_scale", "float", 1.0, "input rows start uniform in [-s/dim, s/dim) (gensim 4: 1.0; "
           "word2vec.c: 0.5)"),
    # [training]
    Option("training", "epochs", "int", 5, "passes over the corpus", minimum=1),
    Option("training", "window", "int", 5, "maximal half-window (shrunk uniformly per word)", minimum=1),
    Option("training", "sample", "float", 1e-3, "subsampling threshold (0 = off)", minimum=0),
    Option("training", "batch_size", "int", 1024, "examples (centre words) per step", minimum=1),
    Option("training", "alpha", "float", None, "initial learning rate (default 0.025 skip-gram, 0.05 CBOW)",
           nullable=True, minimum=0),
    Option("training", "seed", "int", 1, "seed of initialisation, subsampling, windows and negatives", minimum=0),
    Option("training", "steps_per_execution", "int", 32, "train steps per call into TensorFlow", minimum=1,
           resumable=True),
    Option("training", "jit_compile", "bool", False, "compile the train step with XLA", resumable=True),
    Option("training", "fused", "str", "auto", "training path: the fused C++ ops, for the train step and the "
           "pipeline's windowing (on), the generic TensorFlow ops (off), or each op where its conditions hold "
           "(auto)", choices=tuple(FUSED_CHOICES), resumable=True),
    Option("training", "strategy", "str", "none", "train in one process (none), or as a TF_CONFIG cluster: "
           "synchronous workers (multi_worker) or a coordinator with tables on parameter servers "
           "(parameter_server)", choices=STRATEGIES, resumable=True),
    Option("training", "shards", "int", None, "parameter_server: row blocks per table (default: one per "
           "parameter server)", nullable=True, minimum=1, resumable=True),
    Option("training", "checkpoint_every", "int", 1000, "save a checkpoint every N steps (0: only at epoch ends)",
           minimum=0, resumable=True),
    Option("training", "log_every", "int", 100, "log step scalars (TensorBoard, progress.jsonl) every N steps",
           minimum=1, resumable=True),
    # [evaluation]
    Option("evaluation", "analogies", "str", "bundled:questions-words", "analogy questions ('' to skip)",
           path=True, resumable=True),
    Option("evaluation", "similarity", "paths", ["bundled:wordsim353", "bundled:simlex999", "bundled:men"],
           "word-pair similarity sets ([] to skip)", path=True, resumable=True),
    Option("evaluation", "restrict_vocab", "int", 30000, "analogies: most frequent words searched", minimum=1,
           resumable=True),
    Option("evaluation", "probes", "strs", ["king", "france", "computer", "three", "war", "music"],
           "words whose nearest neighbours are shown at the end", resumable=True),
    Option("evaluation", "neighbors", "int", 8, "neighbours shown per probe word", minimum=1, resumable=True),
    Option("evaluation", "every", "int", 0, "also evaluate every N epochs during training (0: only at the end)",
           minimum=0, resumable=True),
    # [export]
    Option("export", "formats", "strs", ["saved_model", "word2vec", "projector"],
           "what the finished run exports", choices=EXPORT_FORMATS, resumable=True),
    Option("export", "projector_top", "int", 0, "projector: most frequent words written (0: all)", minimum=0,
           resumable=True),
)

SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(option.section for option in OPTIONS))
BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def section_options(section: str) -> list[Option]:
    return [option for option in OPTIONS if option.section == section]


# ---------------------------------------------------------------------------------------------------------
class Recipe:
    """A resolved configuration: ``recipe[section][key]`` for every :data:`OPTIONS` key.

    Build one with :func:`load` / :func:`resolve`; :meth:`to_toml` writes it back.
    """

    def __init__(self, values: Mapping[str, Mapping[str, Any]]):
        self.values = {section: dict(values.get(section, {})) for section in SECTIONS}

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    def flat(self) -> dict[str, Any]:
        return {f"{s}.{k}": v for s, keys in self.values.items() for k, v in keys.items()}

    def differences(self, other: "Recipe", *, training_only: bool = True) -> list[str]:
        """``"model.dim is 100 there, 50 now"`` for each key that differs (keys that a resumed run may change are
        skipped when ``training_only``)."""
        ours, theirs = self.flat(), other.flat()
        out = []
        for name in ours:
            if training_only and BY_NAME[name].resumable:
                continue
            if ours[name] != theirs.get(name):
                out.append(f"{name} is {_show(ours[name])} there, {_show(theirs.get(name))} now")
        return out

    def to_toml(self, header: Iterable[str] = ()) -> str:
        lines = [f"# {' '.join(line.splitlines())}".rstrip() for line in header]
        for section in SECTIONS:
            lines.append("" if lines else "")
            lines.append(f"[{section}]")
            for option in section_options(section):
                value = self.values[section].get(option.key)
                if value is None:
                    lines.append(f"# {option.key} is not set: {option.help}")
                else:
                    lines.append(f"{option.key} = {_toml_value(value)}")
        return "\n".join(lines).lstrip("\n") + "\n"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Recipe) and self.values == other.values

    def __repr__(self) -> str:
        return f"Recipe({self.values!r})"


def _show(value: Any) -> str:
    return "(not set)" if value is None else json.dumps(value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecipeError(f"cannot write the non-finite number {value} to a recipe")
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise RecipeError(f"cannot write {value!r} to a recipe")


# ---------------------------------------------------------------------------------------------------------
def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a TOML file; :class:`RecipeError` naming the file for a missing file or bad syntax."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file") from None
    except IsADirectoryError:
        raise RecipeError(f"{path}: is a directory, expected a recipe .toml file") from None
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(f"{path}: not valid TOML ({e})") from None
    except UnicodeDecodeError as e:
        raise RecipeError(f"{path}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise RecipeError(f"{path}: cannot read ({e.strerror or e})") from None


def check_document(
    document: Mapping[str, Any], source: str, *, base_dir: Path, allow: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Validate a parsed recipe; return ``{section: {key: value}}`` with paths made absolute.

    ``allow`` names extra top-level sections the caller handles itself (they are left out of the result).
    """
    allow = set(allow)
    result: dict[str, dict[str, Any]] = {}
    for section, keys in document.items():
        if section in allow:
            continue
        if section not in SECTIONS:
            raise RecipeError(f"{source}: unknown section [{section}]{_suggest(section, SECTIONS)} "
                              f"(known: {', '.join(SECTIONS)})")
        if not isinstance(keys, dict):
            raise RecipeError(f"{source}: '{section}' must be a [{section}] table, not a value")
        known = {option.key: option for option in section_options(section)}
        for key, value in keys.items():
            if key not in known:
                raise RecipeError(f"{source}: unknown key '{key}' in [{section}]{_suggest(key, known)} "
                                  f"(known: {', '.join(known)})")
            result.setdefault(section, {})[key] = check_value(known[key], value, source, base_dir)
    return result


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_value(option: Option, value: Any, source: str, base_dir: Path | None, *, where: str | None = None) -> Any:
    """Type-check and normalise one value; resolve paths against ``base_dir``.

    Errors read ``"<source>: [section] key must be …"``, or ``"<where> must be …"`` when ``where`` is given
    (the command line passes the option's flag).
    """
    where = where or f"{source}: [{option.section}] {option.key}"
    kind = option.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{where} must be an integer, got {_show_any(value)}")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{where} must be a number, got {_show_any(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise RecipeError(f"{where} must be a finite number, got {value}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise RecipeError(f"{where} must be true or false, got {_show_any(value)}")
    elif kind == "str":
        if not isinstance(value, str):
            raise RecipeError(f"{where} must be a string, got {_show_any(value)}")
    elif kind in ("paths", "strs"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RecipeError(f"{where} must be a list of strings, got {_show_any(value)}")
        value = list(value)
    if option.minimum is not None and kind in ("int", "float") and value < option.minimum:
        raise RecipeError(f"{where} must be >= {option.minimum:g}, got {value}")
    if option.choices is not None:
        for item in value if isinstance(value, list) else [value]:
            if item not in option.choices:
                raise RecipeError(f"{where}: {item!r} is not one of {', '.join(option.choices)}")
    if option.path and base_dir is not None:
        value = [resolve_path(v, base_dir) for v in value] if isinstance(value, list) else resolve_path(value, base_dir)
    if option.name == "corpus.paths" and not value:
        raise RecipeError(f"{where}: needs at least one corpus file")
    return value


def _show_any(value: Any) -> str:
    try:
        return json.dumps(value)
    except TypeError:
        return repr(value)


def resolve_path(value: str, base_dir: Path) -> str:
    """``bundled:NAME`` and ``''`` stay as they are; other paths become absolute (``~`` expanded)."""
    if not value or value.startswith(BUNDLED_PREFIX):
        return value
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        path = base_dir / path
    return os.path.normpath(str(path))


def bundled_path(value: str) -> str:
    """The file a recipe path names: ``bundled:NAME`` → ``tfw2v/resources/...``; others unchanged."""
    if not value.startswith(BUNDLED_PREFIX):
        return value
    name = value[len(BUNDLED_PREFIX):]
    candidate = RESOURCES / BUNDLED_EVALUATION.get(name, name)
    if not candidate.is_file():
        known = sorted({*BUNDLED_EVALUATION, *(p.name for p in RESOURCES.glob("*.gz"))})
        raise RecipeError(f"{value}: no such bundled file (known: {', '.join(known)})")
    return str(candidate)


# ---------------------------------------------------------------------------------------------------------
def load(path: str | os.PathLike, *, allow: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Read and validate a recipe file; return its (partial) ``{section: {key: value}}``."""
    path = Path(path)
    return check_document(read_toml(path), str(path), base_dir=path.resolve().parent, allow=allow)


def resolve(*layers: Mapping[str, Mapping[str, Any]]) -> Recipe:
    """Defaults, then each layer on top (later layers win); fills ``training.alpha`` from the architecture."""
    values: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for option in OPTIONS:
        default = option.default
        values[option.section][option.key] = list(default) if isinstance(default, list) else default
    for layer in layers:
        for section, keys in layer.items():
            values[section].update(keys)
    if values["training"]["alpha"] is None:
        values["training"]["alpha"] = DEFAULT_ALPHA[values["model"]["architecture"]]
    _check_fused(values)
    _check_phrases(values["phrases"])
    return Recipe(values)


def _check_phrases(phrases: dict[str, Any]) -> None:
    """Fill in the scoring's default threshold; refuse a detection and a table file at once, or an npmi
    threshold that no score can exceed."""
    if phrases["threshold"] is None:
        phrases["threshold"] = DEFAULT_PHRASE_THRESHOLD[phrases["scoring"]]
    if phrases["scoring"] == "npmi" and not phrases["threshold"] < 1:
        raise RecipeError(f"phrases.threshold = {phrases['threshold']:g} (--phrase-threshold): npmi scores lie in "
                          "[-1, 1], so the threshold must be < 1")
    if phrases["file"] and phrases["passes"]:
        raise RecipeError("phrases.file (--phrases-file) and phrases.passes (--phrases) exclude each other: "
                          "join the table in the file, or detect phrases anew")


def uses_phrases(recipe: "Recipe") -> bool:
    """Whether training joins phrases (detected by the run, or read from a table file)."""
    return bool(recipe["phrases"]["passes"] or recipe["phrases"]["file"])


def _check_fused(values: Mapping[str, Mapping[str, Any]]) -> None:
    """``fused = "on"`` with a setting the kernel cannot train is refused before anything is built."""
    if values["training"]["fused"] != "on":
        return
    loss = values["model"]["loss"]
    if loss not in FUSED_OBJECTIVES:
        raise RecipeError(f"training.fused = 'on' (--fused on), but loss {loss!r} has no fused kernel "
                          f"(it covers {', '.join(FUSED_OBJECTIVES)}); use --fused auto or off")
    if values["training"]["strategy"] != "none":
        raise RecipeError(f"training.fused = 'on' (--fused on) and strategy = {values['training']['strategy']!r} "
                          "exclude each other: the kernel is a single-replica path; use --fused auto")
    if values["training"]["jit_compile"]:
        raise RecipeError("training.fused = 'on' (--fused on) and jit_compile = true (--jit-compile) exclude "
                          "each other: XLA compiles the generic path, not the kernel")


def load_resolved(path: str | os.PathLike) -> Recipe:
    """A complete recipe file (as a run directory stores it) as a :class:`Recipe`."""
    return resolve(load(path))
