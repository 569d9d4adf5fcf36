"""Sentences for the language model from plain text files (``pipelines/lm_text.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from facespeech.pipelines.lm_text import read_lm_text, read_word_frequencies


def test_one_sentence_per_line(tmp_path: Path) -> None:
    text = tmp_path / "lines.txt"
    text.write_text("I wait and wait\nthe cat sat on the mat\n")
    assert list(read_lm_text(str(text))) == [
        ["i", "wait", "and", "wait"],
        ["the", "cat", "sat", "on", "the", "mat"],
    ]


def test_wrapped_paragraphs_are_joined_before_cutting_sentences(tmp_path: Path) -> None:
    text = tmp_path / "book.txt"
    text.write_text(
        '"He did not know what he was talking of, I dare say; ten to one but he\n'
        'was light-headed at the time."  Had he been in his right\n'
        "senses?\n"
        "\n"
        "CHAPTER 2\n"
    )
    assert list(read_lm_text(str(text))) == [
        ["he", "did", "not", "know", "what", "he", "was", "talking", "of", "i", "dare", "say"],
        ["ten", "to", "one", "but", "he", "was", "light", "headed", "at", "the", "time"],
        ["had", "he", "been", "in", "his", "right", "senses"],
        ["chapter", "two"],
    ]


def test_old_hyphenated_compounds_are_joined(tmp_path: Path) -> None:
    text = tmp_path / "novel.txt"
    text.write_text("I shall call To-morrow, not to-day.\nHe wrote to-night; a well-known man.\n")
    assert list(read_lm_text(str(text))) == [
        ["i", "shall", "call", "tomorrow", "not", "today"],
        ["he", "wrote", "tonight"],
        ["a", "well", "known", "man"],
    ]


def test_word_frequencies_are_normalised_and_summed(tmp_path: Path) -> None:
    table = tmp_path / "freq.tsv"
    table.write_text("# word\tfrequency\nThe\t0.05\nthe\t0.01\ncan't\t2e-4\n\n42\t0.1\n--\t0.3\n")
    # "42" is two words once normalised ("forty two") and "--" none: both skipped.
    assert read_word_frequencies(table) == pytest.approx({"the": 0.06, "can't": 2e-4})


@pytest.mark.parametrize("line", ["cat\n", "cat\tmany\n", "cat\t0\n", "cat\t-1\n"])
def test_bad_frequency_line_names_the_file_and_line(tmp_path: Path, line: str) -> None:
    table = tmp_path / "freq.tsv"
    table.write_text("dog\t0.5\n" + line)
    with pytest.raises(ValueError, match=rf"{table}: line 2"):
        read_word_frequencies(table)
