"""What a recipe builds: its corpus files, tokenizer, phrase table and vocabulary of a run, the model and each
epoch's dataset. Every problem the user can fix raises :class:`~tfw2v.training.run_directory.RunError`."""

from __future__ import annotations

import math
from typing import Any

from tfw2v.names import SAMPLED_OBJECTIVES
from tfw2v.training import recipe as recipes
from tfw2v.training.recipe import Recipe
from tfw2v.training.run_directory import RunDirectory, RunError


def tokenizer_of(recipe: Recipe):
    from tfw2v.text.tokenize import Tokenizer

    return Tokenizer.from_config(dict(recipe["tokenizer"]))


def corpus_files(recipe: Recipe) -> list[str]:
    from tfw2v.text import corpus

    paths = [recipes.bundled_path(p) for p in recipe["corpus"]["paths"]]
    try:
        return corpus.resolve_files(paths)
    except corpus.CorpusError as e:
        raise RunError(str(e)) from None


def build_model(recipe: Recipe, vocab) -> Any:
    """The :class:`~tfw2v.training.model.Word2Vec` a recipe describes, compiled with word2vec's optimizer."""
    from tfw2v.training.model import Word2Vec

    m, t = recipe["model"], recipe["training"]
    options: dict[str, Any] = {}
    if m["loss"] in SAMPLED_OBJECTIVES:
        options.update(noise=m["noise"], noise_exponent=m["noise_exponent"], share_negatives=m["share_negatives"])
    try:
        model = Word2Vec(
            vocab, dim=m["dim"], architecture=m["architecture"], loss=m["loss"], negatives=m["negatives"],
            alpha=t["alpha"], seed=t["seed"], init_scale=m["init_scale"], fused=recipes.FUSED_CHOICES[t["fused"]], **options,
        )
    except ValueError as e:
        raise RunError(f"cannot build the model: {e}") from None
    try:
        model.compile(steps_per_execution=t["steps_per_execution"], jit_compile=t["jit_compile"])
    except ValueError as e:  # fused = "on" where the kernel cannot be built or run
        raise RunError(f"cannot train this model: {e}") from None
    return model


def make_dataset(recipe: Recipe, files: list[str], vocab, seed: int):
    from tfw2v import data

    m, t = recipe["model"], recipe["training"]
    common = dict(window=t["window"], sample=t["sample"], batch_size=t["batch_size"], seed=seed,
                  fused=recipes.FUSED_CHOICES[t["fused"]])
    if m["architecture"] == "cbow":
        return data.cbow_dataset(files, vocab, cbow_mean=m["cbow_mean"], **common)
    return data.skipgram_dataset(files, vocab, **common)


def load_vocab(run: RunDirectory, recipe: Recipe, corpus_words: int | None):
    from tfw2v.text.vocabulary import Vocabulary

    phrases = load_phrases(run, recipe)
    try:
        return Vocabulary.load(run.vocab_file, corpus_words=corpus_words, tokenizer=tokenizer_of(recipe),
                               phrases=phrases)
    except (ValueError, OSError) as e:
        raise RunError(f"corrupt run directory: {e}") from None


def load_phrases(run: RunDirectory, recipe: Recipe):
    """The run's phrase table (``None`` when its recipe joins no phrases)."""
    from tfw2v.text.phrases import Phrases

    if not recipes.uses_phrases(recipe):
        return None
    if not run.phrases_file.is_file():
        raise RunError(f"corrupt run directory: {run.phrases_file} is missing, but the recipe joins phrases")
    try:
        return Phrases.load(run.phrases_file)
    except ValueError as e:
        raise RunError(f"corrupt run directory: {e}") from None


def estimated_steps(vocab, recipe: Recipe) -> int:
    """Expected batches per epoch: kept centre words / batch size (for the progress bar's target)."""
    kept = float((vocab.counts * vocab.keep_probabilities(recipe["training"]["sample"])).sum())
    return max(1, math.ceil(kept / recipe["training"]["batch_size"]))
