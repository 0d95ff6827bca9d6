"""Numpy references for the SavedModel signatures, shared by the export and serving-contract tests."""

from __future__ import annotations

import numpy as np

from tfw2v.training.vectors import WordVectors


def sqrtn(wv: WordVectors, sentence: str) -> np.ndarray:
    """Σv/√n over the lower-cased whitespace tokens; OOV tokens count in n with a zero vector."""
    rows = [wv[t] if t in wv else np.zeros(wv.dim, np.float32) for t in sentence.lower().split()]
    return np.sum(rows, axis=0) / np.sqrt(len(rows)) if rows else np.zeros(wv.dim, np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """``a·b / (|a| |b|)``, 0 when either is zero (the signatures' convention)."""
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return 0.0 if norms == 0 else float(a @ b / norms)
