"""Perplexity of ARPA language models on texts (the numbers of stages/speech/models/lm.md).

Each TEXT is what ``speechpipe build-lm`` reads (a plain text file, ``MANIFEST.tsv:split``, a
WordNet folder), normalised as transcripts are. Perplexity is per word, ``</s>`` counted, as
SRILM and KenLM report it; out-of-vocabulary words score as ``<unk>`` (their share is printed).

    .venv/bin/python benchmarks/lm_perplexity.py \\
        --text ../shared/data/speech/speechocean762/manifest.tsv:dev \\
        stages/speech/models/lm.arpa.gz other.arpa.gz
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facespeech.pipelines.lm_text import read_lm_text
from facespeech.stages.speech.lm import NgramLM


def perplexity(lm: NgramLM, sentences: list[list[str]]) -> tuple[float, float]:
    """``(perplexity per word, share of words outside the vocabulary)``."""
    log10_total = sum(lm.sentence_log10_prob(words) for words in sentences)
    n_tokens = sum(len(words) + 1 for words in sentences)
    n_words = sum(len(words) for words in sentences)
    n_oov = sum(word not in lm.vocabulary for words in sentences for word in words)
    return 10.0 ** (-log10_total / n_tokens), n_oov / max(n_words, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="ARPA files (.arpa or .arpa.gz)")
    parser.add_argument("--text", action="append", required=True, help="TEXT (repeatable)")
    args = parser.parse_args()
    texts = {spec: list(read_lm_text(spec)) for spec in args.text}
    print("model\ttext\tsentences\tperplexity\toov")
    for path in args.models:
        lm = NgramLM.load(path)
        for spec, sentences in texts.items():
            ppl, oov = perplexity(lm, sentences)
            print(f"{path}\t{spec}\t{len(sentences)}\t{ppl:.1f}\t{oov:.4f}")


if __name__ == "__main__":
    main()
