"""The ``tfw2v`` command: ``train``, ``study``, ``export``, ``evaluate``, ``neighbors``, ``phrases``, ``server``.

    tfw2v train                                   # the default main job on the bundled corpus
    tfw2v train corpus.txt --dim 200 --loss hs --out runs/mine
    tfw2v train --recipe pipelines/text8-skipgram-ns.toml --out runs/text8
    tfw2v train --out runs/text8                  # continue an interrupted run
    tfw2v export runs/text8 --format all --to serving/
    tfw2v evaluate runs/text8            tfw2v neighbors runs/text8 king queen -k 5
    tfw2v study pipelines/loss-study.toml --out studies/losses
    tfw2v phrases corpus.txt --out phrases.txt --passes 2    # then: tfw2v train corpus.txt --phrases-file phrases.txt
    TF_CONFIG=... tfw2v train --strategy multi_worker --out RUN          # on every worker of a cluster
    TF_CONFIG=... tfw2v server     # each worker and ps; the chief: tfw2v train --strategy parameter_server

Errors the user can fix end with one line on stderr and exit code 2; a run stopped by SIGINT/SIGTERM saves a
checkpoint, says so in one line and exits with 128 + the signal number (130, 143).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Sequence

# Keras warnings that a streaming word2vec dataset triggers by design (unknown length, no build()).
_EXPECTED_WARNINGS = (
    r"Your input ran out of data",
    r"`build\(\)` was called on layer",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF C++ start-up chatter; real errors still raise
    for pattern in _EXPECTED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)

    from tfw2v.cli import parser as cli_parser

    argv = list(sys.argv[1:] if argv is None else argv)
    args = cli_parser.build().parse_args(argv)
    args.argv = argv  # recorded in a run's recipe.toml
    prog = f"tfw2v {args.command}"
    from tfw2v.training.checkpointing import Interrupted
    from tfw2v.cli.commands import HANDLERS

    try:
        return HANDLERS[args.command](args)
    except Interrupted as stop:
        where = f"; checkpoint {stop.checkpoint}" if stop.checkpoint else ""
        _error(f"{prog}: stopped by {stop.signal_name} in epoch {stop.epoch + 1} at step {stop.step}{where}; "
               "run the same command again to resume")
        return stop.exit_code
    except KeyboardInterrupt as e:
        name = str(e) or "SIGINT"
        _error(f"{prog}: interrupted ({name}); the last checkpoint, if any, is kept: run the same command to resume")
        return 143 if name == "SIGTERM" else 130
    except BrokenPipeError:  # e.g. `tfw2v neighbors … | head`
        return 0
    except Exception as e:
        message = user_error_message(e)
        if message is None:
            raise
        _error(f"{prog}: error: {message}")
        return 2


def user_error_message(error: BaseException) -> str | None:
    """The one-line message of an error the user can fix, or ``None`` for a bug (shown with a traceback)."""
    from tfw2v.text.corpus import CorpusError
    from tfw2v.training.recipe import RecipeError
    from tfw2v.training.run_directory import RunError

    phrases = sys.modules.get("tfw2v.text.phrases")  # a PhrasesError implies the (TensorFlow-importing) module loaded
    user_errors = (RecipeError, RunError, CorpusError) + ((phrases.PhrasesError,) if phrases else ())
    if isinstance(error, user_errors):
        return " ".join(str(error).split("\n"))
    if isinstance(error, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError,
                          FileExistsError)):
        name = error.filename or ""
        return f"{name}: {error.strerror or error}" if name else str(error)
    return None


def _error(line: str) -> None:
    sys.stderr.write(line.rstrip() + "\n")
    sys.stderr.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
