"""What each ``tfw2v`` sub-command does; argument parsing is in :mod:`tfw2v.cli.parser`."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
from pathlib import Path
from typing import Any

from tfw2v.names import OBJECTIVES
from tfw2v.training import recipe as recipes
from tfw2v.training import run_directory as runs
from tfw2v.cli import report
from tfw2v.cli.parser import recipe_overrides
from tfw2v.training.recipe import BY_NAME, Recipe, RecipeError

PROGRESS_VERBOSE = {"auto": "auto", "bar": 1, "lines": 2, "none": 0}


def command_line_layer(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The options given on the command line (and SOURCES) as a checked recipe layer."""
    layer: dict[str, dict[str, Any]] = {}
    cwd = Path.cwd()
    given = recipe_overrides(args)
    if getattr(args, "sources", None):
        given["corpus.paths"] = list(args.sources)
    for name, value in given.items():
        option = BY_NAME[name]
        flag = "SOURCES" if name == "corpus.paths" else None
        if value is None:
            layer.setdefault(option.section, {})[option.key] = None
            continue
        checked = recipes.check_value(option, value, "command line", cwd, where=flag or _flag(option))
        layer.setdefault(option.section, {})[option.key] = checked
    return layer


def _flag(option) -> str:
    from tfw2v.cli.parser import FLAGS

    return FLAGS.get(option.name) or option.flag


def resolve_recipe(args: argparse.Namespace, *, allow: tuple[str, ...] = ()) -> tuple[Recipe | None, list[str]]:
    """The recipe the command line asks for, or ``None`` when it asks for nothing in particular."""
    layers = []
    sources = []
    recipe_path = getattr(args, "recipe", None)
    if recipe_path:
        layers.append(recipes.load(recipe_path, allow=allow))
        sources.append(str(recipe_path))
    cli = command_line_layer(args)
    if cli:
        layers.append(cli)
        sources.append("command-line options")
    if not layers:
        return None, []
    return recipes.resolve(*layers), sources


# ---------------------------------------------------------------------------------------------------------
def train(args: argparse.Namespace) -> int:
    recipe, sources = resolve_recipe(args)
    out = Path(args.out) if args.out else runs.default_run_path()
    command = shlex.join(["tfw2v", *args.argv]) if getattr(args, "argv", None) is not None else None
    from tfw2v.training.run import train as train_run

    reporter = report.Reporter()
    train_run(recipe, out, sources=sources, say=reporter.say, note=reporter.note,
              verbose=PROGRESS_VERBOSE[args.progress], progress_stream=reporter.out, command=command)
    return 0


def study(args: argparse.Namespace) -> int:
    from tfw2v.cli import study as studies

    base, losses = studies.load_study(args.study_recipe)
    cli = command_line_layer(args)
    recipe = recipes.resolve(base, cli)
    chosen = args.losses or losses
    unknown = [loss for loss in chosen if loss not in OBJECTIVES]
    if unknown:
        raise RecipeError(f"--losses: unknown objective(s) {', '.join(unknown)} "
                          f"(choose from {', '.join(OBJECTIVES)})")
    studies.run_study(recipe, chosen, Path(args.out), study_file=args.study_recipe,
                      verbose=PROGRESS_VERBOSE[args.progress])
    return 0


def export(args: argparse.Namespace) -> int:
    reporter = report.Reporter()
    formats = list(recipes.EXPORT_FORMATS) if "all" in args.formats else list(dict.fromkeys(args.formats))
    to = Path(args.to)
    if os.path.lexists(to) and not to.is_dir():
        raise runs.RunError(f"{to}: exists and is not a directory")
    if args.projector_top < 0:
        raise runs.RunError(f"--projector-top must be >= 0, got {args.projector_top}")
    from tfw2v.export.bundle import export_vectors

    vectors = runs.load_vectors(args.run, say=reporter.note)
    written = export_vectors(vectors, formats, to, projector_top=args.projector_top, overwrite=args.force,
                                  say=reporter.say)
    for fmt, where in written.items():
        reporter.say(f"{fmt}: {where}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from tfw2v.evaluation.report import evaluate_vectors, evaluation_file, format_evaluation

    reporter = report.Reporter()
    path = Path(args.vectors)
    base = recipes.resolve()
    if path.is_dir():
        vectors, run_recipe, _ = runs.load_run(runs.RunDirectory(path), say=reporter.note)
        base = run_recipe
    else:
        vectors = runs.load_vectors(path)
    evaluation = dict(base["evaluation"])
    cwd = Path.cwd()
    if args.analogies is not None:
        evaluation["analogies"] = "" if args.analogies.lower() == "none" else recipes.resolve_path(args.analogies, cwd)
    if args.similarity is not None:
        files = [] if [s.lower() for s in args.similarity] == ["none"] else args.similarity
        evaluation["similarity"] = [recipes.resolve_path(f, cwd) for f in files]
    if args.restrict_vocab is not None:
        if args.restrict_vocab < 1:
            raise runs.RunError(f"--restrict-vocab must be >= 1, got {args.restrict_vocab}")
        evaluation["restrict_vocab"] = args.restrict_vocab
    recipe = recipes.resolve({**base.values, "evaluation": evaluation})
    for name in ([evaluation["analogies"]] if evaluation["analogies"] else []) + list(evaluation["similarity"]):
        evaluation_file(name)
    result = _with_input_errors(lambda: evaluate_vectors(vectors, recipe))
    if args.json:
        print(json.dumps(_json_safe(result), indent=2))
    else:
        reporter.say(f"{path}: {len(vectors):,} words, dim {vectors.dim}")
        for line in format_evaluation(result):
            reporter.say(line)
    return 0


def neighbors(args: argparse.Namespace) -> int:
    from tfw2v.evaluation.report import neighbours

    reporter = report.Reporter()
    if args.k < 1:
        raise runs.RunError(f"-k must be >= 1, got {args.k}")
    vectors = runs.load_vectors(args.vectors, say=reporter.note)
    found = neighbours(vectors, args.words, args.k)
    for word, near in found.items():
        if near is None:
            continue
        reporter.say(f"{word}:")
        for other, score in near:
            reporter.say(f"  {other}\t{score:.4f}")
    missing = [w for w, near in found.items() if near is None]
    if missing:
        reporter.note(f"tfw2v neighbors: not in the vocabulary ({len(vectors):,} words): {', '.join(missing)}")
        return 1
    return 0


def phrases(args: argparse.Namespace) -> int:
    from tfw2v.text import corpus
    from tfw2v.text.phrases import Phrases, describe_progress

    reporter = report.Reporter()
    out = Path(args.out)
    if out.is_dir():
        raise runs.RunError(f"{out}: is a directory; --out names the phrase table file")
    if out.exists() and not args.force:
        raise runs.RunError(f"{out}: exists; use --force to replace it")
    files = corpus.resolve_files(args.sources)
    from tfw2v.training.from_recipe import tokenizer_of

    tokenizer = tokenizer_of(recipes.resolve(command_line_layer(args)))
    found = Phrases.build(files, passes=args.passes, threshold=args.threshold, min_count=args.min_count,
                          scoring=args.scoring, max_entries=args.max_entries, tokenizer=tokenizer,
                          progress=describe_progress(10.0, reporter.say))
    found.save(out)
    for number, one in enumerate(found.passes, 1):
        frequent = sorted(one.phrases, key=lambda p: -p.count)[:8]
        shown = ", ".join(f"{p.left}{found.delimiter}{p.right} ({p.count})" for p in frequent)
        reporter.say(f"pass {number}: {len(one.phrases):,} phrases in {one.corpus_words:,} words"
                     f"{'; most frequent: ' + shown if shown else ''}")
    reporter.say(f"wrote {out}")
    return 0


def server(args: argparse.Namespace) -> int:
    from tfw2v.training import cluster

    try:
        cluster.serve()
    except cluster.ClusterError as e:
        raise runs.RunError(str(e)) from None
    return 0


def _with_input_errors(action):
    """Evaluation files with bad content (a malformed line, not UTF-8) are the user's to fix."""
    try:
        return action()
    except (ValueError, OSError) as e:
        raise runs.RunError(str(e)) from None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


HANDLERS = {"train": train, "study": study, "export": export, "evaluate": evaluate, "neighbors": neighbors,
            "phrases": phrases, "server": server}
