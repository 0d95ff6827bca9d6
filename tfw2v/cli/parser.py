"""The ``tfw2v`` command line: sub-commands and options, generated from the recipe schema.

Every recipe key (see :mod:`tfw2v.training.recipe`) has an option of ``tfw2v train`` and ``tfw2v study``: ``--dim``,
``--min-count``, ``--lowercase/--no-lowercase``, ``--cbow-mean/--cbow-sum``… Only the options actually given
are collected (argparse ``SUPPRESS`` defaults), so that they can override a recipe without resetting it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from tfw2v.training.recipe import EXPORT_FORMATS, OPTIONS, Option

EXPORT_CHOICES = ("all", *EXPORT_FORMATS)
NONE_WORDS = ("none", "")
# Options whose flag is not simply --<key>:
FLAGS = {
    "corpus.paths": None,  # positional SOURCES
    "evaluation.probes": "--probe",
    "evaluation.neighbors": "--neighbors",
    "evaluation.every": "--evaluate-every",
    "export.formats": "--export",
    "phrases.passes": "--phrases",
    "phrases.threshold": "--phrase-threshold",
    "phrases.min_count": "--phrase-min-count",
    "phrases.scoring": "--phrase-scoring",
    "phrases.max_entries": "--phrase-max-entries",
    "phrases.file": "--phrases-file",
}


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def _dest(option: Option) -> str:
    return f"opt:{option.name}"


def _list_of(text: str) -> list[str]:
    """``a,b`` → ``["a", "b"]``; ``none`` → ``[]``."""
    if text.strip().lower() in NONE_WORDS:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def add_recipe_options(parser: argparse.ArgumentParser, sections: tuple[str, ...] | None = None) -> None:
    """One option per recipe key, grouped by recipe section (only ``sections``' keys when given)."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for option in OPTIONS:
        if sections is not None and option.section not in sections:
            continue
        if option.section not in groups:
            groups[option.section] = parser.add_argument_group(f"[{option.section}] options (override the recipe)")
        group = groups[option.section]
        flag = FLAGS.get(option.name, option.flag)
        if flag is None:
            continue
        common: dict[str, Any] = dict(dest=_dest(option), default=argparse.SUPPRESS)
        default = "not set" if option.default is None else option.default
        help_text = f"{option.help} (default: {default})"
        if option.name == "model.cbow_mean":
            group.add_argument("--cbow-mean", action="store_const", const=True, help=help_text, **common)
            group.add_argument("--cbow-sum", action="store_const", const=False,
                               help="CBOW: sum of the context vectors", **common)
        elif option.kind == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text, **common)
        elif option.kind == "int":
            group.add_argument(flag, type=int, metavar="N", help=help_text, **common)
        elif option.kind == "float":
            group.add_argument(flag, type=float, metavar="X", help=help_text, **common)
        elif option.kind == "str":
            choices = None
            if option.choices is not None:
                choices = option.choices + (("none",) if option.nullable else ())
            metavar = None if choices else ("FILE" if option.path else "TEXT")
            group.add_argument(flag, choices=choices, metavar=metavar, help=help_text, **common)
        elif option.name == "export.formats":
            group.add_argument(flag, type=_list_of, metavar="FORMATS",
                               help=f"comma-separated, from {', '.join(EXPORT_FORMATS)}, or 'none' "
                                    f"(default: {','.join(option.default)})", **common)
        elif option.kind in ("paths", "strs"):
            group.add_argument(flag, action="append", metavar="FILE" if option.path else "WORD",
                               help=f"{option.help}; repeat for more, 'none' for none (default: "
                                    f"{' '.join(option.default)})", **common)


def recipe_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``{option name: raw value}`` of the recipe options given on the command line."""
    given = {}
    for option in OPTIONS:
        dest = _dest(option)
        if hasattr(args, dest):
            value = getattr(args, dest)
            if isinstance(value, str) and value.lower() == "none":
                if option.nullable:
                    value = None
                elif option.path:  # --analogies none
                    value = ""
            if option.kind in ("paths", "strs") and isinstance(value, list) and option.name != "export.formats":
                value = [] if [v.lower() for v in value] in (["none"], [""]) else value
            given[option.name] = value
    return given


def build() -> Parser:
    parser = Parser(
        prog="tfw2v",
        description="word2vec (skip-gram, CBOW; six objectives) in TensorFlow/Keras: train, evaluate, export.",
    )
    from tfw2v import __version__

    parser.add_argument("--version", action="version", version=f"tfw2v {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    train = commands.add_parser(
        "train", help="train (or resume) a run",
        description="Train word vectors. Without SOURCES the bundled 1.5M-word Wikipedia corpus is used. "
                    "Options override the recipe; the run directory keeps the resolved recipe, checkpoints, "
                    "TensorBoard logs, the evaluation and the exports. Run the same command again (or "
                    "'tfw2v train --out RUN' alone) to resume an interrupted run.",
    )
    train.add_argument("sources", nargs="*", metavar="SOURCES", help="corpus files or globs (.gz ok)")
    _add_run_options(train, "the run directory (default: runs/<timestamp>)")
    add_recipe_options(train)

    study = commands.add_parser(
        "study", help="train every objective of a loss study and tabulate them",
        description="Train the objectives listed in the study recipe's [study] losses on the same data and "
                    "seed, one run each under OUT/<loss>/ (resumable), then write OUT/results.md, "
                    "OUT/results.json and OUT/loss_study.png (needs matplotlib: pip install 'tfw2v[study]').",
    )
    study.add_argument("study_recipe", metavar="RECIPE", help="a study recipe, e.g. pipelines/loss-study.toml")
    study.add_argument("--out", required=True, help="the study directory")
    study.add_argument("--losses", type=_list_of, help="comma-separated subset of the study's losses")
    study.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                       help="progress display (default: a bar on a terminal, lines otherwise)")
    add_recipe_options(study)

    export = commands.add_parser(
        "export", help="export a run's vectors",
        description="Export a run's vectors: saved_model → TO/saved_model/<version>/ (TF Serving, TF Hub), "
                    "projector → TO/projector/ (TensorBoard Embedding Projector, projector.tensorflow.org), "
                    "word2vec → TO/vectors.txt, word2vec-binary → TO/vectors.bin.",
    )
    export.add_argument("run", metavar="RUN_DIR")
    export.add_argument("--format", dest="formats", type=_format_list, default=["all"],
                        help=f"comma-separated, from {', '.join(EXPORT_CHOICES)} (default: all)")
    export.add_argument("--to", required=True, metavar="DIR", help="output directory (created if missing)")
    export.add_argument("--projector-top", type=int, default=0, metavar="N",
                        help="projector: only the N most frequent words (default: all)")
    export.add_argument("--force", action="store_true", help="replace existing vectors/projector files")

    evaluate = commands.add_parser(
        "evaluate", help="analogy and similarity scores",
        description="Score a run (or a word2vec-format file): analogy accuracy (3CosAdd, gensim's semantics) and "
                    "Spearman correlation on word-pair sets. Defaults: a run's own [evaluation] sets, else the "
                    "bundled questions-words, WordSim353, SimLex-999 and MEN.",
    )
    evaluate.add_argument("vectors", metavar="RUN_DIR_OR_VECTORS")
    evaluate.add_argument("--analogies", metavar="FILE", help="analogy questions ('none' to skip)")
    evaluate.add_argument("--similarity", metavar="FILE", action="append",
                          help="word-pair file; repeat for more ('none' to skip)")
    evaluate.add_argument("--restrict-vocab", type=int, metavar="N", help="analogies: most frequent words searched")
    evaluate.add_argument("--json", action="store_true", help="print the full results as JSON")

    phrases = commands.add_parser(
        "phrases", help="detect phrases (word2phrase) and write a phrase table",
        description="Detect collocations (new york -> new_york) with word2vec.c's word2phrase score, or "
                    "normalized PMI, and write them to a plain-text phrase table that 'tfw2v train "
                    "--phrases-file FILE' joins. --passes 2 finds phrases of up to four words.",
    )
    phrases.add_argument("sources", nargs="+", metavar="SOURCES", help="corpus files or globs (.gz ok)")
    phrases.add_argument("--out", required=True, metavar="FILE", help="the phrase table to write")
    phrases.add_argument("--passes", type=int, default=1, metavar="N", help="detection passes (default: 1)")
    phrases.add_argument("--threshold", type=float, metavar="X",
                         help="join pairs scoring above this (default: 100 word2vec, 0.5 npmi)")
    phrases.add_argument("--min-count", type=int, default=5, metavar="N",
                         help="words and pairs seen fewer times never join (default: 5)")
    phrases.add_argument("--scoring", choices=("word2vec", "npmi"), default="word2vec",
                         help="word2phrase's score or normalized PMI (default: word2vec)")
    phrases.add_argument("--max-entries", type=int, default=20_000_000, metavar="N",
                         help="counting bound: rare entries are pruned beyond it (default: 20000000)")
    phrases.add_argument("--force", action="store_true", help="replace an existing FILE")
    add_recipe_options(phrases, sections=("tokenizer",))

    commands.add_parser(
        "server", help="run a worker or parameter server of a cluster (TF_CONFIG) until stopped",
        description="Run this machine's task of a parameter-server cluster, as TF_CONFIG names it (a 'worker' "
                    "or a 'ps'), until the process is stopped (SIGTERM, Ctrl-C). The chief trains with "
                    "'tfw2v train --strategy parameter_server'; see the README's 'Training on a cluster'.",
    )

    neighbors = commands.add_parser("neighbors", help="nearest neighbours of words",
                                    description="The nearest words by cosine similarity.")
    neighbors.add_argument("vectors", metavar="RUN_DIR_OR_VECTORS")
    neighbors.add_argument("words", nargs="+", metavar="WORD")
    neighbors.add_argument("-k", type=int, default=10, metavar="N", help="neighbours per word (default: 10)")
    return parser


def _add_run_options(parser: argparse.ArgumentParser, out_help: str) -> None:
    parser.add_argument("--recipe", metavar="FILE", help="a recipe TOML file, e.g. pipelines/default.toml")
    parser.add_argument("--out", metavar="RUN_DIR", help=out_help)
    parser.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                        help="progress display (default: a bar on a terminal, lines otherwise)")


def _format_list(text: str) -> list[str]:
    formats = _list_of(text)
    unknown = [f for f in formats if f not in EXPORT_CHOICES]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"invalid format {', '.join(unknown) or repr(text)} (choose from {', '.join(EXPORT_CHOICES)})"
        )
    return formats
