"""Decoders on hand-made emission matrices: each frame names the labels it makes likely."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from facespeech.stages.speech.alphabet import INDEX, LABELS
from facespeech.stages.speech.ctc_decode import BeamSearchDecoder, GreedyCtcDecoder
from facespeech.stages.speech.lm import build_kneser_ney
from facespeech.stages.speech.types import Emissions

FRAME_S = 0.04
SOURCE = Path("clip.wav")


def emissions(frames: list[str | dict[str, float]], *, offset_s: float = 0.0) -> Emissions:
    """One frame per entry: a label ("_" blank, " " space, a letter) at probability 0.9, or a
    ``{label: probability}`` dict; the rest of each frame's mass is spread over the others."""
    rows = []
    for frame in frames:
        probs = {frame: 0.9} if isinstance(frame, str) else frame
        rest = (1.0 - sum(probs.values())) / (len(LABELS) - len(probs))
        row = np.full(len(LABELS), rest)
        for label, p in probs.items():
            row[INDEX[label]] = p
        rows.append(row)
    log_probs = np.log(np.array(rows, dtype=np.float64)).astype(np.float32)
    return Emissions(SOURCE, log_probs.reshape(-1, len(LABELS)), FRAME_S, offset_s)


def spell(text: str) -> list[str | dict[str, float]]:
    """Frames for "HHHEE_LL_LLLOOO"-style strings (upper case read as lower case)."""
    return list(text.lower())


DECODERS = [GreedyCtcDecoder(), BeamSearchDecoder(beam_width=8)]


@pytest.mark.parametrize("decoder", DECODERS, ids=["greedy", "beam"])
def test_collapses_repeats_and_drops_blanks(decoder: GreedyCtcDecoder) -> None:
    result = decoder(emissions(spell("HHHEE_LL_LLLOOO")))
    assert result.text == "hello"
    assert result.source == SOURCE


@pytest.mark.parametrize("decoder", DECODERS, ids=["greedy", "beam"])
def test_word_times_and_confidence_follow_alignment(decoder: GreedyCtcDecoder) -> None:
    frames = spell("__HI_ _ __THERE___")
    result = decoder(emissions(frames, offset_s=10.0))
    assert result.text == "hi there"
    hi, there = result.words
    assert (hi.text, there.text) == ("hi", "there")
    assert hi.start_s == pytest.approx(10.0 + 2 * FRAME_S)
    assert hi.end_s == pytest.approx(10.0 + 4 * FRAME_S)  # frames 2-3, end is exclusive
    assert there.start_s == pytest.approx(10.0 + 10 * FRAME_S)
    assert there.end_s == pytest.approx(10.0 + 15 * FRAME_S)
    assert hi.confidence == pytest.approx(0.9, abs=1e-4)
    assert result.start_s == pytest.approx(10.0)
    assert result.end_s == pytest.approx(10.0 + len(frames) * FRAME_S)


@pytest.mark.parametrize("decoder", DECODERS, ids=["greedy", "beam"])
def test_silence_gives_empty_text(decoder: GreedyCtcDecoder) -> None:
    result = decoder(emissions(["_"] * 50))
    assert (result.text, result.words) == ("", ())


@pytest.mark.parametrize("decoder", DECODERS, ids=["greedy", "beam"])
def test_no_frames_gives_empty_text(decoder: GreedyCtcDecoder) -> None:
    empty = Emissions(SOURCE, np.zeros((0, len(LABELS)), np.float32), FRAME_S)
    assert decoder(empty).text == ""


@pytest.mark.parametrize("decoder", DECODERS, ids=["greedy", "beam"])
def test_wrong_label_count_is_refused(decoder: GreedyCtcDecoder) -> None:
    bad = Emissions(SOURCE, np.zeros((5, 3), np.float32), FRAME_S)
    with pytest.raises(ValueError, match="n_frames"):
        decoder(bad)


def test_beam_sums_paths_that_greedy_cannot() -> None:
    # Each frame: blank 0.6, "a" 0.4. The best single path is blank-blank (0.36), but the
    # paths spelling "a" (a_, _a, aa) add up to 0.64.
    frame = {"_": 0.6, "a": 0.4 - 1e-6}
    em = emissions([frame, frame])
    assert GreedyCtcDecoder()(em).text == ""
    assert BeamSearchDecoder(beam_width=4)(em).text == "a"


def _hello_hullo() -> Emissions:
    # The second letter leans towards "u": acoustics alone spell "hullo".
    return emissions([*spell("HH"), {"u": 0.55, "e": 0.44}, *spell("LL_LLOO__")])


def test_lm_picks_hello_over_hullo() -> None:
    text = ["hello world", "say hello", "hello there", "the world says hello", "hull of a ship"]
    lm = build_kneser_ney([line.split() for line in text], order=3)
    assert GreedyCtcDecoder()(_hello_hullo()).text == "hullo"
    assert BeamSearchDecoder(beam_width=8)(_hello_hullo()).text == "hullo"
    assert BeamSearchDecoder(beam_width=8, lm=lm, lm_weight=1.0)(_hello_hullo()).text == "hello"


def test_lm_scores_words_in_context() -> None:
    # "two" and "too" sound alike; each clip leans to the wrong one, the LM's context decides.
    lm = build_kneser_ney([s.split() for s in ["i want two apples", "me too", "two apples"] * 3])
    like_too = ["t", {"o": 0.5, "w": 0.49}, "_", "o", "_"]
    like_two = ["t", {"w": 0.5, "o": 0.49}, "_", "o", "_"]
    want = emissions([*spell("__I_ _WANT_ _"), *like_too, *spell(" AP_PLES__")])
    me = emissions([*spell("__ME_ _"), *like_two])
    plain = BeamSearchDecoder(beam_width=8)
    assert (plain(want).text, plain(me).text) == ("i want too apples", "me two")
    with_lm = BeamSearchDecoder(beam_width=8, lm=lm, lm_weight=2.0)
    assert (with_lm(want).text, with_lm(me).text) == ("i want two apples", "me too")


def test_clear_unknown_words_still_come_through() -> None:
    # The LM has never seen "zebra"; clear acoustics must win over it (open vocabulary).
    lm = build_kneser_ney([s.split() for s in ["a cat", "a dog", "see a cat"]])
    em = emissions(spell("__SE_E_ _A_ _ZEBRA__"))
    assert BeamSearchDecoder(lm=lm, lm_weight=1.0)(em).text == "see a zebra"


def test_unknown_word_penalty_favours_known_words() -> None:
    # "cot" sounds a little likelier, but the LM only knows "cat". With the LM's own scores
    # switched off (weight 0), the unknown-word penalty alone decides.
    lm = build_kneser_ney([s.split() for s in ["a cat", "the cat sat", "a dog"]])
    em = emissions([*spell("__A_ _C"), {"o": 0.55, "a": 0.44}, *spell("T__")])
    settings = {"lm": lm, "lm_weight": 0.0, "unknown_char_penalty": 0.0}
    assert BeamSearchDecoder(**settings, unknown_word_penalty=0.0)(em).text == "a cot"
    assert BeamSearchDecoder(**settings, unknown_word_penalty=10.0)(em).text == "a cat"


def test_unknown_char_penalty_breaks_up_long_unknown_words() -> None:
    # Each word leans to an unknown spelling ("fot", "cot", "sot") and each space is a little
    # less likely than a blank: one run-on unknown word pays the word penalty once, the three
    # known words pay in acoustics. A per-letter cost makes the long unknown word dearer.
    lm = build_kneser_ney([s.split() for s in ["the cat sat", "a fat cat sat", "the dog sat"]])
    gap: dict[str, float] = {" ": 0.45, "_": 0.5}
    o_not_a: dict[str, float] = {"o": 0.9, "a": 0.01}
    frames: list[str | dict[str, float]] = []
    for first in "fcs":
        frames += [*spell("__"), gap, first, o_not_a, *spell("T_")]
    em = emissions(frames)
    for char_penalty, expected in ((0.0, "fotcotsot"), (1.0, "fat cat sat")):
        decoder = BeamSearchDecoder(
            lm=lm, lm_weight=0.0, word_bonus=0.0, unknown_char_penalty=char_penalty
        )
        assert decoder(em).text == expected


def test_vocabulary_constrains_spelling() -> None:
    # The third frame leans to "f" ("fife"), but only digit words may be spelled.
    em = emissions([*spell("__FI"), {"f": 0.6, "v": 0.35}, *spell("E_ _ONE__")])
    assert GreedyCtcDecoder()(em).text == "fife one"
    digits = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    result = BeamSearchDecoder(beam_width=8, vocabulary=digits)(em)
    assert result.text == "five one"
    assert [w.text for w in result.words] == ["five", "one"]


def test_vocabulary_drops_unfinished_words() -> None:
    # "fiv" is only a prefix of a vocabulary word; the decoder must not end on it.
    em = emissions([*spell("__FIV__")])
    result = BeamSearchDecoder(beam_width=8, vocabulary=["five", "four"])(em)
    assert result.text in ("", "five", "four")
    assert result.text != "fiv"


def test_vocabulary_finds_words_whose_letters_are_unlikely() -> None:
    # "she-ro": 'z' is e**-7 where 's' leads, below the open-vocabulary cut-off (e**-5), so
    # without a vocabulary 'z' is never tried; with the digit words it must still be found.
    em = emissions([*spell("__"), {"s": 0.85, "z": 0.001}, *spell("HEERO__")])
    assert BeamSearchDecoder(beam_width=8).char_min_log_prob == -5.0
    result = BeamSearchDecoder(beam_width=8, vocabulary=["zero", "one", "two"])(em)
    assert result.text == "zero"


def test_vocabulary_words_are_checked() -> None:
    with pytest.raises(ValueError, match="Five"):
        BeamSearchDecoder(vocabulary=["Five"])
    with pytest.raises(ValueError, match="empty"):
        BeamSearchDecoder(vocabulary=[])


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("beam_width", 0),
        ("lm_weight", -1.0),
        ("lm_weight", math.nan),
        ("blank_skip_prob", 0.0),
        ("beam_threshold", 0.0),
        ("unknown_word_penalty", -1.0),
        ("unknown_char_penalty", -1.0),
    ],
)
def test_bad_settings_raise(setting: str, value: float) -> None:
    with pytest.raises(ValueError, match=setting):
        BeamSearchDecoder(**{setting: value})  # type: ignore[arg-type]


def test_word_bonus_trades_insertions() -> None:
    # A weak space between "a" and "b": a large bonus splits the word, a negative one merges.
    lm = build_kneser_ney([["a"], ["b"], ["ab"]])
    em = emissions([*spell("_A"), {" ": 0.3, "_": 0.6}, *spell("B_")])
    assert BeamSearchDecoder(lm=lm, lm_weight=0.0, word_bonus=5.0)(em).text == "a b"
    assert BeamSearchDecoder(lm=lm, lm_weight=0.0, word_bonus=-5.0)(em).text == "ab"
    # Without an LM there is no per-word cost, so no bonus either: the acoustics decide.
    assert BeamSearchDecoder(word_bonus=5.0)(em).text == "ab"


def test_beam_alignment_separates_repeated_letters() -> None:
    result = BeamSearchDecoder()(emissions(spell("_L_LL_")))
    assert result.text == "ll"
    (word,) = result.words
    assert word.start_s == pytest.approx(1 * FRAME_S)
    assert word.end_s == pytest.approx(5 * FRAME_S)


def test_decoding_is_repeatable() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, len(LABELS))) * 3
    logits[:, 0] += 3  # mostly blank, as CTC output is
    log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    em = Emissions(SOURCE, log_probs.astype(np.float32), FRAME_S)
    decoder = BeamSearchDecoder(beam_width=16)
    first = decoder(em)
    assert decoder(em) == first
    assert all(w.start_s < w.end_s for w in first.words)
    assert all(0.0 < w.confidence <= 1.0 for w in first.words)
    assert " ".join(w.text for w in first.words) == first.text
