"""Does averaging the frame posteriors of several recognizers help? (an experiment on dev sets)

Each model runs once over a manifest's files (emissions kept, as ``tune_decoder.py`` does);
then every model alone and every combination of two or more is decoded greedily and with the
beam search and shipped LM (defaults), and with the digit vocabulary for fsdd sets. The
combination averages the models' frame probabilities (equal weights), which needs models
with the same time subsampling. Use dev splits, or the held-out TTS sets, only.

    .venv/bin/python benchmarks/posterior_average.py \\
        ../shared/data/speech/speechocean762/manifest.tsv:dev stage6.pt stage7.pt

MODEL_CARD.md, "Session 6", has what it gave for the shipped lineage (nothing with the LM).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import jiwer
import numpy as np
from facespeech.pipelines.manifest import read_manifest
from facespeech.pipelines.speech import transcribe
from facespeech.stages.speech.ctc_decode import BeamSearchDecoder, GreedyCtcDecoder
from facespeech.stages.speech.lm import NgramLM, default_lm_path
from facespeech.stages.speech.text import normalize_transcript
from facespeech.stages.speech.types import Emissions
from tune_decoder import DIGITS, Capture

Segments = list[list[Emissions]]  # per file, its segments' emissions


def averaged(per_model: list[Segments]) -> Segments:
    """Frame probabilities averaged over the models, back to log-probabilities."""
    out: Segments = []
    for file_segments in zip(*per_model, strict=True):
        segments = []
        for parts in zip(*file_segments, strict=True):
            probs = np.mean([np.exp(p.log_probs) for p in parts], axis=0)
            log_probs = np.log(np.maximum(probs, 1e-30)).astype(np.float32)
            first = parts[0]
            segments.append(Emissions(first.source, log_probs, first.frame_s, first.offset_s))
        out.append(segments)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", help="MANIFEST.tsv:dev")
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--lm", type=Path, default=default_lm_path())
    args = parser.parse_args()

    rows = read_manifest(args.manifest)
    refs = [normalize_transcript(r.transcript) for r in rows]
    emissions: dict[Path, Segments] = {}
    for model in args.models:
        capture = Capture()
        for result in transcribe([r.path for r in rows], model_path=model, decoder=capture):
            if result.error is not None:
                print(f"failed: {result.error}")
        emissions[model] = [capture.emissions.get(r.path, []) for r in rows]

    decoders = {
        "greedy": GreedyCtcDecoder(),
        "beam + LM": BeamSearchDecoder(lm=NgramLM.load(args.lm)),
    }
    if "fsdd" in args.manifest:
        decoders["vocab"] = BeamSearchDecoder(vocabulary=DIGITS)
    combos = [
        combo
        for k in range(1, len(args.models) + 1)
        for combo in itertools.combinations(args.models, k)
    ]
    for combo in combos:
        files = averaged([emissions[m] for m in combo])
        cells = []
        for name, decoder in decoders.items():
            hyps = [" ".join(t for t in (decoder(e).text for e in segs) if t) for segs in files]
            cells.append(f"{name} {100 * jiwer.wer(refs, hyps):.1f} %")
        print(f"{' + '.join(m.stem for m in combo)}: {', '.join(cells)}", flush=True)


if __name__ == "__main__":
    main()
