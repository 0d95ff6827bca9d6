"""Tokenizer: whitespace splitting, Unicode options, invalid UTF-8, configuration."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from tfw2v.text.tokenize import NORMALIZATIONS, Tokenizer

FFFD = "\ufffd"


def tokens(tokenizer: Tokenizer, lines: list[str | bytes]) -> list[list[str]]:
    return [[t.decode("utf-8") for t in row] for row in tokenizer(tf.constant(lines)).to_list()]


# ---- default: whitespace split, case kept --------------------------------------------------------
@pytest.mark.parametrize(
    "line, expected",
    [
        ("the quick brown fox", ["the", "quick", "brown", "fox"]),
        ("  leading and trailing  ", ["leading", "and", "trailing"]),
        ("tab\tseparated\t\twords", ["tab", "separated", "words"]),
        ("carriage\rreturn\r\n", ["carriage", "return"]),
        ("runs \t\r \x0b\x0c  of   whitespace", ["runs", "of", "whitespace"]),
        ("", []),
        (" \t\r ", []),
        ("Keep Case, and punctuation!", ["Keep", "Case,", "and", "punctuation!"]),
    ],
)
def test_whitespace_split(line, expected):
    assert Tokenizer().tokenize_python(line) == expected


def test_only_ascii_whitespace_separates():
    # Like word2vec.c (which works on bytes), non-ASCII spaces are part of a token.
    assert Tokenizer().tokenize_python("a\u00a0b c\u2003d") == ["a\u00a0b", "c\u2003d"]


def test_batch_of_lines_is_ragged():
    out = Tokenizer()(tf.constant(["a b c", "", "d"]))
    assert isinstance(out, tf.RaggedTensor)
    assert out.to_list() == [[b"a", b"b", b"c"], [], [b"d"]]


def test_works_inside_tf_data_map():
    lines = tf.data.Dataset.from_tensor_slices(["One two", "three FOUR five"]).batch(2)
    out = next(iter(lines.map(Tokenizer(lowercase=True))))
    assert out.to_list() == [[b"one", b"two"], [b"three", b"four", b"five"]]


# ---- lower-casing ------------------------------------------------------------------------------------
def test_lowercase_is_unicode_aware():
    t = Tokenizer(lowercase=True)
    assert t.tokenize_python("ÉCOLE Ölfeld ΑΘΗΝΑ The") == ["école", "ölfeld", "αθηνα", "the"]


def test_default_keeps_case():
    assert Tokenizer().tokenize_python("ÉCOLE École") == ["ÉCOLE", "École"]


# ---- tensorflow-text options ---------------------------------------------------------------------------
def test_nfkc_normalization():
    t = Tokenizer(normalization="NFKC")
    assert t.tokenize_python("\ufb01ne \u2460 Ｗｉｄｅ") == ["fine", "1", "Wide"]  # ligature, circled 1, full-width


def test_nfc_composes_and_nfd_decomposes():
    assert Tokenizer(normalization="NFC").tokenize_python("e\u0301cole") == ["\u00e9cole"]
    assert Tokenizer(normalization="NFD").tokenize_python("\u00e9cole") == ["e\u0301cole"]


def test_case_fold():
    t = Tokenizer(case_fold=True)
    # Full case folding (ß → ss) and the NFKC that case_fold_utf8 applies (ﬁ → fi).
    assert t.tokenize_python("Straße ÉCOLE \ufb01") == ["strasse", "école", "fi"]


def test_unicode_script_splits_at_script_changes():
    t = Tokenizer(unicode_script=True)
    assert t.tokenize_python("hello世界") == ["hello", "世界"]
    assert t.tokenize_python("Москва2024 abc") == ["Москва", "2024", "abc"]


def test_options_combine():
    t = Tokenizer(lowercase=True, normalization="NFKC", unicode_script=True)
    assert t.tokenize_python("HELLO世界 \ufb01") == ["hello", "世界", "fi"]


def test_uses_tensorflow_text():
    assert not Tokenizer().uses_tensorflow_text
    assert not Tokenizer(lowercase=True).uses_tensorflow_text
    assert Tokenizer(normalization="NFC").uses_tensorflow_text
    assert Tokenizer(case_fold=True).uses_tensorflow_text
    assert Tokenizer(unicode_script=True).uses_tensorflow_text


# ---- invalid UTF-8 -----------------------------------------------------------------------------------------
INVALID_LINES = [
    b"ab\xffcd ok",  # a stray continuation byte inside a word
    b"all valid here",
    b"truncated \xc3",  # a lead byte without its continuation
    b"\xed\xa0\x80 surrogate",  # an encoded surrogate (invalid in UTF-8)
]

ALL_OPTIONS = [
    Tokenizer(),
    Tokenizer(lowercase=True),
    Tokenizer(normalization="NFKC"),
    Tokenizer(normalization="NFD", lowercase=True),
    Tokenizer(case_fold=True),
    Tokenizer(unicode_script=True),
    Tokenizer(lowercase=True, normalization="NFC", case_fold=True, unicode_script=True),
]


def test_invalid_utf8_is_replaced_and_counted():
    out, repaired = Tokenizer().tokenize_with_repairs(tf.constant(INVALID_LINES))
    rows = [[t.decode("utf-8") for t in row] for row in out.to_list()]  # every token decodes: valid UTF-8
    assert rows[0] == [f"ab{FFFD}cd", "ok"]
    assert rows[1] == ["all", "valid", "here"]
    assert rows[2] == ["truncated", FFFD]
    assert rows[3][-1] == "surrogate" and set(rows[3][0]) == {FFFD}
    assert int(repaired) == 3  # lines, not bytes


@pytest.mark.parametrize("tokenizer", ALL_OPTIONS, ids=lambda t: repr(t.get_config()))
def test_invalid_utf8_never_raises(tokenizer):
    out, repaired = tokenizer.tokenize_with_repairs(tf.constant(INVALID_LINES))
    assert int(repaired) == 3
    rows = out.to_list()
    for row in rows:
        for token in row:
            token.decode("utf-8")  # strict: raises if the output were not valid UTF-8
    assert any(FFFD.encode() in token for token in rows[0])
    assert tokens(tokenizer, INVALID_LINES) == [[t.decode() for t in row] for row in rows]


def test_valid_text_is_not_counted_as_repaired():
    _, repaired = Tokenizer().tokenize_with_repairs(tf.constant(["plain", "école 世界", f"already {FFFD}", ""]))
    assert int(repaired) == 0


# ---- configuration -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("tokenizer", ALL_OPTIONS, ids=lambda t: repr(t.get_config()))
def test_config_round_trip(tokenizer):
    config = tokenizer.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON-serialisable (it goes into exported assets)
    again = Tokenizer.from_config(json.loads(json.dumps(config)))
    assert again == tokenizer
    assert again.tokenize_python("ÉCOLE hello世界") == tokenizer.tokenize_python("ÉCOLE hello世界")


def test_config_keys():
    assert Tokenizer().get_config() == {
        "lowercase": False,
        "normalization": None,
        "case_fold": False,
        "unicode_script": False,
    }


def test_from_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown keys.*'stem'"):
        Tokenizer.from_config({"lowercase": True, "stem": True})


@pytest.mark.parametrize("name", ["NFKX", "nfkc", ""])
def test_bad_normalization_name(name):
    with pytest.raises(ValueError, match=f"normalization={name!r}"):
        Tokenizer(normalization=name)


def test_all_documented_normalizations_are_accepted():
    for name in NORMALIZATIONS:
        assert Tokenizer(normalization=name).tokenize_python("x") == ["x"]
