"""Where the command line prints: progress and results to stdout, notes to stderr."""

from __future__ import annotations

import dataclasses
import sys
from typing import TextIO


@dataclasses.dataclass
class Reporter:
    """Where a run prints: ``out`` for progress and results, ``err`` for notes."""

    out: TextIO = dataclasses.field(default_factory=lambda: sys.stdout)
    err: TextIO = dataclasses.field(default_factory=lambda: sys.stderr)

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()
