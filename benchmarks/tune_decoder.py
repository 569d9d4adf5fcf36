"""Tune the beam search (LM weight, word bonus, unknown-word penalty, width) on dev sets.

The recognizer runs once per file (its emissions are kept); every decoder setting then decodes
the same emissions, so a grid of dozens of settings costs little more than one pass. WER is
computed on normalised transcripts, as ``speechpipe evaluate`` does. Use dev splits only.

    .venv/bin/python benchmarks/tune_decoder.py \\
        ../shared/data/speech/speechocean762/manifest.tsv:dev \\
        ../shared/data/speech/fsdd/manifest.tsv:dev --out benchmarks/results/decoder_tuning.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import jiwer
import speech_long
from facespeech.pipelines.manifest import read_manifest
from facespeech.pipelines.speech import transcribe
from facespeech.stages.speech.ctc_decode import BeamSearchDecoder, GreedyCtcDecoder
from facespeech.stages.speech.lm import NgramLM, default_lm_path
from facespeech.stages.speech.text import normalize_transcript
from facespeech.stages.speech.types import Emissions, Transcript

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


class Capture:
    """A decoder stand-in that keeps each segment's emissions (and decodes greedily)."""

    def __init__(self) -> None:
        self.emissions: dict[Path, list[Emissions]] = defaultdict(list)
        self.greedy = GreedyCtcDecoder()

    def __call__(self, emissions: Emissions) -> Transcript:
        self.emissions[emissions.source].append(emissions)
        return self.greedy(emissions)


def score(decoder: Any, files: list[tuple[list[Emissions], str]]) -> tuple[float, float]:
    """(WER, decode seconds) of ``decoder`` over the files' segments."""
    start = time.perf_counter()
    hyps = [" ".join(t for t in (decoder(e).text for e in ems) if t) for ems, _ in files]
    elapsed = time.perf_counter() - start
    refs = [ref for _, ref in files]
    return float(jiwer.wer(refs, hyps)), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+", help="MANIFEST.tsv:dev ...")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--lm", type=Path, default=default_lm_path())
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weights", default="0,0.25,0.5,0.75,1.0,1.5")
    parser.add_argument("--bonuses", default="-1,0,1,2,3")
    parser.add_argument("--penalties", default="5,10")
    parser.add_argument("--char-penalties", default="2", help="unknown-word penalty per letter")
    parser.add_argument("--widths", default="16")
    args = parser.parse_args()

    lm = NgramLM.load(args.lm)
    report: dict[str, Any] = {
        "model": speech_long.repo_relative(str(args.model)),
        "lm": speech_long.repo_relative(str(args.lm)),
        "sets": {},
    }
    for spec in args.manifests:
        rows = read_manifest(spec)
        capture = Capture()
        start = time.perf_counter()
        for result in transcribe([r.path for r in rows], model_path=args.model, decoder=capture):
            if result.error is not None:
                print(f"failed: {result.error}")
        acoustic_s = time.perf_counter() - start
        files = [
            (capture.emissions.get(r.path, []), normalize_transcript(r.transcript)) for r in rows
        ]
        audio_s = sum(r.duration_s or 0.0 for r in rows)
        entries: list[dict[str, Any]] = []
        wer, took = score(GreedyCtcDecoder(), files)
        entries.append({"decoder": "greedy", "wer": wer, "decode_s": took})
        print(f"{spec}: greedy WER {wer:.4f} ({acoustic_s:.1f} s for {audio_s:.0f} s of audio)")
        grid = itertools.product(
            [int(w) for w in args.widths.split(",")],
            [float(w) for w in args.weights.split(",")],
            [float(b) for b in args.bonuses.split(",")],
            [float(p) for p in args.penalties.split(",")],
            [float(p) for p in args.char_penalties.split(",")],
        )
        for width, weight, bonus, penalty, char_penalty in grid:
            decoder = BeamSearchDecoder(
                beam_width=width,
                lm=lm if weight > 0 else None,
                lm_weight=weight,
                word_bonus=bonus,
                unknown_word_penalty=penalty,
                unknown_char_penalty=char_penalty,
            )
            wer, took = score(decoder, files)
            entry = {
                "decoder": "beam",
                "beam_width": width,
                "lm_weight": weight,
                "word_bonus": bonus,
                "unknown_word_penalty": penalty,
                "unknown_char_penalty": char_penalty,
                "wer": wer,
                "decode_s": took,
                "decode_rtf": took / max(audio_s, 1e-9),
            }
            entries.append(entry)
            print(json.dumps(entry))
        if "fsdd" in spec:
            decoder = BeamSearchDecoder(beam_width=16, vocabulary=DIGITS)
            wer, took = score(decoder, files)
            entries.append({"decoder": "beam+digits", "wer": wer, "decode_s": took})
            print(f"{spec}: digit vocabulary WER {wer:.4f}")
        report["sets"][spec] = {"audio_s": audio_s, "recognizer_s": acoustic_s, "runs": entries}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
