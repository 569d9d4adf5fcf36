# ruff: noqa: RUF002  (IPA symbols in the docstring are meant)
"""A simulated Mandarin-L1 accent for espeak-ng's English (``speechpipe synth --voices
espeak-accent``): the sentence's phonemes, as ``espeak-ng -x --sep=_`` writes them, rewritten
by the substitutions that descriptions of Mandarin speakers' English list most often, then
spoken back through espeak-ng's phoneme input (``[[...]]``).

Why: speechocean762, the real speech this project trains and is judged on, is English read by
Mandarin speakers; no TTS voice here speaks with their accent, and every synthetic voice of
stages 3-8 reads like a native speaker. The rules (each fires with its own probability, drawn
per simulated speaker by :func:`draw_accent`):

- ``th`` /θ/ -> /s/ (or /f/); ``dh`` /ð/ -> /d/ (or /z/); ``v`` /v/ -> /w/ (or /f/);
- ``lax`` /ɪ/ -> /iː/, /ʊ/ -> /uː/ (the tense-lax contrast merged); ``ae`` /æ/ -> /ɛ/;
- ``ng`` /ŋ/ -> /n/; ``nonrhotic`` post-vocalic r dropped; ``nl`` /n/ -> /l/ (rarely);
- ``schwa_full`` some schwas spoken as a full vowel (syllable-timed rhythm);
- ``final_devoice`` a word's last /d z b g v/ devoiced; ``final_drop`` a last stop after a
  consonant dropped (cluster simplification); ``epenthesis`` a schwa after a final stop.

The phoneme names are espeak-ng's English mnemonics (``T`` = θ, ``D`` = ð, ``I`` = ɪ, ``a`` = æ,
``N`` = ŋ, ``r-`` = post-vocalic r; espeak-ng-data/phsource/ph_english).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ACCENT_RULES = (
    "th", "dh", "v", "lax", "ae", "final_devoice", "epenthesis", "final_drop", "ng",
    "nonrhotic", "nl", "schwa_full",
)  # fmt: skip
SETTING_PREFIX = "accent_"  # the rules' probabilities travel in a job's settings as accent_<rule>
ACCENT_STRENGTH = (0.2, 0.9)  # a speaker's overall strength; each rule 0.3-1.3 times it
PAUSES = frozenset({":", "::", ";"})  # espeak's pause marks between words: left to espeak
VOWELS = frozenset({
    "I", "I2", "I#", "i", "i:", "@", "@2", "V", "a", "a#", "E", "3", "3:", "eI", "O@", "u:",
    "aI", "0", "oU", "@L", "U", "A@", "aU", "o@", "O2", "O:", "e@", "aa", "i@", "i@3", "U@",
    "aI@", "OI", "@-", "aI3", "A:",
})  # fmt: skip
DEVOICED = {"d": "t", "z": "s", "b": "p", "g": "k", "v": "f"}
FINAL_STOPS = frozenset({"t", "d", "k", "p", "t#"})
EPENTHESIS_AFTER = frozenset({"t", "d", "k", "p", "b", "g", "t#"})


def draw_accent(rng: np.random.Generator) -> dict[str, float]:
    """One simulated speaker: ``{"accent_<rule>": probability}`` for every rule."""
    strength = rng.uniform(*ACCENT_STRENGTH)
    return {
        SETTING_PREFIX + rule: float(min(1.0, strength * rng.uniform(0.3, 1.3)))
        for rule in ACCENT_RULES
    }


def _rate(settings: Mapping[str, float], rule: str) -> float:
    return settings.get(SETTING_PREFIX + rule, 0.0)


def _rewrite_phoneme(token: str, p: Mapping[str, float], rng: np.random.Generator) -> str:
    """One phoneme (no stress mark), rewritten by the rules that apply anywhere in a word."""
    chance = rng.random
    if token == "T" and chance() < _rate(p, "th"):
        return "s" if chance() < 0.7 else "f"
    if token == "D" and chance() < _rate(p, "dh"):
        return "d" if chance() < 0.6 else "z"
    if token == "v" and chance() < _rate(p, "v"):
        return "w" if chance() < 0.7 else "f"
    if token in ("I", "I2", "I#") and chance() < _rate(p, "lax"):
        return "i:"
    if token == "U" and chance() < _rate(p, "lax"):
        return "u:"
    if token == "a" and chance() < _rate(p, "ae"):
        return "E"
    if token == "N" and chance() < _rate(p, "ng"):
        return "n"
    if token == "r-" and chance() < _rate(p, "nonrhotic"):
        return ""
    if token in ("@", "@2") and chance() < _rate(p, "schwa_full") * 0.5:
        return "V"
    if token == "n" and chance() < _rate(p, "nl") * 0.15:
        return "l"
    return token


def rewrite_word(word: str, settings: Mapping[str, float], rng: np.random.Generator) -> str:
    """One word of ``espeak-ng -x --sep=_`` output (phonemes joined by ``_``, stress marks
    ``'`` and ``,`` in front of a phoneme) -> its accented phonemes, joined for ``[[...]]``."""
    tokens = [t for t in word.split("_") if t and t not in PAUSES]
    out: list[str] = []
    for i, marked in enumerate(tokens):
        stress = marked[: len(marked) - len(marked.lstrip("',"))]
        token = _rewrite_phoneme(marked[len(stress) :], settings, rng)
        last = i == len(tokens) - 1
        if last and token in DEVOICED and rng.random() < _rate(settings, "final_devoice"):
            token = DEVOICED[token]
        after_consonant = i > 0 and tokens[i - 1].lstrip("',") not in VOWELS
        if (
            last
            and token in FINAL_STOPS
            and after_consonant
            and rng.random() < _rate(settings, "final_drop") * 0.5
        ):
            token = ""
        if token:
            out.append(stress + token)
        if (
            last
            and token in EPENTHESIS_AFTER
            and rng.random() < _rate(settings, "epenthesis") * 0.6
        ):
            out.append("@")
    return "".join(out)


def accented_phoneme_input(
    phonemes: str, settings: Mapping[str, float], rng: np.random.Generator
) -> str:
    """espeak-ng's ``-x --sep=_`` phonemes of a sentence -> phoneme input ``[[...]]`` for
    espeak-ng, rewritten by the rules at the probabilities in ``settings``."""
    words = (rewrite_word(word, settings, rng) for word in phonemes.split())
    return "[[" + " ".join(word for word in words if word) + "]]"
