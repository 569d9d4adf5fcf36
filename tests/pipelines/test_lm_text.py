"""Sentences for the language model from plain text files (``pipelines/lm_text.py``)."""

from __future__ import annotations

from pathlib import Path

from facespeech.pipelines.lm_text import read_lm_text


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
