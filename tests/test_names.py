"""The one table of names (``tfw2v.names``) agrees with the classes that implement each name, and the recipe
and the CLI read it without starting TensorFlow."""

import subprocess
import sys

import numpy as np
import pytest

from tfw2v import names
from tfw2v.training import recipe as recipes


def test_every_objective_name_is_a_class_and_only_sampled_ones_draw_noise():
    from tfw2v import losses

    built = {name: losses.get(name, vocab_size=8, dim=4, counts=np.arange(8, 0, -1)) for name in names.OBJECTIVES}
    assert set(losses.NAMES) == set(names.OBJECTIVES)
    sampled = {name for name, objective in built.items() if isinstance(objective, losses.SampledObjective)}
    assert sampled == set(names.SAMPLED_OBJECTIVES)


def test_the_fused_kernel_trains_exactly_the_fused_objectives():
    from tfw2v import kernels

    assert kernels.OBJECTIVES == names.FUSED_OBJECTIVES
    assert set(names.FUSED_OBJECTIVES) <= set(names.OBJECTIVES)


@pytest.mark.parametrize("noise", names.NOISE_DISTRIBUTIONS)
def test_every_noise_name_builds_a_distribution(noise):
    from tfw2v.losses import noise as noise_lib

    distribution = noise_lib.get(noise, 8, np.arange(8, 0, -1), 0.75)
    assert distribution.vocab_size == 8


@pytest.mark.parametrize("share", names.SHARE_NEGATIVES)
def test_every_sharing_name_is_accepted_by_the_sampled_objectives(share):
    from tfw2v import losses

    assert losses.get("ns", vocab_size=8, dim=4, counts=np.arange(8, 0, -1), share_negatives=share).share_negatives == share


def test_the_model_and_the_recipe_default_to_word2vecs_learning_rates():
    from tfw2v import Vocabulary, Word2Vec

    vocab = Vocabulary(["a", "b", "c"], [3, 2, 1])
    for architecture in names.ARCHITECTURES:
        assert Word2Vec(vocab, dim=4, architecture=architecture).alpha == names.DEFAULT_ALPHA[architecture]
        resolved = recipes.resolve({"model": {"architecture": architecture}})
        assert resolved["training"]["alpha"] == names.DEFAULT_ALPHA[architecture]


def test_the_recipe_offers_exactly_the_names_of_the_table():
    choices = {option.name: option.choices for option in recipes.OPTIONS}
    assert choices["model.loss"] == names.OBJECTIVES
    assert choices["model.architecture"] == names.ARCHITECTURES
    assert choices["model.noise"] == names.NOISE_DISTRIBUTIONS
    assert choices["model.share_negatives"] == names.SHARE_NEGATIVES
    assert choices["phrases.scoring"] == names.PHRASE_SCORINGS


def test_the_phrase_scorings_are_the_ones_phrases_accept(tmp_path):
    from tfw2v.text.phrases import Phrases, PhrasesError

    corpus = tmp_path / "c.txt"
    corpus.write_text("new york is big\nnew york is old\n" * 5, encoding="utf-8")
    for scoring in names.PHRASE_SCORINGS:
        Phrases.build([str(corpus)], passes=1, min_count=1, scoring=scoring)
    with pytest.raises(PhrasesError, match="scoring"):
        Phrases.build([str(corpus)], passes=1, min_count=1, scoring="pmi")


@pytest.mark.parametrize("name", sorted(names.BUNDLED_EVALUATION))
def test_every_bundled_evaluation_set_is_shipped(name):
    from tfw2v import evaluate

    assert evaluate.bundled(name).is_file()
    assert recipes.bundled_path(f"bundled:{name}") == str(evaluate.bundled(name))


def test_the_recipe_and_the_command_line_parser_do_not_start_tensorflow():
    code = ("import sys; import tfw2v.training.recipe, tfw2v.cli.parser, tfw2v.names; "
            "tfw2v.cli.parser.build(); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
