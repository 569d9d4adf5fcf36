"""normalize_transcript: the written rules, case by case."""

from __future__ import annotations

import pytest
from facespeech.stages.speech.text import cardinal_words, normalize_transcript


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("WE CALL IT BEAR", "we call it bear"),
        ("Hello,   world!", "hello world"),
        ("He's 'quoted' don\u2019t", "he's quoted don't"),
        ("21 apples & 3 pears", "twenty one apples and three pears"),
        ("1,000,000", "one million"),
        ("the 3rd, 12th and 21st", "the third twelfth and twenty first"),
        ("pi is 3.14", "pi is three point one four"),
        ("call 0123", "call zero one two three"),
        ("100%", "one hundred percent"),
        ("well-known C++/Java", "well known c plus plus java"),
        ("Caf\u00e9 na\u00efve", "cafe naive"),
        ("  ...  ", ""),
    ],
)
def test_normalisation(raw: str, expected: str) -> None:
    assert normalize_transcript(raw) == expected


def test_output_alphabet_only() -> None:
    text = normalize_transcript("Ünïcode — «quotes», tabs\tand\nnew lines; 42!")
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz' ")
    assert "  " not in text


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (15, "fifteen"), (40, "forty"), (105, "one hundred five"),
     (2_000_019, "two million nineteen")],
)  # fmt: skip
def test_cardinals(n: int, words: str) -> None:
    assert cardinal_words(n) == words


def test_cardinal_range() -> None:
    with pytest.raises(ValueError, match="cardinal"):
        cardinal_words(-1)
