"""Transcript normalisation shared by training and evaluation.

The recognizer writes only the labels of ``alphabet.LABELS`` (space, apostrophe, a-z), so
reference transcripts are brought to the same form before training and before WER/CER:

1. Unicode is folded to ASCII (``é`` -> ``e``; curly quotes -> ``'``) and lower-cased.
2. ``&`` reads "and", ``%`` reads "percent", ``+`` reads "plus".
3. Numbers become words: integers below 10**12 as cardinals (``42`` -> "forty two"), ordinals
   with their suffix (``3rd`` -> "third"), decimals digit by digit after "point" (``2.05`` ->
   "two point zero five"); thousands separators (``1,000``) are removed first. Longer digit
   strings are read digit by digit.
4. Hyphens, slashes and underscores split words; every other character outside a-z and the
   apostrophe is dropped. Apostrophes survive only inside words (``don't``; not ``'quoted'``).
5. Runs of whitespace become one space; no leading or trailing space.
"""

from __future__ import annotations

import re
import unicodedata

ONES = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
)
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
MAX_CARDINAL = 10**12
ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
SYMBOL_WORDS = {"&": " and ", "%": " percent ", "+": " plus "}
QUOTES = {"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"}

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?(st|nd|rd|th)?")
_SPLITTERS = re.compile(r"[-/_\u2013\u2014]")
_NOT_LABEL = re.compile(r"[^a-z' ]+")
_EDGE_APOSTROPHE = re.compile(r"(?<![a-z])'+|'+(?![a-z])")
_SPACES = re.compile(r"\s+")


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
        if n == 0:
            return words
    if n < 20:
        words.append(ONES[n])
    else:
        words.append(TENS[n // 10])
        if n % 10:
            words.append(ONES[n % 10])
    return words


def cardinal_words(n: int) -> str:
    """``n`` (0 <= n < 10**12) in English words: ``1203`` -> "one thousand two hundred three"."""
    if not 0 <= n < MAX_CARDINAL:
        raise ValueError(f"cardinal_words handles 0 <= n < {MAX_CARDINAL}, got {n}")
    if n == 0:
        return "zero"
    words: list[str] = []
    for scale, name in SCALES:
        if n >= scale:
            words += [*_below_thousand(n // scale), name]
            n %= scale
    if n:
        words += _below_thousand(n)
    return " ".join(words)


def _ordinal(cardinal: str) -> str:
    head, _, last = cardinal.rpartition(" ")
    if last in ORDINAL_WORDS:
        last = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}".strip()


def _digits(text: str) -> str:
    return " ".join(ONES[int(d)] for d in text)


def _number_words(match: re.Match[str]) -> str:
    integer, fraction, suffix = match.group(1), match.group(2), match.group(3)
    if (len(integer) > 1 and integer.startswith("0")) or int(integer) >= MAX_CARDINAL:
        words = _digits(integer)  # phone numbers, codes: read digit by digit
    else:
        words = cardinal_words(int(integer))
    if fraction is not None:
        words += " point " + _digits(fraction)
    elif suffix is not None:
        words = _ordinal(words)
    return f" {words} "


def normalize_transcript(text: str) -> str:
    """Bring ``text`` to the recognizer's alphabet (module docstring): lower-case a-z,
    apostrophes inside words, numbers as words, single spaces.

    >>> normalize_transcript("He's got 21 apples & 3rd-place, 'OK'?")
    "he's got twenty one apples and third place ok"
    """
    for quote, plain in QUOTES.items():
        text = text.replace(quote, plain)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower()
    for symbol, words in SYMBOL_WORDS.items():
        text = text.replace(symbol, words)
    text = _THOUSANDS.sub("", text)
    text = _NUMBER.sub(_number_words, text)
    text = _SPLITTERS.sub(" ", text)
    text = _NOT_LABEL.sub(" ", text)
    text = _EDGE_APOSTROPHE.sub("", text)
    return _SPACES.sub(" ", text).strip()
