"""Recipes: the files in pipelines/, validation, command-line overrides, the resolved-recipe round trip, and
the loss study runner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tfw2v.training import recipe as recipes
from tfw2v.cli import parser as cli_parser
from tfw2v.cli.commands import resolve_recipe
from tfw2v.training.recipe import RecipeError
from tfw2v.cli.study import load_study

REPO = Path(__file__).resolve().parent.parent
PIPELINES = REPO / "pipelines"
TEXT8 = ["text8-skipgram-ns.toml", "text8-cbow-ns.toml", "text8-skipgram-hs.toml"]
TIMEOUT = 300


def parse(*argv: str):
    return cli_parser.build().parse_args(["train", *argv])


def test_every_pipeline_is_a_valid_recipe_with_a_results_header():
    names = sorted(p.name for p in PIPELINES.glob("*.toml"))
    assert {"default.toml", "loss-study.toml", *TEXT8} <= set(names)
    for name in names:
        text = (PIPELINES / name).read_text()
        assert text.startswith("#") and re.search(r"^# Results", text, re.M), f"{name}: header with results"
        if name == "loss-study.toml":
            load_study(PIPELINES / name)
        else:
            recipes.resolve(recipes.load(PIPELINES / name))


def test_default_recipe_is_what_plain_train_does():
    """pipelines/default.toml (the main job) = the built-in defaults: word2vec.c's settings, bundled corpus."""
    assert recipes.resolve(recipes.load(PIPELINES / "default.toml")) == recipes.resolve()
    assert recipes.bundled_path(recipes.DEFAULT_CORPUS).endswith("tfw2v/resources/enwiki-text8style-1.5M.txt.gz")
    assert os.path.getsize(recipes.bundled_path(recipes.DEFAULT_CORPUS)) < 5_000_000


@pytest.mark.parametrize("name", TEXT8)
def test_text8_recipes_use_word2vec_settings_and_the_shared_corpus(name):
    recipe = recipes.resolve(recipes.load(PIPELINES / name))
    # ../shared/data relative to the repository, written relative to the recipe file.
    assert recipe["corpus"]["paths"] == [os.path.normpath(REPO.parent / "shared/data/enwiki2015_text8style.gz")]
    assert recipe["corpus"]["min_count"] == 5
    assert recipe["model"]["dim"] == 100 and recipe["model"]["negatives"] == 5
    assert recipe["training"]["window"] == 5 and recipe["training"]["sample"] == 1e-3
    architecture, loss = re.match(r"text8-(skipgram|cbow)-(ns|hs)\.toml", name).groups()
    assert (recipe["model"]["architecture"], recipe["model"]["loss"]) == (architecture, loss)
    assert recipe["training"]["alpha"] == {"skipgram": 0.025, "cbow": 0.05}[architecture]


def test_resolved_recipe_round_trips(tmp_path):
    everything = recipes.resolve({
        "corpus": {"paths": [str(tmp_path / "a b.txt"), "bundled:enwiki-text8style-1.5M.txt.gz"], "max_size": 5000},
        "tokenizer": {"lowercase": True, "normalization": "NFKC"},
        "model": {"architecture": "cbow", "loss": "nce", "noise": "log_uniform", "noise_exponent": 0.5,
                  "cbow_mean": False, "dim": 64},
        "training": {"sample": 0.0, "alpha": 0.0125, "epochs": 2, "jit_compile": True},
        "evaluation": {"analogies": "", "similarity": [], "probes": ["naïve", 'quote"d']},
        "export": {"formats": ["word2vec-binary"]},
    })
    for recipe in [everything, recipes.resolve(), recipes.resolve(recipes.load(PIPELINES / "text8-cbow-ns.toml"))]:
        path = tmp_path / "recipe.toml"
        path.write_text(recipe.to_toml(["a header"]), encoding="utf-8")
        assert recipes.load_resolved(path) == recipe
        # A resolved recipe sets every key (None ones as comments): the defaults cannot leak into it.
        assert all(option.key in path.read_text() for option in recipes.OPTIONS)


def test_command_line_overrides_the_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe_file = tmp_path / "sub" / "r.toml"
    recipe_file.parent.mkdir()
    recipe_file.write_text('[corpus]\npaths = ["corpus.txt"]\n[model]\ndim = 50\nloss = "hs"\n'
                           "[training]\nepochs = 3\n")
    recipe, sources = resolve_recipe(parse("--recipe", str(recipe_file), "--dim", "20", "--cbow-sum",
                                           "--architecture", "cbow", "--no-lowercase", "--probe", "a",
                                           "--probe", "b", "--analogies", "none", "--max-size", "10"))
    assert sources == [str(recipe_file), "command-line options"]
    assert recipe["corpus"]["paths"] == [str(tmp_path / "sub" / "corpus.txt")]  # relative to the recipe file
    assert recipe["model"]["dim"] == 20 and recipe["model"]["loss"] == "hs"
    assert recipe["model"]["cbow_mean"] is False and recipe["model"]["architecture"] == "cbow"
    assert recipe["training"]["epochs"] == 3 and recipe["training"]["alpha"] == 0.05  # CBOW's default
    assert recipe["evaluation"]["probes"] == ["a", "b"] and recipe["evaluation"]["analogies"] == ""
    assert recipe["corpus"]["max_size"] == 10

    with_sources, _ = resolve_recipe(parse("data/*.txt", "--recipe", str(recipe_file)))
    assert with_sources["corpus"]["paths"] == [str(tmp_path / "data" / "*.txt")]  # relative to the cwd
    assert resolve_recipe(parse()) == (None, [])  # nothing asked: an existing run continues with its own


@pytest.mark.parametrize("content, fragments", [
    ("[model]\ndimm = 3\n", ["unknown key 'dimm' in [model]", "did you mean 'dim'"]),
    ("[modle]\ndim = 3\n", ["unknown section [modle]", "did you mean 'model'"]),
    ("[model]\ndim = \"big\"\n", ["[model] dim must be an integer"]),
    ("[model]\ndim = 0\n", ["[model] dim must be >= 1"]),
    ("[model]\nloss = \"svm\"\n", ["[model] loss: 'svm' is not one of"]),
    ("[training]\nsample = true\n", ["[training] sample must be a number"]),
    ("[corpus]\npaths = []\n", ["[corpus] paths: needs at least one corpus file"]),
    ("model = 3\n", ["'model' must be a [model] table"]),
    ("[model\n", ["not valid TOML"]),
    ("[study]\nlosses = [\"ns\"]\n", ["unknown section [study]"]),
])
def test_bad_recipes_name_the_file_and_key(tmp_path, content, fragments):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(RecipeError) as error:
        recipes.load(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_command_line_values_are_checked_like_recipe_values():
    with pytest.raises(RecipeError, match=r"^--dim must be >= 1, got 0$"):
        resolve_recipe(parse("--dim", "0"))
    with pytest.raises(RecipeError, match=r"^--export: 'pdf' is not one of"):
        resolve_recipe(parse("--export", "word2vec,pdf"))


def test_study_recipe_errors(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[study]\nlosses = ["ns", "svm"]\n')
    with pytest.raises(RecipeError, match="'svm' is not one of"):
        load_study(path)
    path.write_text('[study]\nlosses = ["ns"]\nplots = 1\n')
    with pytest.raises(RecipeError, match="unknown key 'plots' in \\[study\\]"):
        load_study(path)
    path.write_text('[study]\nlosses = ["ns"]\n[model]\nloss = "hs"\n')
    with pytest.raises(RecipeError, match="remove it"):
        load_study(path)
    layer, losses = load_study(PIPELINES / "loss-study.toml")
    assert losses == ["softmax", "sampled_softmax", "ds", "nce", "ns", "hs"]


def test_loss_study_runner_trains_every_objective_and_tabulates(tmp_path, lee_path):
    study = tmp_path / "study.toml"
    study.write_text(
        '[study]\nlosses = ["softmax", "sampled_softmax", "ds", "nce", "ns", "hs"]\n'
        f'[corpus]\npaths = ["{lee_path}"]\n'
        "[model]\ndim = 16\n[training]\nepochs = 1\nbatch_size = 512\nseed = 3\nlog_every = 20\n"
        '[evaluation]\nprobes = []\nsimilarity = ["bundled:wordsim353"]\n[export]\nformats = []\n'
    )
    out = tmp_path / "out"
    command = [str(Path(sys.executable).with_name("tfw2v")), "study", str(study), "--out", str(out)]
    if not Path(command[0]).exists():
        command[:1] = [sys.executable, "-m", "tfw2v.cli"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads((out / "results.json").read_text())
    rows = {row["loss"]: row for row in results["results"]}
    assert list(rows) == ["softmax", "sampled_softmax", "ds", "nce", "ns", "hs"]
    for loss, row in rows.items():
        assert row["status"] == "complete" and row["epochs"] == 1, loss
        assert row["words_per_sec"] > 0 and row["final_loss"] > 0, loss
        assert 0 <= row["analogy_accuracy"] <= 1 and "wordsim353" in row["similarity"], loss
        assert row["curve"], loss
        assert (out / loss / "recipe.toml").is_file()
        assert recipes.load_resolved(out / loss / "recipe.toml")["model"]["loss"] == loss
    table = (out / "results.md").read_text()
    assert all(f"| {loss} |" in table for loss in rows)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "plot skipped: matplotlib is not installed" in result.stdout
    else:
        assert (out / "loss_study.png").stat().st_size > 0


@pytest.mark.parametrize("override, named", [({"model": {"loss": "softmax"}}, "loss 'softmax' has no fused kernel"),
                                             ({"training": {"jit_compile": True}}, "jit_compile")])
def test_fused_on_with_what_the_kernel_cannot_train_is_refused(override, named):
    with pytest.raises(recipes.RecipeError, match=named):
        recipes.resolve({"training": {"fused": "on"}}, override)
    recipes.resolve({"training": {"fused": "auto"}}, override)  # auto falls back instead


def test_the_recipe_knows_the_phrase_table_bound_the_library_uses():
    from tfw2v.text import phrases

    assert recipes.BY_NAME["phrases.max_entries"].default == phrases.DEFAULT_MAX_ENTRIES


def test_phrase_options_resolve_and_clash():
    assert recipes.resolve({"phrases": {"scoring": "npmi"}})["phrases"]["threshold"] == 0.5
    assert recipes.resolve()["phrases"] == {"passes": 0, "threshold": 100.0, "min_count": 5, "scoring": "word2vec",
                                            "max_entries": 20_000_000, "file": None}
    with pytest.raises(recipes.RecipeError, match="exclude each other"):
        recipes.resolve({"phrases": {"passes": 1, "file": "/tmp/phrases.txt"}})
