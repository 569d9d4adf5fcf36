"""The Kneser-Ney n-gram model: normalisation, back-off semantics, ARPA round trips."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from facespeech.stages.errors import ModelError
from facespeech.stages.speech.lm import EOS, UNK, NgramLM, UnigramPrior, build_kneser_ney

TEXT = """the cat sat on the mat
the dog sat on the log
a cat and a dog met on the mat
the cat saw the dog
hello world
say hello to the cat
the dog ate the fish and the cat ate the fish
on the log sat a bird
"""
SENTENCES = [line.split() for line in TEXT.splitlines()] * 2 + [["a", "bird", "sang"]]


def total_probability(lm: NgramLM, context: tuple[str, ...]) -> float:
    return sum(math.exp(lm.log_prob(w, context)) for w in [*lm.vocabulary, EOS, UNK])


@pytest.mark.parametrize("min_counts", [(), (1, 3), (2, 2)], ids=["full", "pruned3", "pruned23"])
@pytest.mark.parametrize(
    "context",
    [(), ("<s>",), ("the",), ("the", "cat"), ("on", "the"), ("zebra", "the"), ("sat", "zebra")],
)
def test_probabilities_sum_to_one(min_counts: tuple[int, ...], context: tuple[str, ...]) -> None:
    lm = build_kneser_ney(SENTENCES, order=3, min_counts=min_counts)
    assert total_probability(lm, context) == pytest.approx(1.0, abs=1e-9)


def test_pruning_drops_rare_ngrams() -> None:
    full = build_kneser_ney(SENTENCES, order=3)
    pruned = build_kneser_ney(SENTENCES, order=3, min_counts=(1, 3))
    assert pruned.ngram_counts()[:2] == full.ngram_counts()[:2]
    assert pruned.ngram_counts()[2] < full.ngram_counts()[2]


def test_seen_continuations_beat_unseen_ones() -> None:
    lm = build_kneser_ney(SENTENCES, order=3)
    assert lm.log_prob("mat", ("on", "the")) > lm.log_prob("bird", ("on", "the"))
    assert lm.log_prob("sat", ("cat",)) > lm.log_prob("fish", ("cat",))
    assert lm.log_prob("zebra", ("the",)) == lm.log_prob(UNK, ("the",))


def test_context_is_cut_to_order() -> None:
    lm = build_kneser_ney(SENTENCES, order=2)
    assert lm.log_prob("mat", ("a", "b", "the")) == lm.log_prob("mat", ("the",))


def test_sentence_probability_prefers_fluent_order() -> None:
    lm = build_kneser_ney(SENTENCES, order=3)
    assert lm.sentence_log10_prob(
        ["the", "cat", "sat", "on", "the", "mat"]
    ) > lm.sentence_log10_prob(["mat", "the", "on", "sat", "cat", "the"])


@pytest.mark.parametrize("name", ["lm.arpa", "lm.arpa.gz"])
def test_arpa_round_trip(tmp_path: Path, name: str) -> None:
    lm = build_kneser_ney(SENTENCES, order=3, min_counts=(1, 2))
    lm.write_arpa(tmp_path / name)
    back = NgramLM.load(tmp_path / name)
    assert back.order == 3
    assert back.ngram_counts() == lm.ngram_counts()
    assert back.vocabulary == lm.vocabulary
    for context in [(), ("the",), ("the", "cat"), ("zebra", "on")]:
        for word in ["cat", "mat", EOS, "zebra"]:
            assert back.log10_prob(word, context) == pytest.approx(
                lm.log10_prob(word, context), abs=1e-5
            )
    assert not list(tmp_path.glob("*.tmp"))


def test_written_bytes_depend_only_on_the_model(tmp_path: Path) -> None:
    lm = build_kneser_ney(SENTENCES, order=2)
    lm.write_arpa(tmp_path / "a.arpa.gz")
    lm.write_arpa(tmp_path / "b.arpa.gz")
    assert (tmp_path / "a.arpa.gz").read_bytes() == (tmp_path / "b.arpa.gz").read_bytes()


def test_reads_arpa_back_off_semantics(tmp_path: Path) -> None:
    arpa = tmp_path / "tiny.arpa"
    arpa.write_text(
        "\\data\\\nngram 1=4\nngram 2=1\n\n\\1-grams:\n-1.0\t<unk>\n-0.5\ta\t-0.25\n"
        "-0.7\tb\t-0.125\n-0.9\t</s>\n\n\\2-grams:\n-0.3\ta b\n\n\\end\\\n"
    )
    lm = NgramLM.load(arpa)
    assert lm.log10_prob("b", ("a",)) == pytest.approx(-0.3)  # stored bigram
    assert lm.log10_prob("a", ("a",)) == pytest.approx(-0.25 - 0.5)  # bow(a) * p(a)
    assert lm.log10_prob("a", ("b",)) == pytest.approx(-0.125 - 0.5)
    assert lm.log10_prob("q", ("b",)) == pytest.approx(-0.125 - 1.0)  # unknown -> <unk>
    assert lm.log_prob("b", ("a",)) == pytest.approx(-0.3 * math.log(10))


@pytest.mark.parametrize(
    ("content", "reason"),
    [("just some words\n", "no n-gram sections"), ("\\data\\\n\\1-grams:\nxx a\n", "line 3")],
)
def test_bad_arpa_names_the_file(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.arpa"
    path.write_text(content)
    with pytest.raises(ModelError, match=reason) as info:
        NgramLM.load(path)
    assert str(info.value).startswith(str(path))


def test_missing_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        NgramLM.load(tmp_path / "nope.arpa.gz")


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError, match="no words"):
        build_kneser_ney([[], []])


# A general-English list that thinks "bird" common and "mat" rare, unlike the text above.
PRIOR = {"the": 500.0, "a": 400.0, "bird": 50.0, "cat": 10.0, "dog": 10.0, "mat": 0.5}


@pytest.mark.parametrize("weight", [0.5, 1.0])
@pytest.mark.parametrize("context", [(), ("the",), ("the", "cat"), ("sat", "zebra")])
def test_probabilities_sum_to_one_with_a_unigram_prior(
    weight: float, context: tuple[str, ...]
) -> None:
    lm = build_kneser_ney(
        SENTENCES, order=3, min_counts=(2, 2), unigram_prior=UnigramPrior(PRIOR, weight)
    )
    assert total_probability(lm, context) == pytest.approx(1.0, abs=1e-9)


def test_unigram_prior_moves_unigrams_and_keeps_the_rest() -> None:
    plain = build_kneser_ney(SENTENCES, order=3)
    mixed = build_kneser_ney(SENTENCES, order=3, unigram_prior=UnigramPrior(PRIOR, 1.0))
    assert mixed.vocabulary == plain.vocabulary
    assert mixed.log_prob("bird") > plain.log_prob("bird")
    assert mixed.log_prob("mat") < plain.log_prob("mat")
    # With weight 1 the words' unigram ratios are the prior's; words it lacks get its smallest.
    assert mixed.log_prob("bird") - mixed.log_prob("cat") == pytest.approx(math.log(5.0))
    assert mixed.log_prob("fish") == pytest.approx(mixed.log_prob("mat"))
    assert mixed.log_prob(EOS) == pytest.approx(plain.log_prob(EOS))
    assert mixed.log_prob(UNK) == pytest.approx(plain.log_prob(UNK))
    # A context the text knows well still predicts what the text says.
    assert mixed.log_prob("mat", ("on", "the")) > mixed.log_prob("bird", ("on", "the"))


def test_unigram_prior_of_weight_zero_changes_nothing() -> None:
    plain = build_kneser_ney(SENTENCES, order=3)
    same = build_kneser_ney(SENTENCES, order=3, unigram_prior=UnigramPrior(PRIOR, 0.0))
    for context in [(), ("the",), ("on", "the")]:
        for word in ["cat", "bird", EOS]:
            assert same.log_prob(word, context) == pytest.approx(plain.log_prob(word, context))


@pytest.mark.parametrize(
    ("frequencies", "weight", "reason"),
    [(PRIOR, 1.5, "weight"), ({}, 1.0, "positive"), ({"a": 0.0}, 1.0, "positive")],
)
def test_bad_unigram_prior_is_refused(
    frequencies: dict[str, float], weight: float, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        UnigramPrior(frequencies, weight)
