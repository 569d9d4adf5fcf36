"""The reference side of benchmarks/speech.py: pocketsphinx 5 with its bundled en-us model.

Runs inside .bench-venv (see benchmarks/Makefile), never in the project's venv; speech.py
calls it in a subprocess and reads JSON back.

Reads a JSON request on stdin, ``{"files": [path, ...], "words": null | [word, ...]}``, and
writes ``{"version": str, "results": [{"path", "text", "decode_s", "cpu_s", "duration_s"}]}``
on stdout. With ``words`` the decoder searches the JSGF grammar ``(w1 | w2 | ...)+`` instead
of the bundled en-us trigram model; the bundled acoustic model and dictionary are used either
way. ``decode_s`` is the ``perf_counter()`` time (``cpu_s`` the ``process_time()``) from
reading the file to the hypothesis; loading the model and one warm-up utterance are excluded.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version
from typing import Any

import numpy as np
import soundfile as sf
from pocketsphinx import Decoder

SAMPLE_RATE_HZ = 16_000
GRAMMAR_NAME = "words"


def jsgf(words: list[str]) -> str:
    """A JSGF grammar accepting one or more of ``words`` (the digit-vocabulary runs)."""
    alternatives = " | ".join(words)
    return f"#JSGF V1.0;\ngrammar {GRAMMAR_NAME};\npublic <utt> = ( {alternatives} )+ ;\n"


def make_decoder(words: list[str] | None) -> Decoder:
    decoder = Decoder(samprate=SAMPLE_RATE_HZ, loglevel="FATAL")
    if words:
        decoder.add_jsgf_string(GRAMMAR_NAME, jsgf(words))
        decoder.activate_search(GRAMMAR_NAME)
    return decoder


def _warm_up(decoder: Decoder) -> None:
    # The first utterance pays for lazy set-up inside pocketsphinx; decode 1 s of zeros first.
    decoder.start_utt()
    decoder.process_raw(np.zeros(SAMPLE_RATE_HZ, dtype=np.int16).tobytes(), full_utt=True)
    decoder.end_utt()


def decode_file(decoder: Decoder, path: str) -> dict[str, Any]:
    start, cpu_start = time.perf_counter(), time.process_time()
    samples, rate_hz = sf.read(path, dtype="int16", always_2d=True)
    # The shared evaluation audio is mono; a stereo file would be averaged here.
    mono = samples.mean(axis=1).astype(np.int16) if samples.shape[1] > 1 else samples[:, 0]
    if rate_hz != SAMPLE_RATE_HZ:
        # The phone set is 8 kHz: resampled as ours resamples it (soxr, high quality), since
        # the bundled en-us model is a 16 kHz one.
        import soxr

        resampled = soxr.resample(mono.astype(np.float32), rate_hz, SAMPLE_RATE_HZ, quality="HQ")
        mono = np.clip(np.round(resampled), -32768, 32767).astype(np.int16)
    decoder.start_utt()
    decoder.process_raw(mono.tobytes(), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    decode_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "path": path,
        "text": hyp.hypstr if hyp is not None else "",
        "decode_s": decode_s,
        "cpu_s": cpu_s,
        "duration_s": len(mono) / SAMPLE_RATE_HZ,
    }


def main() -> int:
    request = json.load(sys.stdin)
    decoder = make_decoder(request.get("words"))
    _warm_up(decoder)
    results = [decode_file(decoder, path) for path in request["files"]]
    json.dump({"version": version("pocketsphinx"), "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
