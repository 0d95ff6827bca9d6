"""A trained model's vectors written in several formats at once, refusing to overwrite what exists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from tfw2v.training.run_directory import EXPORT_NAMES, RunError


def export_vectors(vectors, formats: list[str], to: Path, *, logdir: Path | None = None, projector_top: int = 0,
                   overwrite: bool = False, saved_model_version: int | None = None,
                   say: Callable[[str], None] = print) -> dict[str, str]:
    """Write ``formats`` under ``to`` (``saved_model/<version>``, ``vectors.txt``, ``vectors.bin``,
    ``projector/`` or ``logdir``); return ``{format: path}``.

    Existing vector and projector files are kept (:class:`RunError`) unless ``overwrite``. The SavedModel goes
    to the next free version, or to ``saved_model_version`` (replaced when ``overwrite``).
    """
    from tfw2v import export

    if os.path.lexists(to) and not to.is_dir():
        raise RunError(f"{to}: exists and is not a directory")
    targets = {fmt: logdir if fmt == "projector" and logdir is not None else to / EXPORT_NAMES[fmt] for fmt in formats}
    if not overwrite:  # check every format before writing any
        for fmt, target in targets.items():
            clash = target / "metadata.tsv" if fmt == "projector" else target
            if fmt != "saved_model" and os.path.lexists(clash):
                raise RunError(f"{clash}: already exists; not overwriting it (use --force, or another --to)")
    written: dict[str, str] = {}
    for fmt, target in targets.items():
        to.mkdir(parents=True, exist_ok=True)
        try:
            if fmt == "saved_model":
                written[fmt] = str(export.saved_model(vectors, target, version=saved_model_version,
                                                      overwrite=overwrite and saved_model_version is not None))
            elif fmt in ("word2vec", "word2vec-binary"):
                written[fmt] = str(export.word2vec_format(vectors, target, binary=fmt == "word2vec-binary"))
            elif fmt == "projector":
                target.mkdir(parents=True, exist_ok=True)
                written[fmt] = str(export.projector(vectors, target, top=projector_top or None))
        except FileExistsError as e:
            raise RunError(f"{e.filename}: already exists; not overwriting it") from None
        except ImportError as e:  # the projector needs TensorBoard
            say(f"  {fmt} skipped: {e}")
        except ValueError as e:  # a token the format cannot hold (whitespace in word2vec format, …)
            raise RunError(f"{fmt} export failed: {e}") from None
    return written
